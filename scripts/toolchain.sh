#!/usr/bin/env bash
# Makes sure this machine can build the worker to wasm, installing what is missing, and
# writes .tools/wasm.env, which `make build` sources before running worker-build.
#
# Detect, don't assume (see README "Toolchain"):
#   1. a rustup toolchain with the wasm32-unknown-unknown std (installed, or added now);
#   2. else Debian's rustc-web + rust-web-src + lld, building std from source (build-std),
#      and rust-web-clippy for the wasm32 clippy of `make lint` (scripts/lint.sh).
# worker-build and wasm-bindgen-cli are installed at pinned versions into .tools/bin;
# wasm-opt and esbuild come from node_modules (package-lock.json).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
WORKER_BUILD_VERSION=0.8.7
WASM_BINDGEN_VERSION=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/"/, "", $3); print $3; exit }' "$root/Cargo.lock")
[ -n "$WASM_BINDGEN_VERSION" ] || { echo "toolchain: no wasm-bindgen in Cargo.lock" >&2; exit 1; }

say() { printf 'toolchain: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else say "need root for: $*"; exit 1; fi; }

command -v cargo >/dev/null || { say "cargo is missing: install Rust with rustup (https://rustup.rs)"; exit 1; }

# 1. A compiler that targets wasm32-unknown-unknown.
mode=
if [ "${WASM_TOOLCHAIN:-}" = debian ]; then
  : # forced: take the Debian path below (used to test it on machines that have both)
elif rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  mode=rustup
elif rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
  mode=rustup
fi
if [ -z "$mode" ]; then
  debian_ready() {
    [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] && [ -e /usr/bin/rust-lld ] \
      && [ -d /usr/lib/rustlib/src/rust/library ] \
      && /usr/bin/rustc --print target-list | grep -qx wasm32-unknown-unknown
  }
  if ! debian_ready; then
    say "rustup has no wasm32 std here; installing Debian's rustc-web, rust-web-src and lld"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    lld=$(apt-cache search --names-only '^lld-[0-9]+$' | awk '{print $1}' | sort -t- -k2 -n | tail -1)
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustc-web cargo-web rust-web-src "${lld:-lld}" >/dev/null
    debian_ready || { say "Debian's rustc-web did not provide a wasm32 toolchain"; exit 1; }
  fi
  mode=debian
  # The wasm32 clippy of `make lint` (scripts/lint.sh) on this path: Debian's clippy of
  # the same version as its rustc-web. The build does not need it, so failing to install
  # it only makes that lint skip (and say why).
  if [ ! -x /usr/bin/cargo-clippy ]; then
    web=$(dpkg-query -W -f='${Version}' rustc-web 2>/dev/null || true)
    ( as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "rust-web-clippy${web:+=$web}" >/dev/null ) \
      || say "rust-web-clippy did not install: make lint will skip the wasm32 clippy"
  fi
  # worker-build checks that the target libdir exists; with build-std it is empty.
  libdir=$(/usr/bin/rustc --target wasm32-unknown-unknown --print target-libdir)
  [ -d "$libdir" ] || as_root mkdir -p "$libdir"
fi

# 2. worker-build and wasm-bindgen-cli at pinned versions (host builds, rustup's cargo).
install_tool() { # crate version binary [cargo install options]
  local crate=$1 version=$2 bin=$3
  shift 3
  if "$tools/bin/$bin" --version 2>/dev/null | grep -q "$version"; then return; fi
  say "installing $crate $version into .tools (a few minutes, once)"
  # Without optimisation: these tools only orchestrate (worker-build) or take a second or
  # two on our module (wasm-bindgen), and an unoptimised build compiles in half the time,
  # which is most of a cold `make test`. (Measured: wasm-bindgen 4.5 -> 2 min to install,
  # +2 s per worker build.) --locked first; the registry may lack a locked version.
  local fast=(env CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_DEBUG=0
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256
    CARGO_PROFILE_RELEASE_STRIP=true)
  "${fast[@]}" cargo install --quiet --locked --root "$tools" "$crate" --version "$version" "$@" 2>/dev/null \
    || "${fast[@]}" cargo install --quiet --root "$tools" "$crate" --version "$version" "$@"
}
install_tool worker-build "$WORKER_BUILD_VERSION" worker-build
# Only the wasm-bindgen binary, without the TLS stack its test runner downloads with.
install_tool wasm-bindgen-cli "$WASM_BINDGEN_VERSION" wasm-bindgen --no-default-features --bin wasm-bindgen

# 3. The environment worker-build runs in.
{
  echo "# written by scripts/toolchain.sh ($mode)"
  if [ "$mode" = debian ]; then
    echo "export PATH=/usr/bin:\$PATH"
    echo "export RUSTC_BOOTSTRAP=1"
    echo "export CARGO_UNSTABLE_BUILD_STD=std,panic_abort"
  fi
  echo "export WASM_BINDGEN_BIN=$tools/bin/wasm-bindgen"
  echo "export WASM_OPT_BIN=$root/node_modules/.bin/wasm-opt"
  echo "export ESBUILD_BIN=$root/node_modules/.bin/esbuild"
} > "$tools/wasm.env.tmp"
mv "$tools/wasm.env.tmp" "$tools/wasm.env"
say "ready ($mode; worker-build $WORKER_BUILD_VERSION, wasm-bindgen $WASM_BINDGEN_VERSION)"

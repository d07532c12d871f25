#!/usr/bin/env bash
# The lints (`make lint`; `make test` runs them right after the builds): both Cargo.lock
# files complete (so a clean machine builds what was tested), rustfmt, clippy
# natively over every target, clippy for wasm32 over the library (src/edge exists only
# there). Warnings are errors. Every step runs even when an earlier one fails; the exit
# status is 1 if any did.
#
# The wasm32 clippy needs a compiler with the wasm32 std and a clippy of that same
# compiler. Which one, in this order (see README "Toolchain"):
#   1. a rustup toolchain with the wasm32-unknown-unknown target and clippy: the active
#      one, else any installed one. .tools/wasm.env is not needed (it only matters to
#      worker-build), so this holds even on a machine whose build takes the Debian path.
#   2. Debian's rustc-web, as scripts/toolchain.sh sets it up (.tools/wasm.env: build-std,
#      /usr/bin first), with its clippy from rust-web-clippy at the same version
#      (toolchain.sh installs it). WASM_TOOLCHAIN=debian forces this path, as it does
#      for toolchain.sh.
#   3. neither: the wasm32 clippy is skipped with a message saying why and what to
#      install; the native lints still run and decide the exit status.
set -uo pipefail
cd "$(dirname "$0")/.."

say() { printf 'lint: %s\n' "$*" >&2; }
failed=()
step() { # name command...
  local name=$1
  shift
  say "$name"
  "$@" || failed+=("$name")
}

wasm_args=(--lib --release --target wasm32-unknown-unknown -- -D warnings)

# A rustup toolchain with the wasm32 std and clippy: "" for the active one, else its name.
rustup_wasm_toolchain() {
  command -v rustup >/dev/null || return 1
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
    && cargo clippy --version >/dev/null 2>&1; then
    echo ""
    return 0
  fi
  local toolchain
  for toolchain in $(rustup toolchain list 2>/dev/null | awk '{print $1}'); do
    if rustup target list --toolchain "$toolchain" --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
      && rustup component list --toolchain "$toolchain" --installed 2>/dev/null | grep -q '^clippy'; then
      echo "$toolchain"
      return 0
    fi
  done
  return 1
}

# Why Debian's wasm32 toolchain cannot run clippy here; nothing when it can.
debian_clippy_missing() {
  if ! grep -q '(debian)' .tools/wasm.env 2>/dev/null; then
    echo "no wasm32 toolchain is set up (.tools/wasm.env is missing or not Debian's): run make toolchain"
  elif [ ! -x /usr/bin/cargo-clippy ] || [ ! -x /usr/bin/clippy-driver ]; then
    echo "Debian's rustc-web has no clippy here: apt-get install rust-web-clippy=$(dpkg-query -W -f='${Version}' rustc-web 2>/dev/null)"
  else
    local rustc clippy
    rustc=$(/usr/bin/rustc --version 2>/dev/null)
    clippy=$(/usr/bin/clippy-driver --rustc --version 2>/dev/null)
    if [ "$rustc" != "$clippy" ]; then
      echo "Debian's clippy is built with ${clippy:-an unknown rustc}, its rustc is ${rustc:-missing}: install the rust-web-clippy of the installed rustc-web"
    fi
  fi
}

wasm_clippy() {
  local toolchain why
  if [ "${WASM_TOOLCHAIN:-}" != debian ] && toolchain=$(rustup_wasm_toolchain); then
    say "wasm32 clippy with rustup's ${toolchain:-active} toolchain"
    cargo ${toolchain:+"+$toolchain"} clippy "${wasm_args[@]}"
    return
  fi
  why=$(debian_clippy_missing)
  if [ -n "$why" ]; then
    say "SKIPPED the wasm32 clippy: $why" \
      "(or: rustup target add wasm32-unknown-unknown). The native lints still count."
    return 0
  fi
  say "wasm32 clippy with Debian's $(/usr/bin/rustc --version) (build-std)"
  # cargo-clippy of the same Debian release, called directly so that no rustup proxy in
  # ~/.cargo/bin stands in for it; CARGO makes it drive Debian's cargo.
  (
    set -e
    # shellcheck source=/dev/null
    source .tools/wasm.env
    CARGO=/usr/bin/cargo /usr/bin/cargo-clippy clippy "${wasm_args[@]}"
  )
}

# Both lock files must pin everything: a resolve on a clean machine would otherwise take
# whatever crates.io has that day (the fuzz crate's lock once lagged the library's).
locked() { # manifest...
  local manifest
  for manifest in "$@"; do
    cargo metadata --locked --format-version 1 --manifest-path "$manifest" >/dev/null || return 1
  done
}

step "Cargo.lock and fuzz/Cargo.lock complete (--locked)" locked Cargo.toml fuzz/Cargo.toml
step "cargo fmt --check" cargo fmt --check
step "cargo clippy --all-targets (native)" cargo clippy --all-targets -- -D warnings
step "cargo clippy --lib --target wasm32-unknown-unknown" wasm_clippy

if [ ${#failed[@]} -gt 0 ]; then
  say "FAILED: $(IFS=';'; echo "${failed[*]}")"
  exit 1
fi
say "ok"

#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS each over its kept corpus (fuzz/corpus/).
#   scripts/fuzz.sh            FUZZ_SECONDS=60 by default, AddressSanitizer (make fuzz)
#   scripts/fuzz.sh --smoke    a few seconds each, no sanitizer: the smoke run of make test
#   FUZZ_TARGETS="template tokens" scripts/fuzz.sh    only these targets
# New corpus entries found on the way are kept (not by the smoke run); a crash fails the run and leaves its input
# in fuzz/artifacts/<target>/ (fix it, add a regression test, keep the input in fuzz/regressions/<target>/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools="$root/.tools"
export PATH="$tools/bin:$PATH"
smoke=false
[ "${1:-}" = --smoke ] && smoke=true
seconds=${FUZZ_SECONDS:-$($smoke && echo 4 || echo 60)}

if ! cargo fuzz --version 2>/dev/null | grep -q "0.13.2"; then
  echo "fuzz: installing cargo-fuzz 0.13.2 into .tools (once)" >&2
  # Unoptimised, like the tools of scripts/toolchain.sh: it only drives cargo and libFuzzer.
  env CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_LTO=false \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 \
    cargo install --quiet --locked --root "$tools" cargo-fuzz --version 0.13.2
fi
# cargo-fuzz wants nightly for sanitizers; the smoke run needs none, so stable (with
# RUSTC_BOOTSTRAP for the few unstable flags cargo-fuzz passes) does when nightly is absent.
if cargo +nightly --version >/dev/null 2>&1; then
  toolchain=(+nightly)
else
  toolchain=()
  export RUSTC_BOOTSTRAP=1
  smoke=true
fi
sanitizer=()
profile=(-O)
# The smoke run builds unoptimised (half the build time; overflow checks on) and without a
# sanitizer: it proves every target runs and its corpus still passes.
$smoke && sanitizer=(--sanitizer none) && profile=(--dev)

# New inputs go to the first corpus directory: the kept one for `make fuzz`, a scratch one
# for the smoke run, so that `make test` leaves the working tree as it was.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

targets=${FUZZ_TARGETS:-$(cargo "${toolchain[@]}" fuzz list)}
cargo "${toolchain[@]}" fuzz build "${profile[@]}" "${sanitizer[@]}" >&2
for target in $targets; do
  mkdir -p "fuzz/corpus/$target"
  echo "fuzz: $target for ${seconds}s" >&2
  dirs=("fuzz/corpus/$target")
  $smoke && dirs=("$scratch" "fuzz/corpus/$target")
  cargo "${toolchain[@]}" fuzz run "${profile[@]}" "${sanitizer[@]}" "$target" "${dirs[@]}" -- \
    -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 2>&1 \
    | grep -E "stat::number_of_executed_units|stat::new_units_added|SUMMARY|panicked|ERROR" >&2 || true
  if [ -n "$(ls -A "fuzz/artifacts/$target" 2>/dev/null)" ]; then
    echo "fuzz: $target crashed; inputs in fuzz/artifacts/$target" >&2
    exit 1
  fi
done

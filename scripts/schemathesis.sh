#!/usr/bin/env bash
# Installs the pinned Schemathesis (tests/contract/requirements.txt) into .tools/venv for the
# contract test (tests/e2e/contract.test.mjs), unless that exact set is already there.
#
# Detect, don't assume: python3 from Debian if it is missing; a venv, and when the venv
# module cannot make one (Debian ships ensurepip apart, in python3-venv) that package from
# Debian. Idempotent: a stamp in the venv records the requirements and the interpreter it
# was made from; a change of either remakes the venv. PYTHON=… picks another interpreter.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
requirements="$root/tests/contract/requirements.txt"
venv="$root/.tools/venv"
stamp="$venv/.installed"
python=${PYTHON:-python3}

say() { printf 'schemathesis: %s\n' "$*" >&2; }

command -v "$python" >/dev/null 2>&1 || "$root/scripts/need.sh" python3:python3
command -v "$python" >/dev/null 2>&1 || { say "no $python"; exit 1; }

# What the venv must have been made from: the requirements and the interpreter's version.
want=$({ cat "$requirements"; "$python" -c 'import sys; print("python", sys.version.split()[0], sys.executable)'; } | sha256sum | cut -c1-64)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/schemathesis" ] && "$venv/bin/python" -c '' 2>/dev/null; then
  exit 0
fi

make_venv() { rm -rf "$venv" && "$python" -m venv "$venv" >/dev/null 2>&1 && "$venv/bin/python" -m pip --version >/dev/null 2>&1; }
if ! make_venv; then
  # Debian's python3 without python3-venv: "ensurepip is not available".
  minor=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  say "python $minor cannot make a venv here; installing Debian's python3-venv"
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else say "need root for: $*"; exit 1; fi; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # python3-venv pulls the venv of Debian's default python3; python3.X-venv names ours.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  if ! make_venv; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$minor-venv" >/dev/null || true
    make_venv || { say "could not make a venv with $python ($minor)"; exit 1; }
  fi
fi

say "installing $(grep -m1 '^schemathesis==' "$requirements") and its pinned dependencies into .tools/venv (once)"
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -r "$requirements"
"$venv/bin/python" -m pip check >/dev/null || { "$venv/bin/python" -m pip check >&2; exit 1; }
"$venv/bin/schemathesis" --version >&2
echo "$want" > "$stamp"

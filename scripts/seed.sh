#!/usr/bin/env bash
# Seeds local KV for `wrangler dev`: one compiled snapshot per handle directory under
# rules/ (key snapshot:<handle>) and the CC0 country MaxMind DB (key geo:mmdb).
# Usage: scripts/seed.sh [persist-dir]   (default: wrangler's own .wrangler/state)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
persist=${1:-.wrangler/state}
router=${ROUTER_BIN:-target/debug/router}
wrangler=node_modules/.bin/wrangler
mmdb=node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb
export WRANGLER_SEND_METRICS=false
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
put() { "$wrangler" kv key put --local --persist-to "$persist" --binding CONFIG "$1" --path "$2" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }; }
for dir in rules/*/; do
  handle=$(basename "$dir")
  "$router" snapshot "$dir" -o "$work/$handle.json"
  put "snapshot:$handle" "$work/$handle.json"
  echo "seeded snapshot:$handle from $dir" >&2
done
put geo:mmdb "$mmdb"
echo "seeded geo:mmdb ($(wc -c < "$mmdb") bytes) into $persist" >&2

#!/usr/bin/env bash
# Seeds local KV and D1 for `wrangler dev`: one compiled snapshot per handle directory
# under rules/ (KV key snapshot:<handle>), the CC0 country MaxMind DB (KV key geo:mmdb),
# the D1 migrations, and a development PAT (admin on every handle under rules/), written
# once to .dev/pat-<handle> and stored in D1 only as its SHA-256.
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
  "$router" snapshot "$dir" --edge-form -o "$work/$handle.snapshot"
  put "snapshot:$handle" "$work/$handle.snapshot"
  echo "seeded snapshot:$handle from $dir" >&2
done
put geo:mmdb "$mmdb"
echo "seeded geo:mmdb ($(wc -c < "$mmdb") bytes) into $persist" >&2

"$wrangler" d1 migrations apply DB --local --persist-to "$persist" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
mkdir -p .dev
for dir in rules/*/; do
  handle=$(basename "$dir")
  pat_file=".dev/pat-$handle"
  if [ ! -s "$pat_file" ]; then
    "$router" --json pat --handle "$handle" --scopes admin --sub developer \
      | sed -n 's/.*"token":"\([^"]*\)".*/\1/p' > "$pat_file"
    chmod 600 "$pat_file"
  fi
  token=$(cat "$pat_file")
  hash=$(printf %s "$token" | sha256sum | cut -c1-64)
  printf "INSERT OR REPLACE INTO api_tokens (hash, handle, scopes, sub, expires_at, revoked, created_at) VALUES ('%s', '%s', 'admin', 'developer', NULL, 0, '%s');\n" \
    "$hash" "$handle" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$work/pat.sql"
  "$wrangler" d1 execute DB --local --persist-to "$persist" --file "$work/pat.sql" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  echo "development PAT for $handle (admin scope): cat .dev/pat-$handle" >&2
done

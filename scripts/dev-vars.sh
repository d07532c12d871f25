#!/usr/bin/env bash
# Writes .dev.vars for `wrangler dev` with fresh random secrets, once. Local development
# only: production secrets are set with `wrangler secret put`, never kept in the repo.
set -euo pipefail
out=${1:-.dev.vars}
[ -e "$out" ] && exit 0
secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
cat > "$out" <<VARS
# Local development only (written by \`make dev\`; git-ignored). Delete it to rotate.
TOKEN_SECRET=$(secret)
JWT_SECRET=$(secret)
GEO_ORDER=mmdb,cf
TRUST_FORWARDED_IP=true
SNAPSHOT_TTL_SECONDS=5
VARS
chmod 600 "$out"
echo "wrote $out with fresh secrets" >&2

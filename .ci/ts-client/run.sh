#!/usr/bin/env bash
# Starts the given tailops binary on a loopback port, mints tokens, and runs
# client.mjs (official MCP TypeScript SDK) against it.
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
state=$(mktemp -d)
port=$(( 20000 + RANDOM % 20000 ))
"$bin" serve --listen "127.0.0.1:$port" --state-dir "$state" --log-level warn 2>"$state/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
ro=$("$bin" token mint --state-dir "$state" --agent ts-readonly --scopes readonly --ttl 10m)
narrow=$("$bin" token mint --state-dir "$state" --agent ts-narrow --scopes network:read --ttl 10m)
node client.mjs "http://127.0.0.1:$port/mcp" "$ro" "$narrow" || { cat "$state/server.log"; exit 1; }
"$bin" audit verify "$state/audit/audit.log"

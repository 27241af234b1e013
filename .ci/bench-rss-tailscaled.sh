#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Idle RSS of `tailops serve` side by side with a bare tailscaled (issue
# 19: the ops server should cost no more than the network daemon it
# replaces). Builds tailscaled from the tailscale.com version in go.mod
# (default build) and tailops with the release's Tailscale tags, or
# measures the binaries named by TAILOPS_BIN / TAILSCALED_BIN. tailscaled
# runs in a network namespace of its own with only loopback
# (userspace networking, never logged in, --no-logs-no-support): it
# contacts nothing. Each binary is dropped from the page cache before
# it starts (as BenchmarkIdleRSS does), then read after 3 s idle:
# VmRSS, RssAnon and RssFile in MB (10^6 bytes). Needs root (ip netns).
# Usage: bash .ci/bench-rss-tailscaled.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
work=$(mktemp -d)
ns=tailops-rss-$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
tailops=${TAILOPS_BIN:-$work/tailops}
tailscaled=${TAILSCALED_BIN:-$work/tailscaled}
[ -n "${TAILOPS_BIN:-}" ] || go build -tags "$(bash .ci/ts-tags.sh)" -o "$tailops" .
[ -n "${TAILSCALED_BIN:-}" ] || go build -o "$tailscaled" tailscale.com/cmd/tailscaled
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
drop() { python3 -c 'import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); os.fdatasync(fd); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)' "$1"; }
mem() { awk '/^VmRSS|^RssAnon|^RssFile/ {printf "%s %.1f  ", $1, $2*1024/1e6} END {print ""}' "/proc/$1/status"; }
for i in $(seq "$rounds"); do
  d=$work/tsd-$i; mkdir -p "$d"; drop "$tailscaled"
  ip netns exec "$ns" "$tailscaled" --tun=userspace-networking --statedir="$d" --socket="$d/sock" --port=0 \
    --no-logs-no-support >"$d/log" 2>&1 &
  pid=$!; sleep 3; echo "tailscaled    $(mem $pid)"; kill "$pid"; wait "$pid" || true
  d=$work/tailops-$i; mkdir -p "$d"; drop "$tailops"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$tailops" serve --listen "127.0.0.1:$port" --state-dir "$d" --sandbox best-effort 2>"$d.log" &
  pid=$!; sleep 3; echo "tailops serve $(mem $pid)"; kill "$pid"; wait "$pid" || true
done

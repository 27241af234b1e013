#!/usr/bin/env bash
# Runs every fuzz target of the module for a short budget each: the seeds
# (testdata/fuzz) already run with every `go test`; this searches beyond
# them. FUZZ_EXECS is the number of inputs per target (default 500 in CI;
# count-based, because Go's time-based -fuzztime can end a loaded run with
# "context deadline exceeded"). For a long search of one target:
#   go test -run '^$' -fuzz '^FuzzVerify$' -fuzztime 30m ./audit
# A failing input is written to the package's testdata/fuzz: commit it as
# a seed once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
execs="${FUZZ_EXECS:-500}"
tags=$(bash .ci/ts-tags.sh) # as every build (tailscale.tags)
fail=0
while read -r pkg; do
  for target in $(go test -tags "$tags" -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "== fuzz $pkg $target ($execs inputs)"
    if ! go test -tags "$tags" -run '^$' -fuzz "^${target}\$" -fuzztime "${execs}x" -parallel 1 "$pkg" >/tmp/fuzz.$$.log 2>&1; then
      tail -20 /tmp/fuzz.$$.log
      fail=1
    fi
  done
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u | sed 's|^\.|github.com/tailops/tailops|')
rm -f /tmp/fuzz.$$.log
exit $fail

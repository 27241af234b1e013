#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Checks the code with govulncheck (golang.org/x/vuln, pinned below)
# against the Go vulnerability database, and fails on every vulnerability
# the code reaches, except those listed with their reason in
# .ci/govulncheck-accepted.txt, which it prints on every run.
#
# vuln.go.dev cannot be reached from CI (only the Go module proxy, Debian
# and npm can), but the database's source is a Go module: golang.org/x/vulndb
# holds every entry as OSV JSON (data/osv) and the command that indexes
# them into the v1 database govulncheck reads (cmd/indexdb: db.json,
# modules.json, vulns.json, ID/*.json). Both are pinned here (the module by
# its go.sum hash too), so the database is the same on every run: indexdb
# output depends only on the entries. It is built once per version and
# cached under $TMPDIR (about 40 MB, 4789 entries): not in the repository.
# To take newer entries, set VULNDB to a newer pseudo-version of
# golang.org/x/vulndb (`go list -m golang.org/x/vulndb@latest` names the
# newest) and VULNDB_SUM to its hash (`go mod download -json
# golang.org/x/vulndb@VERSION`).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go > /dev/null || export PATH=$PATH:/usr/local/go/bin
# The standard library checked is that of go.mod's Go release, the one the
# release is built with (govulncheck asks `go env GOVERSION`).
GOTOOLCHAIN=$(bash .ci/go-toolchain.sh)
export GOTOOLCHAIN

VULN=v1.9.0
VULNDB=v0.0.0-20261105234957-e22db6528018
VULNDB_SUM=h1:mfngRv0Yoh0VApsXKEN82CjD99kl7mtparN3bs3JnqI=
accepted_file=.ci/govulncheck-accepted.txt

db=${TMPDIR:-/tmp}/tailops-vulndb/$VULNDB
if [ ! -s "$db/index/db.json" ]; then
  info=$(go mod download -json "golang.org/x/vulndb@$VULNDB")
  sum=$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",*$/\1/p' <<< "$info")
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<< "$info")
  if [ "$sum" != "$VULNDB_SUM" ]; then
    echo "vulncheck: golang.org/x/vulndb@$VULNDB has hash '$sum', want $VULNDB_SUM" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$db")"
  tmp=$(mktemp -d "$db.XXXXXX")
  go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB" -vulns "$dir/data/osv" -out "$tmp"
  rm -rf "$db"
  mv "$tmp" "$db"
fi
echo "vulncheck: database golang.org/x/vulndb@$VULNDB ($(find "$db/ID" -name '*.json' | wc -l) entries), govulncheck $VULN"

# Installed, not `go run`: go run turns govulncheck's exit status 3
# ("vulnerabilities found") into 1, like any failure.
bin=${TMPDIR:-/tmp}/tailops-vulndb/govulncheck-$VULN
[ -x "$bin/govulncheck" ] || GOBIN=$bin go install "golang.org/x/vuln/cmd/govulncheck@$VULN"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
code=0
# The code as built: with the Tailscale feature tags every build uses.
"$bin/govulncheck" -db "file://$db" -tags "$(bash .ci/ts-tags.sh)" ./... > "$out" 2>&1 || code=$?
# 0: nothing reached; 3: vulnerabilities reached; anything else: it failed.
if [ "$code" != 0 ] && [ "$code" != 3 ]; then
  cat "$out" >&2
  echo "vulncheck: govulncheck failed (exit $code)" >&2
  exit 1
fi
mapfile -t found < <(sed -n 's/^Vulnerability #[0-9]*: \(GO-[0-9]*-[0-9]*\)$/\1/p' "$out" | sort -u)
if [ "$code" = 3 ] && [ ${#found[@]} -eq 0 ]; then
  cat "$out" >&2
  echo "vulncheck: govulncheck reports vulnerabilities, but none could be read from its output" >&2
  exit 1
fi

new=()
for id in "${found[@]}"; do
  reason=$(sed -n "s/^${id}[[:space:]]\{1,\}//p" "$accepted_file")
  if [ -n "$reason" ]; then
    echo "vulncheck: WARNING: accepted, not fixed: $id: $reason"
  else
    new+=("$id")
  fi
done
while read -r id _; do
  case " ${found[*]} " in
  *" $id "*) ;;
  *) echo "vulncheck: $id is accepted in $accepted_file but no longer reported: remove its line" ;;
  esac
done < <(grep -v '^#' "$accepted_file" | grep -v '^[[:space:]]*$')

if [ ${#new[@]} -gt 0 ]; then
  cat "$out"
  echo "vulncheck: FAILED: the code reaches ${#new[@]} vulnerabilities: ${new[*]}; update the module (or Go), or, if no fix exists, list it with the reason in $accepted_file" >&2
  exit 1
fi
echo "vulncheck: ok: no vulnerability reached beyond the ${#found[@]} accepted ones"

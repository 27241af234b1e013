#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Checks the flake as far as a machine without nixpkgs can:
#   1. every .nix file parses (nix-instantiate --parse), and every NixOS
#      option the modules and VM tests set is in nix/tests/nixos-options.txt
#      (nix/tests/options-check.nix), which names its module in the pinned
#      release;
#   2. vendorHash in nix/package.nix is the NAR hash of a fresh
#      `go mod vendor` (so go.mod/go.sum or import changes without a hash
#      update fail here, not later in a Nix build);
#   3. flake.lock pins nixpkgs on a NixOS release branch by rev and narHash,
#      and its inputs are exactly flake.nix's;
#   4. nix/package.nix's Tailscale feature tags are tailscale.tags', the
#      same as the Makefile's (.ci/ts-tags.sh), and its GOEXPERIMENT the
#      Makefile's GO_EXPERIMENT;
#   5. the shell scripts pass shellcheck (writeShellApplication in the VM
#      test runs it too, and fails the build on a warning).
# Installs what it needs on a fresh Debian machine (nix-bin, jq, shellcheck).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

need=()
for pkg in nix-bin jq shellcheck git; do
  dpkg -s "$pkg" > /dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" > /dev/null
fi
command -v go > /dev/null || export PATH=$PATH:/usr/local/go/bin
nix --version

fail=0
bad() {
  echo "FAIL: $*" >&2
  fail=1
}

listed() { # files matching the pathspecs, tracked or new, that exist
  if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard -- "$@" |
      while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\n' "$f"; done
  else
    for p in "$@"; do find . -path "./$p" -o -name "$p" | sed 's|^\./||'; done
  fi
}

echo "== nix: every .nix file parses"
mapfile -t nixfiles < <(listed '*.nix' | sort)
[ ${#nixfiles[@]} -gt 0 ] || bad "no .nix files found"
for f in "${nixfiles[@]}"; do
  if nix-instantiate --parse "$f" > /dev/null; then
    echo "ok  $f"
  else
    bad "$f does not parse"
  fi
done

echo "== nix: every NixOS option the modules set is in nix/tests/nixos-options.txt"
# The list names each option's module in the pinned release; no stale entries.
opts=$(nix-instantiate --eval --strict --json nix/tests/options-check.nix)
echo "$opts" | jq -c .
jq -e '.unknown == [] and .unused == [] and .checked > 0' <<< "$opts" > /dev/null ||
  bad "options not in nix/tests/nixos-options.txt (unknown) or listed but unset (unused): $opts"

# The appliance's nightly upgrade follows the same release branch.
nixpkgs_url=$(jq -r .nixpkgs <<< "$(nix-instantiate --eval --strict --json -E \
  'builtins.mapAttrs (n: v: v.url or null) (import ./flake.nix).inputs')")
grep -qF "\"$nixpkgs_url\"" nix/appliance.nix ||
  bad "nix/appliance.nix's upgrade does not override nixpkgs with flake.nix's $nixpkgs_url"

echo "== nix: vendorHash matches go mod vendor"
bash nix/update-vendor-hash.sh --check || bad "vendorHash is stale"

echo "== nix: every file the code embeds is in nix/package.nix's source"
# The source fileset takes .go files, go.mod and go.sum; a //go:embed
# pattern outside them must be listed, or the Nix build fails to compile.
while IFS= read -r embed; do
  file=${embed%%:*}
  for pat in ${embed#*//go:embed }; do
    path=$(dirname "$file")/$pat
    grep -qF "../${path#./}" nix/package.nix ||
      bad "$file embeds $pat: add ../${path#./} to nix/package.nix's fileset"
  done
done < <(grep -rn --include='*.go' --exclude='*_test.go' --exclude-dir=vendor --exclude-dir=node_modules '^//go:embed ' . |
  sed -E 's/^([^:]+):[0-9]+:/\1:/')
echo "ok"

echo "== nix: flake.lock pins nixpkgs by rev and narHash"
# flake.nix's inputs, evaluated without nixpkgs (outputs is never called).
inputs=$(nix-instantiate --eval --strict --json -E \
  'builtins.mapAttrs (n: v: v.url or null) (import ./flake.nix).inputs')
echo "flake.nix inputs: $inputs"
want_inputs=$(jq -c 'keys' <<< "$inputs")
lock_inputs=$(jq -c '.nodes[.root].inputs | keys' flake.lock)
[ "$want_inputs" = "$lock_inputs" ] ||
  bad "flake.lock's root inputs $lock_inputs differ from flake.nix's $want_inputs"
[ "$want_inputs" = '["nixpkgs"]' ] || bad "nixpkgs must be the only input, got $want_inputs"
extra=$(jq -c '[.nodes | keys[] | select(. != "root" and . != "nixpkgs")]' flake.lock)
[ "$extra" = "[]" ] || bad "flake.lock has nodes besides root and nixpkgs: $extra"
jq -e '.version == 7' flake.lock > /dev/null || bad "flake.lock version is not 7"

url=$(jq -r '.nixpkgs' <<< "$inputs")
if [[ $url =~ ^github:NixOS/nixpkgs/(nixos-[0-9]{2}\.(05|11))$ ]]; then
  branch=${BASH_REMATCH[1]}
else
  bad "nixpkgs url $url is not github:NixOS/nixpkgs/nixos-YY.MM (a release branch)"
  branch=
fi
node=$(jq -c --arg n "$(jq -r '.nodes[.root].inputs.nixpkgs' flake.lock)" '.nodes[$n]' flake.lock)
jq -e --arg b "$branch" \
  '.original == {type: "github", owner: "NixOS", repo: "nixpkgs", ref: $b}' <<< "$node" > /dev/null ||
  bad "flake.lock's nixpkgs original $(jq -c .original <<< "$node") is not flake.nix's $url"
jq -e '.locked | .type == "github" and .owner == "NixOS" and .repo == "nixpkgs"
    and (.rev | test("^[0-9a-f]{40}$"))
    and (.narHash | test("^sha256-[A-Za-z0-9+/]{43}=$"))
    and (.lastModified | type == "number")' <<< "$node" > /dev/null ||
  bad "flake.lock's nixpkgs is not locked by a 40-hex rev and a sha256 narHash: $(jq -c .locked <<< "$node")"
jq -e '.locked | has("ref") | not' <<< "$node" > /dev/null || bad "flake.lock's nixpkgs lock carries a ref"
echo "nixpkgs $branch at $(jq -r '.locked.rev' <<< "$node") $(jq -r '.locked.narHash' <<< "$node")"

echo "== nix: the Tailscale feature tags are tailscale.tags', as the Makefile's"
nix_tags=$(nix-instantiate --eval --strict --json nix/tailscale-tags.nix | jq -r 'join(",")')
make_tags=$(bash .ci/ts-tags.sh)
[ "$nix_tags" = "$make_tags" ] ||
  bad "nix/tailscale-tags.nix gives $nix_tags, .ci/ts-tags.sh (the Makefile's) $make_tags"
grep -q '++ import ./tailscale-tags.nix;' nix/package.nix ||
  bad "nix/package.nix does not add nix/tailscale-tags.nix to its tags"
echo "ok  $(tr ',' '\n' <<< "$nix_tags" | wc -l) tags"

echo "== nix: GOEXPERIMENT is the Makefile's"
make_exp=$(bash .ci/goexperiment.sh)
grep -qx "  env.GOEXPERIMENT = \"$make_exp\";" nix/package.nix ||
  bad "nix/package.nix does not set env.GOEXPERIMENT = \"$make_exp\" (the Makefile's GO_EXPERIMENT)"
echo "ok  GOEXPERIMENT=$make_exp"

echo "== shellcheck"
mapfile -t scripts < <(listed 'nix/*.sh' 'nix/tests/*.sh' .ci/repro.sh .ci/nix-check.sh .ci/newcomer.sh .ci/vulncheck.sh .ci/readme-command.sh .ci/go-toolchain.sh .ci/ts-tags.sh .ci/goexperiment.sh | sort)
if shellcheck "${scripts[@]}"; then
  echo "ok  ${scripts[*]}"
else
  bad "shellcheck"
fi

if [ "$fail" != 0 ]; then
  echo "nix-check: FAILED" >&2
  exit 1
fi
echo "nix-check: ${#nixfiles[@]} .nix files parse, vendorHash current, nixpkgs pinned"

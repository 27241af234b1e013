#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# vendorHash in nix/package.nix is the hash nixpkgs' buildGoModule checks
# its fixed-output `goModules` derivation against: the NAR hash (SRI sha256)
# of the directory `go mod vendor` makes from the flake's source (go.mod,
# go.sum and every .go file). This script computes it the same way, without
# nixpkgs: `go mod vendor` in a temporary copy, then `nix hash path`.
#
#   nix/update-vendor-hash.sh          rewrite vendorHash if it changed
#   nix/update-vendor-hash.sh --check  exit 1 if vendorHash is stale
#   nix/update-vendor-hash.sh --print  print the hash only
#
# Needs go (it runs go.mod's Go release, .ci/go-toolchain.sh, which an
# older go fetches), nix-bin (Debian's Nix 2.8 is enough) and the module
# proxy or a module cache holding go.sum's modules and that toolchain.
set -euo pipefail

mode=update
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  --print) mode=print ;;
  *)
    echo "usage: $0 [--check|--print]" >&2
    exit 2
    ;;
esac

cd "$(dirname "$0")/.."
pkg=nix/package.nix
command -v go > /dev/null || export PATH=$PATH:/usr/local/go/bin
toolchain=$(bash .ci/go-toolchain.sh)
if ! command -v nix > /dev/null; then
  echo "$0: nix is missing (apt-get install nix-bin)" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The flake's source fileset (nix/package.nix): go.mod, go.sum and all .go
# files. In a git checkout: tracked and untracked-but-not-ignored files, as
# they would be committed; elsewhere every .go file under the root.
mkdir "$tmp/src"
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard -- go.mod go.sum '*.go' |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$tmp/src"
else
  find . -path ./vendor -prune -o \( -name '*.go' -o -path ./go.mod -o -path ./go.sum \) -type f -print0 |
    tar --null -T - -cf - | tar -xf - -C "$tmp/src"
fi

(cd "$tmp/src" && env GOFLAGS= GOWORK=off GOTOOLCHAIN="$toolchain" go mod vendor)
hash=$(nix --extra-experimental-features nix-command hash path --type sha256 "$tmp/src/vendor")
if ! [[ $hash =~ ^sha256-[A-Za-z0-9+/]{43}=$ ]]; then
  echo "$0: unexpected hash from nix hash path: $hash" >&2
  exit 1
fi

current=$(sed -n 's/^ *vendorHash = "\(.*\)";$/\1/p' "$pkg")
if [ "$(printf '%s\n' "$current" | grep -c .)" != 1 ]; then
  echo "$0: $pkg must have exactly one line: vendorHash = \"sha256-...\";" >&2
  exit 1
fi

case $mode in
  print)
    echo "$hash"
    ;;
  check)
    if [ "$current" != "$hash" ]; then
      echo "$0: vendorHash in $pkg is stale:" >&2
      echo "  $pkg: $current" >&2
      echo "  go mod vendor:  $hash" >&2
      echo "Run nix/update-vendor-hash.sh (or make vendor-hash) and commit $pkg." >&2
      exit 1
    fi
    echo "vendorHash $hash matches go mod vendor"
    ;;
  update)
    if [ "$current" = "$hash" ]; then
      echo "vendorHash $hash is current"
    else
      sed -i "s|^\( *vendorHash = \"\).*\(\";\)$|\1$hash\2|" "$pkg"
      echo "vendorHash: $current -> $hash"
    fi
    ;;
esac

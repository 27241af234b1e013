#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Builds the release (make release: static binary, SBOM, SHA256SUMS) twice,
# from two copies of the tree at different paths, with separate GOPATH,
# GOCACHE and HOME, different TZ, umask and locale, and fails unless both
# builds are bit-for-bit identical. Prints the binary's sha256.
#
# The module cache is shared and only read: the machine's GOMODCACHE (whose
# files Go keeps read-only) is filled once with `go mod download`, then both
# builds run with GOPROXY=off, so neither can fetch or add anything.
# VERSION and COMMIT are computed once here and passed to both builds.
# Go is go.mod's release (.ci/go-toolchain.sh): fetched here if the
# installed Go is another version, then both builds run that toolchain's
# own go binary (first in PATH too: cyclonedx-gomod runs `go version -m`),
# so they need no download and no checksum database.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

need=()
for pkg in make gcc libc6-dev libseccomp-dev pkg-config binutils file git; do
  dpkg -s "$pkg" > /dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" > /dev/null
fi
command -v go > /dev/null || export PATH=$PATH:/usr/local/go/bin
toolchain=$(bash .ci/go-toolchain.sh)
go=$(GOFLAGS='' GOTOOLCHAIN=$toolchain go env GOROOT)/bin/go
[ "$("$go" env GOVERSION)" = "$toolchain" ] || {
  echo "repro: $go is $("$go" env GOVERSION), not go.mod's $toolchain" >&2
  exit 1
}

read -r version commit < <(make -s --no-print-directory print-version)
arch=$(GOFLAGS='' "$go" env GOARCH)
bin=tailops-linux-$arch
echo "release $version ($commit), $("$go" version), $(gcc --version | head -n 1)"

work=$(mktemp -d /tmp/tailops-repro.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The tree as it would be committed: tracked and new, not ignored, files.
snapshot() {
  mkdir -p "$1"
  if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
      tar --null -T - -cf - | tar -xf - -C "$1"
  else
    tar --exclude=./dist --exclude=./vendor --exclude=./.git --exclude=node_modules -cf - . |
      tar -xf - -C "$1"
  fi
}

echo "== module cache (shared, read-only to the builds)"
modcache=$(GOFLAGS='' "$go" env GOMODCACHE)
for mod in . nix/tools; do
  (cd "$mod" && GOFLAGS='' "$go" mod download)
done
echo "$modcache"

# One snapshot, copied for each build: the tree must not change in between.
snapshot "$work/tree"

# build N DIR TZ UMASK LANG: one release build, in its own everything.
build() {
  local n=$1 dir=$2 tz=$3 mask=$4 lang=$5 start
  mkdir -p "$dir/src"
  (umask "$mask" && cp -R "$work/tree/." "$dir/src/")
  mkdir -p "$dir/gopath" "$dir/gocache" "$dir/home" "$dir/tmp"
  echo "== build $n: $dir/src TZ=$tz umask $mask LANG=$lang"
  start=$(date +%s)
  (
    umask "$mask"
    cd "$dir/src"
    env -i PATH="$(dirname "$go"):$PATH" HOME="$dir/home" TMPDIR="$dir/tmp" TZ="$tz" LANG="$lang" \
      GOPATH="$dir/gopath" GOCACHE="$dir/gocache" GOMODCACHE="$modcache" \
      GOPROXY=off GOSUMDB=off GOTOOLCHAIN=local \
      make --no-print-directory release GO="$go" VERSION="$version" COMMIT="$commit"
  ) > "$dir/build.log" 2>&1 || {
    cat "$dir/build.log" >&2
    echo "build $n failed" >&2
    exit 1
  }
  echo "build $n took $(($(date +%s) - start)) s"
}

# Different depths and names, so no path can hide in the output.
build 1 "$work/a" UTC 022 C.UTF-8
build 2 "$work/b/some/deeper/checkout-dir" Pacific/Chatham 077 C

d1=$work/a/src/dist
d2=$work/b/some/deeper/checkout-dir/src/dist
echo "== compare"
file "$d1/$bin"
file "$d1/$bin" | grep -q 'statically linked' || {
  echo "$bin is not statically linked" >&2
  exit 1
}
{ ldd "$d1/$bin" 2>&1 || true; } | sed 's/^[[:space:]]*/ldd: /'
"$d1/$bin" version | sed -n '1,/^modules:/p'
built_with=$("$go" version "$d1/$bin" | sed 's/^.*: //')
# The release sets the Makefile's GOEXPERIMENT, which Go appends to its
# version ("go1.26.10-X:jsonv2").
want_built_with="$toolchain-X:$(bash .ci/goexperiment.sh)"
if [ "$built_with" != "$want_built_with" ]; then
  echo "$bin was built with $built_with, not go.mod's $toolchain with GOEXPERIMENT $(bash .ci/goexperiment.sh) ($want_built_with)" >&2
  exit 1
fi
status=0
for f in "$bin" "$bin.cdx.json" SHA256SUMS; do
  h1=$(sha256sum < "$d1/$f" | cut -d' ' -f1)
  h2=$(sha256sum < "$d2/$f" | cut -d' ' -f1)
  if [ "$h1" = "$h2" ]; then
    echo "identical  $h1  $f"
  else
    echo "DIFFERENT  $h1 != $h2  $f" >&2
    cmp "$d1/$f" "$d2/$f" | head -n 5 >&2 || true
    status=1
  fi
done
if [ "$status" != 0 ]; then
  diff <("$go" version -m "$d1/$bin") <("$go" version -m "$d2/$bin") >&2 || true
  echo "repro: the two builds differ" >&2
  exit 1
fi
echo "repro: bit-for-bit identical; sha256 $(cut -d' ' -f1 < <(sha256sum "$d1/$bin"))  $bin"

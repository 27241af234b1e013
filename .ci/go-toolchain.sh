#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Prints the Go toolchain TailOps is built and tested with, as GOTOOLCHAIN
# names it (go1.26.10): go.mod's toolchain line if it has one, else its go
# line, as the go command itself chooses. go.mod is the one place that
# names the Go version: `make build`, `make release`, .ci/test.sh,
# .ci/repro.sh, .ci/vulncheck.sh and nix/update-vendor-hash.sh use what
# this prints. An installed Go of another version fetches that toolchain
# through the module proxy (golang.org/toolchain) and checks it against the
# checksum database.
set -euo pipefail
gomod="$(dirname "$0")/../go.mod"
toolchain=$(sed -n 's/^toolchain[[:space:]]\{1,\}\([^[:space:]]*\)[[:space:]]*$/\1/p' "$gomod")
if [ -z "$toolchain" ]; then
  toolchain=$(sed -n 's/^go[[:space:]]\{1,\}\([^[:space:]]*\)[[:space:]]*$/go\1/p' "$gomod")
fi
# A release, goX.Y.Z: a go line like "go 1.26" would let every patch
# release build, and the release build needs one exact toolchain.
if ! [[ $toolchain =~ ^go[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "$0: go.mod must name a Go release in its go line (go 1.26.10) or toolchain line (toolchain go1.26.10); found '$toolchain'" >&2
  exit 1
fi
printf '%s\n' "$toolchain"

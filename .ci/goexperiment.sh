#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Prints the Makefile's GO_EXPERIMENT, the GOEXPERIMENT of every TailOps
# build: .ci/test.sh exports it, .ci/nix-check.sh compares nix/package.nix's
# with it, and the README's commands use it. Read without make, which a
# fresh machine may lack.
set -euo pipefail
file="$(dirname "$0")/../Makefile"
exp=$(sed -n 's/^GO_EXPERIMENT := \([a-z0-9,]\{1,\}\)$/\1/p' "$file")
if [ -z "$exp" ]; then
  echo "$0: no GO_EXPERIMENT line in $file" >&2
  exit 1
fi
printf '%s\n' "$exp"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Prints the Tailscale feature tags of tailscale.tags (ts_omit_*), joined
# with commas, for -tags: `make build`, `make release`, .ci/test.sh and the
# README's commands use what this prints; nix/tailscale-tags.nix reads the
# same file.
set -euo pipefail
file="$(dirname "$0")/../tailscale.tags"
tags=$(grep -x 'ts_omit_[a-z0-9_]\{1,\}' "$file" | paste -sd, -) || true
if [ -z "$tags" ]; then
  echo "$0: no ts_omit_ tags in $file" >&2
  exit 1
fi
printf '%s\n' "$tags"

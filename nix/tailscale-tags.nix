# SPDX-License-Identifier: Apache-2.0
#
# The Tailscale feature tags (ts_omit_*) of ../tailscale.tags, one a line
# there, as a list for buildGoModule's tags: the same lines .ci/ts-tags.sh
# gives the Makefile. Plain builtins, so .ci/nix-check.sh evaluates it
# without nixpkgs and compares.
builtins.filter (line: builtins.isString line && builtins.match "ts_omit_[a-z0-9_]+" line != null) (
  builtins.split "\n" (builtins.readFile ../tailscale.tags)
)

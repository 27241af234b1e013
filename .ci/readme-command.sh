#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Prints the command README.md gives between <!-- NAME --> and
# <!-- /NAME --> (test-command, run-command), without the markers, the
# code fence and blank lines, so that CI runs exactly what README says.
set -euo pipefail
name=${1:?usage: readme-command.sh NAME}
readme="$(dirname "$0")/../README.md"
cmd=$(sed -n "/<!-- $name -->/,/<!-- \/$name -->/p" "$readme" | grep -v '^<!--' | grep -v '^```' | grep -v '^$' || true)
if [ -z "$cmd" ]; then
  echo "README.md has no command between <!-- $name --> and <!-- /$name -->" >&2
  exit 1
fi
printf '%s\n' "$cmd"

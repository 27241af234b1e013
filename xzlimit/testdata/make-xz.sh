#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Makes the .xz files TestFileAsXZWritesIt reads and FuzzXZ starts from:
# one text (what packagesText in file_test.go makes: 1500 paragraphs
# like a Packages list's) compressed by xz(1) the ways apt's lists are
# and can be: one block, as dak (xz -c), apt-ftparchive (liblzma's
# preset 6) and Launchpad (Python's lzma) write them; blocks with their
# sizes in their headers, as multi-threaded xz writes them (the default
# since XZ Utils 5.6); blocks without, as xz -T1 --block-size writes
# them; the other check types; xz -9's 64 MiB dictionary. Made with XZ
# Utils 5.4.1. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")"
text=$(mktemp)
trap 'rm -f "$text"' EXIT
for i in $(seq 0 1499); do
  printf 'Package: pkg%d\nVersion: 1.%d-1\nArchitecture: amd64\n\n' "$i" "$i"
done >"$text"
xz -c <"$text" >one-block.xz
xz -T2 --block-size=16KiB -c <"$text" >blocks-with-sizes.xz
xz -T1 --block-size=16KiB --check=crc32 -c <"$text" >blocks-without-sizes.xz
xz --check=sha256 -c <"$text" >sha256.xz
xz --check=none -c <"$text" >no-check.xz
xz -9 -c <"$text" >preset-9.xz

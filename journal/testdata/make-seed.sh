#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Makes seed.journal, the fuzz corpus's starting point: a real journal file
# written by Debian's systemd-journal-remote (journald's writer: compact,
# keyed hash, zstd), small enough to commit. journal-remote sizes the hash
# tables from the free space of the file system, so it writes on a 4 MiB
# tmpfs (2047 data buckets, 32 KiB); the file is then cut after its last
# object (the rest is space journal-remote allocated ahead, all zeros) and
# the header's arena_size set to match, as journald's own checks want.
# Needs root (mount) and systemd-journal-remote. Run from anywhere.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)/seed.journal
remote=$(command -v systemd-journal-remote || echo /lib/systemd/systemd-journal-remote)
tmp=$(mktemp -d)
trap 'umount "$tmp" 2>/dev/null || true; rmdir "$tmp"' EXIT
mount -t tmpfs -o size=4m tmpfs "$tmp"

{
  for i in 0 1 2 3 4 5; do
    echo "__REALTIME_TIMESTAMP=$((1700000000000000 + i * 1000000))"
    echo "__MONOTONIC_TIMESTAMP=$((5000000 + i * 1000000))"
    echo "_BOOT_ID=0123456789abcdef0123456789abcdef"
    echo "_SYSTEMD_UNIT=unit$((i % 3)).service"
    echo "PRIORITY=$((i % 8))"
    echo "_PID=$((1000 + i))"
    if [ "$i" = 4 ]; then
      # Over 512 bytes: stored zstd-compressed.
      printf 'MESSAGE=%s\n' "$(printf 'a long, compressible line %.0s' $(seq 40))"
    else
      echo "MESSAGE=message $i"
    fi
    echo
  done
} | SYSTEMD_JOURNAL_COMPACT=1 SYSTEMD_JOURNAL_KEYED_HASH=1 "$remote" --output="$tmp/seed.journal" --compress=yes - 2>/dev/null

f=$tmp/seed.journal
u64() { od -An -t u8 -j "$1" -N 8 "$f" | tr -d ' '; }
tail=$(u64 136)            # header: tail_object_offset
size=$(u64 $((tail + 8)))  # that object's size
cp "$f" "$out"
truncate -s $((tail + size)) "$out"
hsize=$(od -An -t u8 -j 88 -N 8 "$out" | tr -d ' ')
perl -e 'open(F, "+<", $ARGV[0]) or die; seek(F, 96, 0); print F pack("Q<", $ARGV[1])' "$out" $((tail + size - hsize))
echo "wrote $out ($((tail + size)) bytes)"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Makes journald.xz: a field's payload xz-compressed the way journald does
# it (compress_blob_xz: liblzma's lzma_stream_buffer_encode, one block
# whose header gives both sizes, LZMA2 with a 1 MiB dictionary, fast
# mode, no check). No tool writes it alone (xz(1) uses the stream
# encoder, without sizes in the block header), so this calls liblzma
# through Python's ctypes. TestXZAsJournaldWritesIt knows the payload.
# Needs python3 and liblzma.so.5. Run from anywhere.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)/journald.xz
python3 - "$out" <<'PY'
import ctypes, sys
lzma = ctypes.CDLL("liblzma.so.5")

class Options(ctypes.Structure):  # lzma_options_lzma, then its reserved fields
    _fields_ = [("dict_size", ctypes.c_uint32), ("preset_dict", ctypes.c_void_p),
                ("preset_dict_size", ctypes.c_uint32), ("lc", ctypes.c_uint32),
                ("lp", ctypes.c_uint32), ("pb", ctypes.c_uint32), ("mode", ctypes.c_int),
                ("nice_len", ctypes.c_uint32), ("mf", ctypes.c_int), ("depth", ctypes.c_uint32),
                ("reserved", ctypes.c_byte * 128)]

class Filter(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64), ("options", ctypes.c_void_p)]

# journald's: 1 MiB, lc 3, lp 0, pb 2, LZMA_MODE_FAST, nice 128, LZMA_MF_HC3, depth 4.
opt = Options(1 << 20, None, 0, 3, 0, 2, 1, 128, 0x03, 4)
filters = (Filter * 2)(Filter(0x21, ctypes.cast(ctypes.pointer(opt), ctypes.c_void_p)),
                       Filter(2**64 - 1, None))
src = b"MESSAGE=" + b"journald compresses fields of 512 bytes and more; " * 20
dst = ctypes.create_string_buffer(len(src) + 1024)
pos = ctypes.c_size_t(0)
rc = lzma.lzma_stream_buffer_encode(filters, 0, None, src, ctypes.c_size_t(len(src)),
                                    dst, ctypes.byref(pos), ctypes.c_size_t(len(dst)))
if rc != 0:
    sys.exit("lzma_stream_buffer_encode: %d" % rc)
open(sys.argv[1], "wb").write(dst.raw[:pos.value])
PY

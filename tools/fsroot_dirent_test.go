// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"encoding/binary"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

// dirent builds one getdents64 record, padded to 8 bytes as the kernel does.
func dirent(name string, typ byte) []byte {
	n := (19 + len(name) + 1 + 7) &^ 7
	rec := make([]byte, n)
	binary.NativeEndian.PutUint64(rec[0:], 42)
	binary.NativeEndian.PutUint16(rec[16:], uint16(n))
	rec[18] = typ
	copy(rec[19:], name)
	return rec
}

func TestAppendDirents(t *testing.T) {
	cat := func(recs ...[]byte) (b []byte) {
		for _, r := range recs {
			b = append(b, r...)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		buf  []byte
		want []rawEntry
	}{
		{"types and dot entries",
			cat(dirent(".", unix.DT_DIR), dirent("..", unix.DT_DIR), dirent("a.log", unix.DT_REG),
				dirent("sub", unix.DT_DIR), dirent("ln", unix.DT_LNK), dirent("fifo", unix.DT_FIFO)),
			[]rawEntry{{"a.log", unix.S_IFREG}, {"sub", unix.S_IFDIR}, {"ln", unix.S_IFLNK}, {"fifo", unix.S_IFIFO}}},
		{"unknown type is 0, so the caller stats",
			dirent("mystery", unix.DT_UNKNOWN), []rawEntry{{"mystery", 0}}},
		{"a name followed by padding",
			dirent("12345", unix.DT_REG), []rawEntry{{"12345", unix.S_IFREG}}},
		{"a record length past the buffer stops the parse",
			func() []byte { r := dirent("x", unix.DT_REG); binary.NativeEndian.PutUint16(r[16:], 4096); return r }(), nil},
		{"a record length below the header stops the parse",
			func() []byte { r := dirent("x", unix.DT_REG); binary.NativeEndian.PutUint16(r[16:], 3); return r }(), nil},
		{"a short tail is ignored",
			cat(dirent("a", unix.DT_REG), []byte{1, 2, 3}), []rawEntry{{"a", unix.S_IFREG}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := appendDirents(nil, tc.buf); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

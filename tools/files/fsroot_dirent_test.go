// SPDX-License-Identifier: Apache-2.0

package files

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
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
	t.Parallel()
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
			[]rawEntry{{"a.log", unix.S_IFREG, 42}, {"sub", unix.S_IFDIR, 42}, {"ln", unix.S_IFLNK, 42}, {"fifo", unix.S_IFIFO, 42}}},
		{"unknown type is 0, so the caller stats",
			dirent("mystery", unix.DT_UNKNOWN), []rawEntry{{"mystery", 0, 42}}},
		{"a name followed by padding",
			dirent("12345", unix.DT_REG), []rawEntry{{"12345", unix.S_IFREG, 42}}},
		{"a record length past the buffer stops the parse",
			func() []byte { r := dirent("x", unix.DT_REG); binary.NativeEndian.PutUint16(r[16:], 4096); return r }(), nil},
		{"a record length below the header stops the parse",
			func() []byte { r := dirent("x", unix.DT_REG); binary.NativeEndian.PutUint16(r[16:], 3); return r }(), nil},
		{"a deleted entry (inode 0) is skipped",
			cat(func() []byte { r := dirent("gone", unix.DT_REG); binary.NativeEndian.PutUint64(r, 0); return r }(), dirent("here", unix.DT_REG)),
			[]rawEntry{{"here", unix.S_IFREG, 42}}},
		{"a short tail is ignored",
			cat(dirent("a", unix.DT_REG), []byte{1, 2, 3}), []rawEntry{{"a", unix.S_IFREG, 42}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := appendDirents(nil, tc.buf); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestDescribeEntry covers the listing's use of getdents' answer,
// including a file system that gives no type (DT_UNKNOWN, mode 0): the
// entry is then stat'ed, never shown as "other".
func TestDescribeEntry(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "f"), []byte("12345"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "d"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(root, "l")); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	dir := &node{fd: fd}
	for _, tc := range []struct {
		e       rawEntry
		details bool
		want    string // type, or "gone"
		size    int64  // with details
	}{
		{rawEntry{name: "f", mode: unix.S_IFREG}, false, "file", 0},
		{rawEntry{name: "f", mode: 0}, false, "file", 0},
		{rawEntry{name: "d", mode: 0}, false, "dir", 0},
		{rawEntry{name: "l", mode: 0}, false, "symlink", 0},
		{rawEntry{name: "f", mode: unix.S_IFREG}, true, "file", 5},
		{rawEntry{name: "l", mode: unix.S_IFLNK}, true, "symlink", 1},
		{rawEntry{name: "missing", mode: 0}, false, "gone", 0},
		{rawEntry{name: "missing", mode: unix.S_IFREG}, true, "gone", 0},
	} {
		t.Run(fmt.Sprintf("%s mode %o details %v", tc.e.name, tc.e.mode, tc.details), func(t *testing.T) {
			out, ok := describeEntry(dir, tc.e, tc.details)
			if got := map[bool]string{true: out.Type, false: "gone"}[ok]; got != tc.want {
				t.Fatalf("type %q, want %q", got, tc.want)
			}
			if !ok {
				return
			}
			switch {
			case !tc.details && (out.Size != nil || out.Mode != "" || out.MTime != ""):
				t.Errorf("stat data without details: %+v", out)
			case tc.details && (out.Size == nil || *out.Size != tc.size || out.Mode == "" || out.MTime == ""):
				t.Errorf("details: %+v, want size %d", out, tc.size)
			}
		})
	}
}

func TestListingName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, want string }{
		{"app.log", "app.log"},
		{"with space.log", "with space.log"},
		{"x@", "x@"},
		{"evil\nfile    fake", `"evil\nfile    fake"`},
		{" leading", `" leading"`},
		{"trailing ", `"trailing "`},
		{"tab\there", `"tab\there"`},
		{"ünïcode", "ünïcode"},
		{"", ""},
		{" ", `" "`},
		{"del\x7f", `"del\x7f"`},
		{"nbsp\u00a0", `"nbsp\u00a0"`},
		{"\u0085next line", `"\u0085next line"`},
		{"c1\u009bcontrol", `"c1\u009bcontrol"`},
		{"ü ", `"ü "`},
		{"invalid\xff", "invalid\xff"},
	} {
		if got := listingName(tc.name); got != tc.want {
			t.Errorf("listingName(%q) = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestRenderListingDetails checks the details columns, written without
// fmt, against the format they replace: " %s %12d %s ".
func TestRenderListingDetails(t *testing.T) {
	t.Parallel()
	for _, size := range []int64{0, 38, 99999999999, 999999999999, 1234567890123, 1 << 62, -1} {
		r := &listDirectoryResult{Path: "p", Total: 1, Entries: []dirEntry{{Name: "f", Type: "file", Size: &size, Mode: "0640", MTime: "2026-12-07T00:00:00Z"}}}
		want := fmt.Sprintf("p: 1 entries\nfile    %s %12d %s  f\n", "0640", size, "2026-12-07T00:00:00Z")
		if got := renderListing(r); got != want {
			t.Errorf("size %d: got %q, want %q", size, got, want)
		}
	}
}

// TestNameOrder checks the keyed sort against sorting the names as
// strings, on names that share starts shorter and longer than a key,
// that are prefixes of one another, that are the same for a key's length
// after the shared start, and that hold bytes above 0x7f.
func TestNameOrder(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int, start string, alphabet string) []string {
		var names []string
		seen := map[string]bool{}
		for len(names) < n {
			b := []byte(start)
			for range rng.IntN(12) {
				b = append(b, alphabet[rng.IntN(len(alphabet))])
			}
			if s := string(b); s != "" && !seen[s] {
				seen[s] = true
				names = append(names, s)
			}
		}
		return names
	}
	for _, tc := range []struct {
		name  string
		names []string
	}{
		{"none", nil},
		{"one", []string{"a"}},
		{"prefixes of one another", []string{"abc", "ab", "abcdefghijklmnop", "abcdefghijklmno", "a", "abcdefgh", "abcdefghi"}},
		{"a shared start longer than a key", []string{"log-2026-12-07T00:00:01.txt", "log-2026-12-07T00:00:00.txt", "log-2026-12-07T00:00:00.txt.1", "log-2026-12-07"}},
		{"the shared start is a whole name", []string{"file", "file-1", "file-0", "file\x01"}},
		{"bytes above 0x7f", []string{"é", "e", "\xff", "\x7f", "z", "ü", "\xc3"}},
		{"random, short alphabet", random(2000, "", "ab.")},
		{"random, a shared start", random(2000, "file-0", "0123456789\x80\xff.")},
		{"random, the same for a key's length after the shared start", append(random(1000, "ab-12345", "xy"), random(1000, "cd-12345", "xy")...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ents := make([]rawEntry, len(tc.names))
			for i, n := range tc.names {
				ents[i] = rawEntry{name: n, ino: uint64(i)}
			}
			want := slices.Clone(ents)
			slices.SortFunc(want, func(x, y rawEntry) int { return strings.Compare(x.name, y.name) })
			var got []rawEntry
			for _, i := range nameOrder(ents) {
				got = append(got, ents[i])
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

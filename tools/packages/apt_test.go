// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/tailops/tailops/toolstest"
	xt "github.com/tailops/tailops/xzlimit/xzlimittest"
)

// xzLists copies the test lists into a directory of their own, each
// Packages list .xz-compressed by encode, and returns it.
func xzLists(t *testing.T, encode func(b []byte) []byte) string {
	t.Helper()
	dir := fixture(t, nil)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), "_Packages") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p+".xz", encode(b), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestXZListsRead: check_updates reads .xz lists however xz makes them:
// with the xz package's writer; in one block of 8 MiB (xz -6), as
// Debian's and Ubuntu's archive tools write them; in many blocks giving
// their sizes, as multi-threaded xz (the default since XZ Utils 5.6)
// writes them; with xz -9's 64 MiB dictionary; as two streams one after
// the other.
func TestXZListsRead(t *testing.T) {
	t.Parallel()
	stream := func(blocks ...xt.Block) []byte {
		return xt.Stream{Check: xt.CheckCRC64, Blocks: blocks}.Bytes(t)
	}
	for _, c := range []struct {
		name   string
		encode func(b []byte) []byte
	}{
		{"the xz package's writer", func(b []byte) []byte { return compressed(t, ".xz", b) }},
		{"one block of 8 MiB", func(b []byte) []byte { return stream(xt.Block{Data: b, Dict: 8 << 20}) }},
		{"blocks of 8 MiB giving their sizes", func(b []byte) []byte { return stream(xt.Split(b, 16, xt.Block{Dict: 8 << 20, Sizes: true})...) }},
		{"one block of 64 MiB", func(b []byte) []byte { return stream(xt.Block{Data: b, Dict: 64 << 20}) }},
		{"blocks of 64 MiB giving their sizes", func(b []byte) []byte { return stream(xt.Split(b, 100, xt.Block{Dict: 64 << 20, Sizes: true})...) }},
		{"two streams", func(b []byte) []byte {
			return slices.Concat(stream(xt.Block{Data: b[:len(b)/2], Dict: 8 << 20}), make([]byte, 8), stream(xt.Block{Data: b[len(b)/2:], Dict: 8 << 20}))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := toolstest.OK[CheckResult](t, client(t, mustAbs(t, "testdata/status"), xzLists(t, c.encode)), "check_updates", nil)
			if !slices.Equal(res.Updates, wantUpdates) {
				t.Errorf("updates:\n got %+v\nwant %+v", res.Updates, wantUpdates)
			}
			if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "NotAutomatic") {
				t.Errorf("notes: %q, want one on the backports' NotAutomatic", res.Notes)
			}
		})
	}
}

// TestXZListOverLimitIsNotAllocated: the xz package's reader allocates
// the dictionary a block header asks for, up to 4 GiB, before decoding a
// byte. A list whose block asks for more than xz -9's 64 MiB, first or
// later, is refused without the allocation, and so is one of many empty
// blocks each asking for 64 MiB; check_updates notes the list, the
// limit and what to do, and reads the other lists.
func TestXZListOverLimitIsNotAllocated(t *testing.T) {
	const mib64, gib4 = 64 << 20, 1<<32 - 1
	b, err := os.ReadFile("testdata/lists/example.org_debian_dists_stable_main_binary-amd64_Packages")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		blocks []xt.Block
		max    uint64 // bytes reading may allocate
	}{
		{"one block of 4 GiB", []xt.Block{{Data: b, Dict: gib4}}, 4 << 20},
		{"one block of 128 MiB", []xt.Block{{Data: b, Dict: 128 << 20}}, 4 << 20},
		{"a block of 8 MiB, then one of 4 GiB", []xt.Block{{Data: b[:100], Dict: 8 << 20}, {Data: b[100:], Dict: gib4}}, 12 << 20},
		{"100 empty blocks of 64 MiB", slices.Repeat([]xt.Block{{Dict: mib64}}, 100), mib64 + 16<<20},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := xt.Stream{Check: xt.CheckCRC64, Blocks: c.blocks}.Bytes(t)
			lists := fixture(t, nil)
			path := filepath.Join(lists, "example.org_debian_dists_stable_main_binary-amd64_Packages")
			if err := os.Rename(path, path+".xz"); err != nil {
				t.Fatal(err)
			}
			path += ".xz"
			if err := os.WriteFile(path, src, 0o644); err != nil {
				t.Fatal(err)
			}
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			r, err := openList(path)
			if err == nil {
				_, err = io.Copy(io.Discard, r)
				r.Close()
			}
			runtime.ReadMemStats(&m1)
			if a := m1.TotalAlloc - m0.TotalAlloc; a > c.max {
				t.Errorf("reading the list allocated %d MiB", a>>20)
			}
			if err == nil || strings.Contains(err.Error(), filepath.Dir(path)) || !strings.Contains(err.Error(), "64 MiB") {
				t.Errorf("error %v, want one naming the limit and no host path", err)
			}

			res := toolstest.OK[CheckResult](t, client(t, mustAbs(t, "testdata/status"), lists), "check_updates", nil)
			notes := strings.Join(res.Notes, "\n")
			if strings.Contains(notes, lists) {
				t.Errorf("notes %q name the lists' host directory", notes)
			}
			for _, w := range []string{filepath.Base(path) + ":", "64 MiB", "apt-get update", "Acquire::CompressionTypes::Order"} {
				if !strings.Contains(notes, w) {
					t.Errorf("notes %q, want them to say %q", notes, w)
				}
			}
			if i := slices.IndexFunc(res.Updates, func(u Update) bool { return u.Name == "beta" }); i < 0 || !res.Updates[i].Security {
				t.Errorf("updates %+v, want beta's from the security list", res.Updates)
			}
		})
	}
}

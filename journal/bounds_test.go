// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/journal/journaltest"
)

// TestMemoryStaysBounded reads a journal larger than the memory budget
// (32 MiB of peak RSS growth) every way a tool would, and checks the
// kernel's peak RSS against that budget and the heap against a few MiB:
// nothing is mapped or loaded whole.
func TestMemoryStaysBounded(t *testing.T) {
	const n = 50000
	rng := rand.New(rand.NewPCG(1, 2))
	letters := []byte("abcdefghijklmnopqrstuvwxyz")
	es := manyEntries(n, func(i int) []Field {
		msg := make([]byte, 600)
		for j := range msg {
			msg[j] = letters[rng.IntN(len(letters))]
		}
		return []Field{{"MESSAGE", msg}}
	})
	path := filepath.Join(t.TempDir(), "big.journal")
	// Uncompressed, so that the file is as large as its content.
	writeJournal(t, path, layout{compact: true, keyed: true}, es)
	es = nil
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < 40<<20 {
		t.Fatalf("the journal is only %d MiB", st.Size()>>20)
	}

	var ms runtime.MemStats
	debug.FreeOSMemory() // so that RSS grows again if reading needs memory
	runtime.ReadMemStats(&ms)
	baseHeap, baseSys := ms.HeapInuse, ms.Sys
	// The kernel's own peak: writing 5 to clear_refs sets VmHWM to the
	// current RSS. Reads through pread fill the page cache, which is not
	// the process's RSS; a mapped file would be.
	baseRSS, rssOK := procStatusKiB("VmRSS"), os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	peak := baseHeap
	sample := func() {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}

	j, err := OpenDir(nil, filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	count := 0
	for _, m := range [][]string{nil, {"_SYSTEMD_UNIT=unit3.service"}} {
		r, err := j.Reader(m...)
		if err != nil {
			t.Fatal(err)
		}
		for _, fwd := range []bool{true, false} {
			if !fwd {
				r.SeekTail()
			}
			for i := 0; ; i++ {
				_, err := r.step(fwd)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				count++
				if i%2000 == 0 {
					sample()
				}
			}
		}
	}
	sample()
	if want := 2*n + 2*(n/7+1); count != want {
		t.Errorf("read %d entries, want %d", count, want)
	}
	if grew := peak - baseHeap; grew > 8<<20 {
		t.Errorf("heap grew by %d MiB reading a %d MiB journal", grew>>20, st.Size()>>20)
	}
	if grew := int64(ms.Sys) - int64(baseSys); grew > 32<<20 {
		t.Errorf("memory from the OS grew by %d MiB", grew>>20)
	}
	peakRSS := procStatusKiB("VmHWM")
	if !rssOK {
		t.Log("cannot reset the peak RSS (/proc/self/clear_refs): checked the heap only")
	} else if grew := peakRSS - baseRSS; grew > 32<<10 {
		t.Errorf("peak RSS grew by %d MiB reading a %d MiB journal", grew>>10, st.Size()>>20)
	}
	t.Logf("journal %d MiB: heap peak +%d KiB, Sys %+d KiB, peak RSS +%d KiB", st.Size()>>20,
		(peak-baseHeap)>>10, (int64(ms.Sys)-int64(baseSys))>>10, peakRSS-baseRSS)
}

// TestLongValues: values are cut at MaxFieldSize and entries at
// MaxEntrySize (NAME=value), compressed or not, and Truncated says so.
func TestLongValues(t *testing.T) {
	long := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320000 bytes
	es := []testEntry{
		{baseTime, 1, bootA, []Field{{"MESSAGE", long}}},
		{baseTime + 1, 2, bootA, []Field{{"MESSAGE", []byte("short")}, {"A", long[:1000]}, {"B", long[:1000]}}},
	}
	for _, compress := range []bool{true, false} {
		path := filepath.Join(t.TempDir(), "long.journal")
		writeJournal(t, path, layout{compact: true, keyed: true, compress: compress}, es)
		for _, tc := range []struct {
			opts       *Options
			first      int  // length of the first entry's MESSAGE
			secondCut  bool // the second entry is truncated
			secondSize int  // total value bytes in the second entry
		}{
			{nil, 64 << 10, false, 2000 + len("short") + len(bootA)},
			{&Options{MaxFieldSize: 100}, 100, true, 100 + 100 + len("short") + len(bootA)},
			// _BOOT_ID comes first; NAME= counts too.
			{&Options{MaxEntrySize: 1500}, 1500 - len("_BOOT_ID=") - len(bootA) - len("MESSAGE="), true,
				1500 - len("_BOOT_ID=MESSAGE=A=B=")},
			{&Options{MaxFieldSize: 1 << 20, MaxEntrySize: 1 << 20}, len(long), false, 2000 + len("short") + len(bootA)},
		} {
			f, err := Open(path, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			r, _ := f.Reader()
			got := readAll(t, r, true)
			f.Close()
			name := fmt.Sprintf("compress=%v %+v", compress, tc.opts)
			m, _ := got[0].Get("MESSAGE")
			if len(m) != tc.first || !bytes.HasPrefix(long, m) || got[0].Truncated != (tc.first < len(long)) {
				t.Errorf("%s: first MESSAGE %d bytes, truncated=%v; want %d", name, len(m), got[0].Truncated, tc.first)
			}
			size := 0
			for _, f := range got[1].Fields {
				size += len(f.Value)
			}
			if size != tc.secondSize || got[1].Truncated != tc.secondCut {
				t.Errorf("%s: second entry %d bytes, truncated=%v; want %d, %v (%q)", name, size, got[1].Truncated, tc.secondSize, tc.secondCut, strings.Join(fieldNames(got[1]), " "))
			}
		}
	}
}

// TestItemsCountAgainstEntrySize: every item an entry reads is charged
// to MaxEntrySize, those it leaves out too, and an item naming a DATA
// object the entry named before is not read again. Without that, an
// entry naming an lz4 DATA object with no '=' (8 MiB of 'A's) 16384
// times, or 16 such objects, decoded each every time: MaxEntrySize
// bounded nothing.
func TestItemsCountAgainstEntrySize(t *testing.T) {
	base := smallJournal(t)
	big := lz4Data(t, bytes.Repeat([]byte("A"), maxLZ4Size))
	field := splicedData{[]byte("MESSAGE=once"), 0}
	for _, tc := range []struct {
		name   string
		objs   []splicedData
		items  []int
		fields []string // the entry's fields, NAME=value
		cut    bool     // Truncated
	}{
		{"one object without '=', 64 times", []splicedData{big, field}, append(slices.Repeat([]int{0}, 64), 1), []string{"MESSAGE=once"}, true},
		{"16 objects without '='", append(slices.Repeat([]splicedData{big}, 16), field), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, nil, true},
		{"one field, 64 times", []splicedData{field}, slices.Repeat([]int{0}, 64), []string{"MESSAGE=once"}, false},
		{"one field, 64 times, out of order", []splicedData{{[]byte("A=1"), 0}, field}, append(slices.Repeat([]int{1}, 64), 0), []string{"MESSAGE=once", "A=1"}, false},
	} {
		e, a := lastEntry(t, appendEntry(t, base, tc.objs, tc.items), &Options{MaxFieldSize: 16 << 10, MaxEntrySize: 64 << 10})
		if a > 64<<20 {
			t.Errorf("%s: one entry with a 64 KiB budget allocated %d MiB", tc.name, a>>20)
		}
		var got []string
		for _, f := range e.Fields {
			got = append(got, f.Name+"="+string(f.Value))
		}
		if !slices.Equal(got, tc.fields) || e.Truncated != tc.cut {
			t.Errorf("%s: fields %q, truncated=%v; want %q, %v", tc.name, got, e.Truncated, tc.fields, tc.cut)
		}
	}
}

// manyEntries makes n entries a millisecond apart on boot A, in units
// unit0 to unit6, with the fields more(i) adds.
func manyEntries(n int, more func(i int) []Field) []testEntry {
	es := make([]testEntry, n)
	for i := range es {
		es[i] = testEntry{
			realtime:  baseTime + uint64(i)*1000,
			monotonic: 1e6 + uint64(i),
			boot:      bootA,
			fields: append([]Field{{"_SYSTEMD_UNIT", []byte(fmt.Sprintf("unit%d.service", i%7))}},
				more(i)...),
		}
	}
	return es
}

// procStatusKiB returns a "Name: N kB" line of /proc/self/status, or 0.
func procStatusKiB(name string) int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func fieldNames(e *Entry) []string {
	var s []string
	for _, f := range e.Fields {
		s = append(s, f.Name)
	}
	return s
}

// TestManyFilesShareOneCache: a journal of 300 small files is read in
// order (one unit, forward and backward) holding one cache for all its
// files, not one each: the cache stays within journalCachePages, and the
// heap in use while the journal is open grows by less than 300 files'
// caches would take (300 x 128 KiB, 37.5 MiB) by far.
func TestManyFilesShareOneCache(t *testing.T) {
	const files, perFile = 300, 14
	// 14 entries a second apart, two of each unit, written once by
	// journal-remote and copied, each copy perFile seconds later.
	es := manyEntries(perFile, func(i int) []Field {
		return []Field{{"MESSAGE", []byte(fmt.Sprintf("entry %d %s", i, strings.Repeat("x", 100)))}}
	})
	for i := range es {
		es[i].realtime, es[i].monotonic = baseTime+uint64(i)*1e6, 1e6+uint64(i)*1e6
	}
	src := filepath.Join(t.TempDir(), "src.journal")
	writeJournal(t, src, layout{compact: true, keyed: true, compress: true}, es)
	// Cut to its part in use once (journal-remote allocates 8 MiB).
	small := filepath.Join(t.TempDir(), "small.journal")
	journaltest.Copy(t, src, small, 0, ID{0xff})
	dir := t.TempDir()
	for i := range files {
		var id ID
		id[0], id[1] = byte(i>>8), byte(i)
		journaltest.Copy(t, small, filepath.Join(dir, fmt.Sprintf("f%03d.journal", i)), time.Duration(i*perFile)*time.Second, id)
	}

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapInuse
	j, err := OpenDir(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if len(j.Files()) != files || len(j.Skipped) != 0 {
		t.Fatalf("%d files open, skipped %v", len(j.Files()), j.Skipped)
	}
	r, err := j.Reader("_SYSTEMD_UNIT=unit3.service")
	if err != nil {
		t.Fatal(err)
	}
	// unit3's entries are 3 and 10 of each file.
	var want []time.Time
	for i := range files {
		for _, k := range []int{3, 10} {
			want = append(want, usecTime(baseTime+uint64(i*perFile+k)*1e6))
		}
	}
	for _, fwd := range []bool{true, false} {
		if !fwd {
			r.SeekTail()
			slices.Reverse(want)
		}
		var got []time.Time
		for _, e := range readAll(t, r, fwd) {
			got = append(got, e.Realtime)
		}
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("forward %v: %d entries, want %d (first %v, want %v)", fwd, len(got), len(want), got[:min(3, len(got))], want[:3])
		}
	}
	if n, limit := j.sh.cache.bytes(), journalCachePages*pageSize; n == 0 || n > limit {
		t.Errorf("the cache holds %d bytes, want some and at most %d", n, limit)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if grew := int64(ms.HeapInuse) - int64(before); grew > 4<<20 {
		t.Errorf("heap in use grew by %d KiB with %d files open and read, want at most 4 MiB", grew>>10, files)
	}
	t.Logf("%d files: heap in use %+d KiB, cache %d KiB", files, (int64(ms.HeapInuse)-int64(before))>>10, j.sh.cache.bytes()>>10)
	runtime.KeepAlive(r)
}

// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkRead reads a journal of 50,000 entries (seven units, messages
// of about 200 bytes, compact, keyed, zstd for none: all short) the ways
// get_journal will: the newest 100 of everything, the newest 100 of one
// unit, 100 around a time, and a full forward scan.
//
//	go test -run '^$' -bench BenchmarkRead ./journal
func BenchmarkRead(b *testing.B) {
	const n = 50000
	es := manyEntries(n, func(i int) []Field {
		return []Field{
			{"PRIORITY", []byte(fmt.Sprint(i % 8))},
			{"_PID", []byte(fmt.Sprint(1000 + i%300))},
			{"MESSAGE", []byte(fmt.Sprintf("entry %d %s", i, strings.Repeat("x", 190)))},
		}
	})
	dir := b.TempDir()
	writeJournal(b, filepath.Join(dir, "bench.journal"), layout{compact: true, keyed: true, compress: true}, es)
	j, err := OpenDir(nil, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	read := func(b *testing.B, r *Reader, fwd bool, max int) {
		for k := 0; k < max; k++ {
			if _, err := r.step(fwd); err == io.EOF {
				return
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("newest 100", func(b *testing.B) {
		for b.Loop() {
			r, _ := j.Reader()
			r.SeekTail()
			read(b, r, false, 100)
		}
	})
	b.Run("newest 100 of a unit at priority 3 or worse", func(b *testing.B) {
		for b.Loop() {
			r, _ := j.Reader("_SYSTEMD_UNIT=unit3.service", "PRIORITY=0", "PRIORITY=1", "PRIORITY=2", "PRIORITY=3")
			r.SeekTail()
			read(b, r, false, 100)
		}
	})
	b.Run("100 around a time", func(b *testing.B) {
		for b.Loop() {
			r, _ := j.Reader()
			r.SeekRealtime(usecTime(es[n/2].realtime))
			read(b, r, false, 50)
			r.SeekRealtime(usecTime(es[n/2].realtime))
			read(b, r, true, 50)
		}
	})
	b.Run("all forward", func(b *testing.B) {
		for b.Loop() {
			r, _ := j.Reader()
			read(b, r, true, n+1)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}

// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkCallOverhead measures issue 19's per-call target in one run:
// a sequential health_check through the in-process server (durable audit
// on), a no-op tool of a bare mcp-go server, and an appended 512-byte
// record fdatasync'd on the file system of the server's state directory,
// one of each per iteration so the machine's drift touches all three
// alike. It reports each one's p50 (tailops-p50-ms, bare-p50-ms,
// fdatasync-p50-ms), the target bare + fdatasync + 0.1 ms (target-p50-ms)
// and TailOps' p50 minus it (over-target-ms: at most 0 meets the target).
func BenchmarkCallOverhead(b *testing.B) {
	bare := benchSession(b, startBareServer(b), "bench-token-ignored")
	s := startInProcess(b)
	ours := benchSession(b, s.URL, mintBenchToken(b, s.Secret))
	f, err := os.OpenFile(filepath.Join(s.StateDir, "fdatasync-floor"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	record := append(bytes.Repeat([]byte("x"), 511), '\n')
	sync := func() {
		if _, err := f.Write(record); err != nil {
			b.Fatal(err)
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
	for range 20 {
		benchCall(b, bare, "noop")
		benchCall(b, ours, "health_check")
		sync()
	}
	tBare, tOurs, tSync := make([]time.Duration, b.N), make([]time.Duration, b.N), make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		benchCall(b, bare, "noop")
		t1 := time.Now()
		benchCall(b, ours, "health_check")
		t2 := time.Now()
		sync()
		tBare[i], tOurs[i], tSync[i] = t1.Sub(t0), t2.Sub(t1), time.Since(t2)
	}
	b.StopTimer()
	for _, d := range [][]time.Duration{tBare, tOurs, tSync} {
		slices.Sort(d)
	}
	p50Bare, p50Ours, p50Sync := ms(percentile(tBare, 50)), ms(percentile(tOurs, 50)), ms(percentile(tSync, 50))
	target := p50Bare + p50Sync + 0.1
	b.ReportMetric(p50Ours, "tailops-p50-ms")
	b.ReportMetric(p50Bare, "bare-p50-ms")
	b.ReportMetric(p50Sync, "fdatasync-p50-ms")
	b.ReportMetric(target, "target-p50-ms")
	b.ReportMetric(p50Ours-target, "over-target-ms")
	b.ReportMetric(ms(percentile(tOurs, 99)), "tailops-p99-ms")
}

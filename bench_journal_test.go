// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/journal/journaltest"
)

// The journal benchmark of issue 16: get_journal beside journalctl.
const (
	journalBenchUnit  = "bench3.service" // one of journalBenchUnits
	journalBenchUnits = 20
	journalBenchLines = 1000
)

// BenchmarkJournal compares get_journal with journalctl on the same
// journal, side by side in one run: the newest 1,000 entries of one unit
// (one entry in 20 is that unit's) from a journal of
// TAILOPS_BENCH_JOURNAL_MB megabytes (default 1024), written once by
// systemd-journal-remote (export format from a generator: 20 units, the
// fields journald adds to a service's stdout, messages of 60 to 200
// bytes, a new boot every 200,000 entries) and kept in
// /tmp/tailops-bench-journal-<MB>mb for the next run.
//
//   - tailops: `tailops serve --sandbox best-effort` (fully applied),
//     get_journal {"unit": "bench3.service", "lines": 1000, "max_bytes":
//     1048576} over MCP (HTTP, the official Go SDK client), audited; the
//     wall time of the call, client decoding included; memory: the
//     server's peak RSS during the call (VmHWM, reset before it through
//     /proc/PID/clear_refs) minus its RSS before it.
//   - journalctl: `journalctl -D DIR -u bench3.service -n 1000 -o json`,
//     its output read whole; the wall time from start to exit; memory:
//     its peak RSS (ru_maxrss), all of it: the process starts from
//     nothing.
//
// Each of the b.N rounds runs both, alternating which goes first, after
// one untimed call of each (the journal in the page cache for both).
// Reported: the medians, the ratio, and the largest memory figures; -v
// logs every round.
//
//	go test -run '^$' -bench BenchmarkJournal -benchtime 9x -count 1 -v .
func BenchmarkJournal(b *testing.B) {
	mb := 1024
	if s := os.Getenv("TAILOPS_BENCH_JOURNAL_MB"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("TAILOPS_BENCH_JOURNAL_MB %q: want a number of megabytes", s)
		}
		mb = n
	}
	journalctl, err := exec.LookPath("journalctl")
	if err != nil {
		b.Fatal("journalctl is missing: apt-get install systemd")
	}
	dir, files, size := benchJournalDir(b, mb)
	b.Logf("journal: %s, %d files, %.0f MB", dir, files, float64(size)/1e6)

	p := startBinary(b, b.TempDir(), "--tools", "get_journal", "--journal-dir", dir)
	if _, err := p.waitHealthy(30 * time.Second); err != nil {
		b.Fatal(err)
	}
	p.requireFullSandbox(b)
	cs := benchSession(b, p.url, mintBenchToken(b, p.secret(b)))
	args := map[string]any{"unit": journalBenchUnit, "lines": journalBenchLines, "max_bytes": 1 << 20}
	ours := func() (time.Duration, float64) {
		pid := strconv.Itoa(p.cmd.Process.Pid)
		if err := os.WriteFile("/proc/"+pid+"/clear_refs", []byte("5"), 0); err != nil {
			b.Fatalf("resetting the peak RSS: %v", err)
		}
		before := statusKB(b, pid, "VmRSS:")
		start := time.Now()
		res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "get_journal", Arguments: args})
		d := time.Since(start)
		if err != nil || res.IsError {
			b.Fatalf("get_journal: %v %v", err, res)
		}
		var out struct {
			Entries []struct{ Unit string } `json:"entries"`
		}
		raw, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(raw, &out); err != nil || len(out.Entries) != journalBenchLines || out.Entries[0].Unit != journalBenchUnit {
			b.Fatalf("get_journal returned %d entries (%v), want %d of %s", len(out.Entries), err, journalBenchLines, journalBenchUnit)
		}
		// The reset sets the peak to the RSS of that moment, which can be a
		// page above the RSS read right after it.
		return d, float64(max(0, statusKB(b, pid, "VmHWM:")-before)) * 1024 / 1e6
	}
	theirs := func() (time.Duration, float64) {
		cmd := exec.Command(journalctl, "-D", dir, "-u", journalBenchUnit, "-n", strconv.Itoa(journalBenchLines), "-o", "json", "--no-pager")
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		lines := 0
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			lines++
		}
		err = cmd.Wait()
		d := time.Since(start)
		if err != nil || lines != journalBenchLines {
			b.Fatalf("journalctl: %v, %d lines, want %d\n%s", err, lines, journalBenchLines, stderr.String())
		}
		return d, float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) * 1024 / 1e6
	}
	ours()
	theirs()
	var oursMS, theirsMS []float64
	var oursMem, theirsMem float64
	b.ResetTimer()
	for i := range b.N {
		var od, td time.Duration
		var om, tm float64
		if i%2 == 0 {
			od, om = ours()
			td, tm = theirs()
		} else {
			td, tm = theirs()
			od, om = ours()
		}
		oursMS, theirsMS = append(oursMS, ms(od)), append(theirsMS, ms(td))
		oursMem, theirsMem = max(oursMem, om), max(theirsMem, tm)
		b.Logf("round %d: tailops %.1f ms (+%.1f MB peak), journalctl %.1f ms (%.1f MB peak)", i, ms(od), om, ms(td), tm)
	}
	b.StopTimer()
	mo, mt := median(oursMS), median(theirsMS)
	b.ReportMetric(mo, "tailops-ms")
	b.ReportMetric(mt, "journalctl-ms")
	b.ReportMetric(mo/mt, "tailops/journalctl")
	b.ReportMetric(oursMem, "tailops-peak-growth-MB")
	b.ReportMetric(theirsMem, "journalctl-peak-MB")
	b.ReportMetric(float64(size)/1e6, "journal-MB")
	b.Logf("medians over %d rounds: tailops %.1f ms, journalctl %.1f ms (%.2f×); peak RSS growth tailops %.1f MB, journalctl peak %.1f MB",
		b.N, mo, mt, mo/mt, oursMem, theirsMem)
}

// statusKB reads a "Key: N kB" line of /proc/PID/status.
func statusKB(tb testing.TB, pid, key string) int64 {
	tb.Helper()
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) == 3 && f[0] == key {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatalf("no %s in /proc/%s/status", key, pid)
	return 0
}

// benchJournalDir returns the benchmark's journal directory of about mb
// megabytes, writing it the first time, and its number of files and size.
func benchJournalDir(tb testing.TB, mb int) (string, int, int64) {
	tb.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("tailops-bench-journal-%dmb", mb))
	done := filepath.Join(dir, "complete")
	if _, err := os.Stat(done); err != nil {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		start := time.Now()
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeBenchEntries(pw, dir, int64(mb)*1e6)) }()
		journaltest.WriteFrom(tb, filepath.Join(dir, "remote.journal"), journaltest.Layout{Compact: true, Keyed: true, Compress: true}, pr)
		if err := os.WriteFile(done, nil, 0o644); err != nil {
			tb.Fatal(err)
		}
		tb.Logf("wrote the journal in %s", time.Since(start).Round(time.Second))
	}
	n, size := journalDirSize(tb, dir)
	return dir, n, size
}

// journalDirSize counts the journal files in dir and their bytes.
func journalDirSize(tb testing.TB, dir string) (int, int64) {
	tb.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	n, size := 0, int64(0)
	for _, d := range des {
		if strings.Contains(d.Name(), ".journal") {
			fi, err := d.Info()
			if err != nil {
				tb.Fatal(err)
			}
			n, size = n+1, size+fi.Size()
		}
	}
	return n, size
}

// writeBenchEntries writes entries in export format to w until the
// journal files in dir hold size bytes.
func writeBenchEntries(w io.Writer, dir string, size int64) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	words := strings.Fields("connection accepted closed request served upstream timeout retry cache hit miss worker started stopped " +
		"healthy degraded queue depth flushed rotated checkpoint user session opened")
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	boot := ""
	for i := 0; ; i++ {
		if i%200000 == 0 {
			boot = fmt.Sprintf("%016x%016x", 0xb007+i, i)
		}
		if i%20000 == 0 && i > 0 {
			if _, sz := dirSizeQuiet(dir); sz >= size {
				return bw.Flush()
			}
		}
		u := i % journalBenchUnits
		unit := fmt.Sprintf("bench%d.service", u)
		var msg strings.Builder
		fmt.Fprintf(&msg, "req %d", i)
		for k := 0; msg.Len() < 60+(i*7919)%140; k++ {
			msg.WriteString(" " + words[(i+k*31)%len(words)])
		}
		fmt.Fprintf(&msg, " id=%x", uint32(i*2654435761))
		us := uint64(t0.Add(time.Duration(i) * 50 * time.Millisecond).UnixMicro())
		e := journaltest.Entry{Realtime: us, Monotonic: uint64(i%200000)*50000 + 1e6, Boot: boot, Fields: []journaltest.Field{
			{Name: "_TRANSPORT", Value: []byte("stdout")},
			{Name: "PRIORITY", Value: []byte(strconv.Itoa([]int{6, 6, 6, 5, 4, 6, 3, 7}[i%8]))},
			{Name: "SYSLOG_FACILITY", Value: []byte("3")},
			{Name: "SYSLOG_IDENTIFIER", Value: []byte(fmt.Sprintf("bench%d", u))},
			{Name: "_PID", Value: []byte(strconv.Itoa(1000 + u*10 + (i/100000)%10))},
			{Name: "_UID", Value: []byte("0")},
			{Name: "_GID", Value: []byte("0")},
			{Name: "_COMM", Value: []byte(fmt.Sprintf("bench%d", u))},
			{Name: "_EXE", Value: []byte(fmt.Sprintf("/usr/bin/bench%d", u))},
			{Name: "_CMDLINE", Value: []byte(fmt.Sprintf("/usr/bin/bench%d --serve", u))},
			{Name: "_CAP_EFFECTIVE", Value: []byte("0")},
			{Name: "_SELINUX_CONTEXT", Value: []byte("unconfined")},
			{Name: "_SYSTEMD_CGROUP", Value: []byte("/system.slice/" + unit)},
			{Name: "_SYSTEMD_UNIT", Value: []byte(unit)},
			{Name: "_SYSTEMD_SLICE", Value: []byte("system.slice")},
			{Name: "_SYSTEMD_INVOCATION_ID", Value: []byte(fmt.Sprintf("%032x", u*1000003+(i/200000)))},
			{Name: "_MACHINE_ID", Value: []byte("0123456789abcdef0123456789abcdef")},
			{Name: "_HOSTNAME", Value: []byte("benchhost")},
			{Name: "_STREAM_ID", Value: []byte(fmt.Sprintf("%032x", u+7))},
			{Name: "MESSAGE", Value: []byte(msg.String())},
		}}
		if err := journaltest.WriteExport(bw, e); err != nil {
			return err
		}
	}
}

// dirSizeQuiet is journalDirSize without a test to fail.
func dirSizeQuiet(dir string) (int, int64) {
	des, _ := os.ReadDir(dir)
	n, size := 0, int64(0)
	for _, d := range des {
		if fi, err := d.Info(); err == nil && strings.Contains(d.Name(), ".journal") {
			n, size = n+1, size+fi.Size()
		}
	}
	return n, size
}

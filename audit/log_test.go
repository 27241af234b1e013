// SPDX-License-Identifier: Apache-2.0

package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/labtest"
)

var zeros = strings.Repeat("0", 64)

func TestWriteAppendsOneChainedLinePerRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, path, nil)
	caller := &auth.Caller{Agent: "claude", TokenID: "jti-1", Method: auth.MethodHMAC,
		Scopes: []auth.Scope{auth.ScopeReadonly}, RemoteAddr: "100.64.0.7:5555"}
	local := time.FixedZone("CEST", 2*3600)

	var prevLine []byte
	for i := 1; i <= 5; i++ {
		r := &audit.Record{
			RequestID: fmt.Sprintf("req-%d", i), Tool: "read_file",
			Arguments: map[string]any{"path": "/var/log/syslog", "lines": i, "filter": "a && b <c>"},
			Caller:    caller, Risk: "low", Decision: audit.DecisionAllowed, Reason: "scope file:read",
			Result: audit.ResultSuccess, DurationNS: int64(i) * 1000,
		}
		if i == 3 {
			r.Time = time.Date(2026, 5, 1, 12, 0, 0, 123456789, local)
		}
		if err := l.Write(context.Background(), r); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
		lines := readLines(t, path)
		if len(lines) != i {
			t.Fatalf("after %d writes the file has %d lines", i, len(lines))
		}
		line := []byte(lines[i-1])
		wantPrev := zeros
		if prevLine != nil {
			wantPrev = sha256Hex(prevLine)
		}
		if r.Seq != uint64(i) || r.Prev != wantPrev {
			t.Errorf("record %d: Write filled seq %d prev %s, want %d %s", i, r.Seq, r.Prev, i, wantPrev)
		}
		var got audit.Record
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if got.Seq != uint64(i) || got.Prev != wantPrev || got.Event != audit.EventToolCall || got.Tool != "read_file" {
			t.Errorf("line %d: seq %d prev %s event %q tool %q", i, got.Seq, got.Prev, got.Event, got.Tool)
		}
		// The spliced line is exactly the JSON encoding of the record,
		// without HTML escaping.
		var again bytes.Buffer
		enc := json.NewEncoder(&again)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(&got); err != nil || !bytes.Equal(bytes.TrimSuffix(again.Bytes(), []byte("\n")), line) {
			t.Errorf("line %d is not the canonical encoding of its record:\n got %s\nwant %s", i, line, again.Bytes())
		}
		raw := decodeMap(t, line)
		if ts := raw["time"].(string); !strings.HasSuffix(ts, "Z") {
			t.Errorf("line %d: time %q is not UTC", i, ts)
		}
		for _, key := range []string{"approval", "duration_ns", "prev", "caller"} {
			if _, ok := raw[key]; !ok {
				t.Errorf("line %d: no %q field", i, key)
			}
		}
		if c := raw["caller"].(map[string]any); c["agent"] != "claude" || c["auth_method"] != "hmac" || c["remote_addr"] != "100.64.0.7:5555" {
			t.Errorf("line %d: caller %v", i, c)
		} else if ts, ok := c["tailscale"]; !ok || ts != nil {
			t.Errorf("line %d: caller.tailscale = %v, %v; want present and null", i, ts, ok)
		}
		prevLine = line
	}
	if got := decodeMap(t, []byte(readLines(t, path)[2]))["time"]; got != "2026-05-01T10:00:00.123456789Z" {
		t.Errorf("record 3 time = %v, want 2026-05-01T10:00:00.123456789Z", got)
	}
	assertMode(t, path, 0o600)

	var h struct {
		Seq  uint64 `json:"seq"`
		Hash string `json:"hash"`
	}
	data, err := os.ReadFile(path + ".head")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &h); err != nil || h.Seq != 5 || h.Hash != sha256Hex(prevLine) {
		t.Errorf("head = %s (%v), want seq 5 and the last line's hash", data, err)
	}
	// Fixed size, overwritten in place: the JSON, spaces, a newline.
	if want := fmt.Sprintf(`{"seq":5,"hash":"%s"}`, sha256Hex(prevLine)); len(data) != 128 ||
		string(data) != want+strings.Repeat(" ", 127-len(want))+"\n" {
		t.Errorf("head = %q, want %q padded with spaces to 127 bytes and a newline", data, want)
	}
	assertMode(t, path+".head", 0o600)
}

func TestWriteFillsDefaults(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, path, &audit.Options{Now: func() time.Time { return now }})
	caller := &auth.Caller{Agent: "stdio:root", Method: auth.MethodStdio}
	ctx := auth.WithCaller(context.Background(), caller)

	tests := []struct {
		name       string
		rec        audit.Record
		wantEvent  string
		wantTime   string
		wantCaller string
	}{
		{"zero record", audit.Record{}, "tool_call", "2026-01-02T03:04:05.000000006Z", "stdio:root"},
		{"explicit event", audit.Record{Event: "server_start"}, "server_start", "2026-01-02T03:04:05.000000006Z", "stdio:root"},
		{"explicit caller wins", audit.Record{Caller: &auth.Caller{Agent: "bot", Method: auth.MethodJWT}}, "tool_call", "2026-01-02T03:04:05.000000006Z", "bot"},
		{"explicit time", audit.Record{Time: time.Unix(0, 1)}, "tool_call", "1970-01-01T00:00:00.000000001Z", "stdio:root"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.rec
			if err := l.Write(ctx, &r); err != nil {
				t.Fatal(err)
			}
			m := decodeMap(t, []byte(readLines(t, path)[i]))
			if m["event"] != tt.wantEvent || m["time"] != tt.wantTime {
				t.Errorf("event %v time %v, want %v %v", m["event"], m["time"], tt.wantEvent, tt.wantTime)
			}
			if c, _ := m["caller"].(map[string]any); c == nil || c["agent"] != tt.wantCaller {
				t.Errorf("caller %v, want agent %s", m["caller"], tt.wantCaller)
			}
			if m["approval"] != nil {
				t.Errorf("approval = %v, want null", m["approval"])
			}
			if string(r.Event) != tt.wantEvent || r.Time.Location() != time.UTC {
				t.Errorf("Write left Event %q Time %v", r.Event, r.Time)
			}
		})
	}
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	t.Run("new directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "var", "tailops")
		path := filepath.Join(dir, "audit.log")
		l := openLog(t, path, nil)
		writeN(t, l, 1)
		assertMode(t, dir, os.ModeDir|0o700)
		assertMode(t, path, 0o600)
		assertMode(t, path+".lock", 0o600)
	})
	t.Run("existing file readable by others", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "audit.log")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		openLog(t, path, nil)
		assertMode(t, path, 0o600)
	})
}

func TestReopenContinuesChain(t *testing.T) {
	tests := []struct {
		name string
		// damage changes the closed log at path before it is reopened.
		damage func(t *testing.T, path string)
		// wantRepair is a substring of the log_repaired record Open must
		// write, or "" when Open must not write one.
		wantRepair string
		// wantSaved is what Open must save to a .torn-* file, if anything.
		wantSaved string
	}{
		{name: "clean restart", damage: func(*testing.T, string) {}},
		{
			name: "crash after rotating, before creating the new file",
			damage: func(t *testing.T, path string) {
				if err := os.Rename(path, path+".000001"); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "empty active file after rotation",
			damage: func(t *testing.T, path string) {
				if err := os.Rename(path, path+".000001"); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "torn record cut off",
			damage: func(t *testing.T, path string) {
				appendBytes(t, path, `{"seq":4,"time":"2026-0`)
			},
			wantRepair: "discarded 23 bytes of an incomplete record at offset",
			wantSaved:  `{"seq":4,"time":"2026-0`,
		},
		{
			name: "torn garbage without any newline in a fresh file",
			damage: func(t *testing.T, path string) {
				if err := os.Rename(path, path+".000001"); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte("\x00\x00\x00"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantRepair: "discarded 3 bytes of an incomplete record at offset 0",
			wantSaved:  "\x00\x00\x00",
		},
		{
			name: "whole record missing only its newline",
			damage: func(t *testing.T, path string) {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, bytes.TrimSuffix(data, []byte("\n")), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantRepair: "added the missing newline",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			l, err := audit.Open(path, &audit.Options{Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			writeN(t, l, 3)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			lastBefore := lastLine(t, path)
			tt.damage(t, path)

			var logged bytes.Buffer
			l = openLog(t, path, &audit.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			r := &audit.Record{Tool: "after_restart"}
			if err := l.Write(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			wantSeq, wantPrev := uint64(4), sha256Hex([]byte(lastBefore))
			if tt.wantRepair != "" {
				repair := decodeMap(t, []byte(readLines(t, path)[len(readLines(t, path))-2]))
				if repair["event"] != string(audit.EventLogRepaired) || !strings.Contains(fmt.Sprint(repair["reason"]), tt.wantRepair) {
					t.Errorf("record before the first new one = %v, want a log_repaired record saying %q", repair, tt.wantRepair)
				}
				if repair["seq"] != 4.0 || repair["prev"] != wantPrev {
					t.Errorf("repair record seq %v prev %v, want 4 %s", repair["seq"], repair["prev"], wantPrev)
				}
				if !strings.Contains(logged.String(), "level=WARN") || !strings.Contains(logged.String(), "offset=") {
					t.Errorf("no warning naming the offset was logged: %s", logged.String())
				}
				wantSeq, wantPrev = 5, sha256Hex([]byte(readLines(t, path)[len(readLines(t, path))-2]))
			}
			saved, err := filepath.Glob(path + ".torn-*")
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.wantSaved == "" && len(saved) > 0:
				t.Errorf("torn files %v saved, want none", saved)
			case tt.wantSaved != "" && len(saved) != 1:
				t.Errorf("torn files %v saved, want one", saved)
			case tt.wantSaved != "":
				if data, err := os.ReadFile(saved[0]); err != nil || string(data) != tt.wantSaved {
					t.Errorf("%s holds %q (%v), want %q", saved[0], data, err, tt.wantSaved)
				}
				assertMode(t, saved[0], 0o600)
			}
			if r.Seq != wantSeq || r.Prev != wantPrev {
				t.Errorf("first record after reopening: seq %d prev %s, want %d %s", r.Seq, r.Prev, wantSeq, wantPrev)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			n, p, err := audit.Verify(path)
			if err != nil || p != nil || n != int(wantSeq) {
				t.Errorf("Verify = %d, %v, %v; want %d records intact", n, p, err, wantSeq)
			}
		})
	}
}

func TestOpenRefusesDamagedLog(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		want   string
	}{
		{
			name: "last line not JSON",
			damage: func(t *testing.T, path string) {
				appendBytes(t, path, "not json\n")
			},
			want: "): not valid JSON; run `tailops audit verify",
		},
		{
			name: "last record deleted",
			damage: func(t *testing.T, path string) {
				lines := readLines(t, path)
				writeLines(t, path, lines[:len(lines)-1])
			},
			want: "log ends at seq 2 but " + "HEAD says 3 (records deleted at the end?)",
		},
		{
			name: "whole log deleted",
			damage: func(t *testing.T, path string) {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			},
			want: "log ends at seq 0 but HEAD says 3",
		},
		{
			name: "last record edited",
			damage: func(t *testing.T, path string) {
				lines := readLines(t, path)
				lines[2] = strings.Replace(lines[2], `"req-3"`, `"req-X"`, 1)
				writeLines(t, path, lines)
			},
			want: "last record (seq 3) does not match HEAD (record altered?)",
		},
		{
			name: "rotated file with a torn end",
			damage: func(t *testing.T, path string) {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path+".000001", data[:len(data)-5], 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			},
			want: "ends with an incomplete line",
		},
		{
			// Found in review: the head was compared only when it named
			// the log's last seq.
			name: "replaced by a longer chain",
			damage: func(t *testing.T, path string) {
				writeLines(t, path, foreignChain(t, 10))
			},
			want: "the log holds no record seq 3 as HEAD names it in its last 4096 records (log replaced by another chain",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			l := openLog(t, path, nil)
			writeN(t, l, 3)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, path)
			l, err := audit.Open(path, &audit.Options{Logger: quietLogger()})
			if err == nil {
				l.Close()
				t.Fatal("Open succeeded on a damaged log")
			}
			want := strings.ReplaceAll(tt.want, "HEAD", path+".head")
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Open error = %q, want it to contain %q", err, want)
			}
		})
	}
}

// foreignChain returns the lines of another log of n records.
func foreignChain(t *testing.T, n int) []string {
	t.Helper()
	other := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, other, nil)
	writeN(t, l, n)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return readLines(t, other)
}

// TestOpenHeadBehindOrUnreadable: a head a batch behind the log (it is
// not fsync'd, and a crash can leave it so) names a record the log holds:
// Open goes on. An unreadable head is ignored, and an EventLogRepaired
// record says that a cut end before it cannot be ruled out, so the
// restart leaves a trace.
func TestOpenHeadBehindOrUnreadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, path, nil)
	writeN(t, l, 3)
	behind, err := os.ReadFile(path + ".head")
	if err != nil {
		t.Fatal(err)
	}
	writeN(t, l, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".head", behind, 0o600); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, path, nil)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".head", []byte("garbled"), 0o600); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, path, nil)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	var r audit.Record
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil || r.Event != audit.EventLogRepaired || !strings.Contains(r.Reason, "was unreadable and was ignored") {
		t.Errorf("the record after an unreadable head: %v %+v", err, r)
	}
	if n, p, err := audit.Verify(path); err != nil || p != nil || n != 6 {
		t.Errorf("Verify = %d, %v, %v", n, p, err)
	}
}

func TestOpenRefusesSecondWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	openLog(t, path, nil)
	l, err := audit.Open(path, nil)
	if err == nil {
		l.Close()
		t.Fatal("second Open of the same log succeeded")
	}
	if !errors.Is(err, syscall.EWOULDBLOCK) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Open: %v, want an in-use error", err)
	}
}

func TestOpenFailsWhenDirectoryCannotBeCreated(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(file, "audit.log")
	l, err := audit.Open(path, nil)
	if err == nil {
		l.Close()
		t.Fatal("Open under a regular file succeeded")
	}
	if !errors.Is(err, syscall.ENOTDIR) || !strings.Contains(err.Error(), "opening audit log "+path+": creating directory") {
		t.Errorf("Open error = %v; want ENOTDIR with context", err)
	}
}

func TestWriteFailsClosed(t *testing.T) {
	// A log on a full file system: every write fails with ENOSPC.
	path := fullDiskLog(t)
	l := openLog(t, path, &audit.Options{Logger: quietLogger()})
	if err := l.Healthy(); err != nil {
		t.Fatalf("Healthy before any write: %v", err)
	}

	err := l.Write(context.Background(), &audit.Record{Tool: "restart_container"})
	if err == nil {
		t.Fatal("Write to a full disk succeeded")
	}
	if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("Write error %v does not wrap ENOSPC and ErrUnavailable", err)
	}
	herr := l.Healthy()
	if herr == nil || !errors.Is(herr, syscall.ENOSPC) || !errors.Is(herr, audit.ErrUnavailable) {
		t.Errorf("Healthy after a failed write = %v", herr)
	}

	// Later writes fail at once, without touching the file.
	syncs := l.Syncs()
	for i := range 3 {
		err := l.Write(context.Background(), &audit.Record{Tool: "read_file"})
		if !errors.Is(err, audit.ErrUnavailable) || !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("write %d after failure: %v", i, err)
		}
	}
	if l.Syncs() != syncs {
		t.Errorf("failed log still wrote: syncs %d → %d", syncs, l.Syncs())
	}
	if _, err := os.Stat(path + ".head"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("head file written for a failed record: %v", err)
	}
}

func TestRotationFailureFailsClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, path, &audit.Options{MaxSize: 1, Logger: quietLogger()})
	writeN(t, l, 1) // first record: file was empty, no rotation
	// Something occupies the next rotated name: rotation must fail, and
	// with it the write, rather than overwrite it.
	if err := os.Mkdir(path+".000001", 0o700); err != nil {
		t.Fatal(err)
	}
	err := l.Write(context.Background(), &audit.Record{Tool: "x"})
	if err == nil || !errors.Is(err, audit.ErrUnavailable) || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("Write with a blocked rotation = %v", err)
	}
	if l.Healthy() == nil {
		t.Error("log healthy after a failed rotation")
	}
	if lines := readLines(t, path); len(lines) != 1 {
		t.Errorf("active file has %d lines, want the 1 durable record", len(lines))
	}
	// The log recovers by itself, as a restart would: the next rotation
	// takes the next free name, and the chain goes on.
	waitHealthy(t, l)
	must(t, os.Remove(path+".000001"))
	if n, p, err := audit.Verify(path); err != nil || p != nil || n != 2 {
		t.Errorf("Verify after recovery = %d, %v, %v; want the record and the log_recovered record", n, p, err)
	}
	if m := decodeMap(t, []byte(lastLine(t, path))); m["event"] != string(audit.EventLogRecovered) || !strings.Contains(m["error"].(string), "already exists") {
		t.Errorf("last record %v, want log_recovered naming the blocked rotation", m)
	}
}

func TestCloseRefusesLaterWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := audit.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeN(t, l, 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := l.Healthy(); !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("Healthy after Close = %v", err)
	}
	if err := l.Write(context.Background(), &audit.Record{}); !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("Write after Close = %v", err)
	}
	if l.Path() != path {
		t.Errorf("Path() = %q", l.Path())
	}
}

// TestCommitDelay: a lone writer's records never wait for company, and
// writers in closed loops (each Write waits for its record, as a call
// does) get commits that wait for more records. (What the wait saves is
// measured, not tested: BENCHMARKS.md, "commit delay".)
func TestCommitDelay(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "audit.log"), nil)
	for i := range 50 {
		if err := l.Write(context.Background(), &audit.Record{RequestID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if d := l.CommitDelays(); d != 0 {
		t.Errorf("a lone writer's commits waited %d times", d)
	}
	const writers, each = 20, 30
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := l.Write(context.Background(), &audit.Record{RequestID: fmt.Sprint(w, "-", i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if l.CommitDelays() == 0 {
		t.Errorf("%d closed-loop writers' %d records: no commit waited for more", writers, writers*each)
	}
}

func TestGroupCommit(t *testing.T) {
	const writers = 200
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, path, nil)

	start := make(chan struct{})
	seqs := make([]uint64, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			<-start
			r := &audit.Record{RequestID: fmt.Sprint(i), Tool: "health_check"}
			errs[i] = l.Write(context.Background(), r)
			seqs[i] = r.Seq
		})
	}
	close(start)
	wg.Wait()

	seen := make(map[uint64]bool)
	for i := range writers {
		if errs[i] != nil {
			t.Fatalf("writer %d: %v", i, errs[i])
		}
		if seqs[i] < 1 || seqs[i] > writers || seen[seqs[i]] {
			t.Fatalf("writer %d got seq %d (duplicate or out of range)", i, seqs[i])
		}
		seen[seqs[i]] = true
	}
	// Every record is in the file under the seq its Write returned.
	byID := make(map[string]uint64)
	for _, line := range readLines(t, path) {
		m := decodeMap(t, []byte(line))
		byID[m["request_id"].(string)] = uint64(m["seq"].(float64))
	}
	for i := range writers {
		if byID[fmt.Sprint(i)] != seqs[i] {
			t.Errorf("writer %d: file has seq %d, Write returned %d", i, byID[fmt.Sprint(i)], seqs[i])
		}
	}
	n, p, err := audit.Verify(path)
	if err != nil || p != nil || n != writers {
		t.Errorf("Verify = %d, %v, %v", n, p, err)
	}
	if s := l.Syncs(); s >= writers || s < 1 {
		t.Errorf("%d fsyncs for %d concurrent writes; want fewer (group commit)", s, writers)
	} else {
		t.Logf("%d writes, %d fsyncs", writers, s)
	}
}

// BenchmarkWriteParallel measures durable (fsync'd) records per second
// with 1, 16 and 64 writers per CPU.
func BenchmarkWriteParallel(b *testing.B) {
	for _, p := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%dxGOMAXPROCS", p), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "audit.log")
			l, err := audit.Open(path, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			caller := &auth.Caller{Agent: "bench", Method: auth.MethodHMAC, Scopes: []auth.Scope{auth.ScopeReadonly}}
			b.SetParallelism(p)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					err := l.Write(context.Background(), &audit.Record{
						RequestID: "req", Tool: "read_file", Caller: caller, Risk: "low",
						Arguments: map[string]any{"path": "/var/log/syslog", "lines": 100},
						Decision:  audit.DecisionAllowed, Result: audit.ResultSuccess, DurationNS: 1234,
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(l.Syncs())/float64(b.N), "fsyncs/record")
		})
	}
}

// BenchmarkWriteSequential measures one writer waiting for each record to
// be durable, as a single client's tool calls do: ns/op is the time a
// call spends on its audit record (encoding, write, fsync, head update).
func BenchmarkWriteSequential(b *testing.B) {
	l := openLog(b, filepath.Join(b.TempDir(), "audit.log"), nil)
	caller := &auth.Caller{Agent: "bench", Method: auth.MethodHMAC, Scopes: []auth.Scope{auth.ScopeReadonly}}
	for b.Loop() {
		if err := l.Write(context.Background(), &audit.Record{
			RequestID: "req", Tool: "health_check", Caller: caller, Risk: "low",
			Decision: audit.DecisionAllowed, Result: audit.ResultSuccess, DurationNS: 1234,
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(l.Syncs())/float64(b.N), "fsyncs/record")
}

// BenchmarkHealthy measures what a server pays before each call to learn
// whether the log can take records: the check that the file at the log's
// path is still the one being written (one stat(2)). Each commit pays it
// once too.
func BenchmarkHealthy(b *testing.B) {
	l := openLog(b, filepath.Join(b.TempDir(), "audit.log"), nil)
	writeN(b, l, 1)
	for b.Loop() {
		if err := l.Healthy(); err != nil {
			b.Fatal(err)
		}
	}
}

// openLog opens a log that is closed when the test ends.
func openLog(t testing.TB, path string, opts *audit.Options) *audit.Log {
	t.Helper()
	if opts == nil {
		opts = &audit.Options{}
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	l, err := audit.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// writeN writes n tool-call records with request ids req-1….
func writeN(t testing.TB, l *audit.Log, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		r := &audit.Record{
			RequestID: fmt.Sprintf("req-%d", i), Tool: "run_command",
			Arguments: map[string]any{"command": fmt.Sprintf("echo %d", i)},
			Decision:  audit.DecisionAllowed, Result: audit.ResultSuccess,
		}
		if err := l.Write(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// readLines returns the lines of a file, without their newlines; a last
// line without a newline is included.
func readLines(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// writeLines replaces a file with lines, each newline-terminated.
func writeLines(t testing.TB, path string, lines []string) {
	t.Helper()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func lastLine(t testing.TB, path string) string {
	t.Helper()
	lines := readLines(t, path)
	return lines[len(lines)-1]
}

func appendBytes(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func decodeMap(t testing.TB, line []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("decoding %s: %v", line, err)
	}
	return m
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func assertMode(t testing.TB, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (os.ModeDir | os.ModePerm); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}

// TestWriteReturnsAfterFsync: a lone Write returns only once its record is
// in the file and an fsync has run after it was written.
func TestWriteReturnsAfterFsync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, path, nil)
	for i := range 3 {
		before := l.Syncs()
		if err := l.Write(context.Background(), &audit.Record{RequestID: fmt.Sprint(i), Tool: "health_check"}); err != nil {
			t.Fatal(err)
		}
		if l.Syncs() <= before {
			t.Fatalf("write %d returned before an fsync (%d fsyncs before and after)", i, before)
		}
		if lines := readLines(t, path); len(lines) < i+1 || !strings.Contains(lines[len(lines)-1], fmt.Sprintf(`"request_id":"%d"`, i)) {
			t.Fatalf("write %d returned before its record was in the file", i)
		}
	}
}

// TestOpenFollowsNoSymlinks: a symbolic link planted in the audit
// directory as the log, its head or its lock file (by another user who
// can write there) is never written through: Open fails or the record is
// written elsewhere, and the link's target is left as it was.
func TestOpenFollowsNoSymlinks(t *testing.T) {
	for _, suffix := range []string{"", ".head", ".lock"} {
		t.Run("audit.log"+suffix, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "audit.log")
			// A first run leaves a log and its head; then the file is
			// swapped for a link to a victim.
			l := openLog(t, path, nil)
			if err := l.Write(context.Background(), &audit.Record{Tool: "health_check"}); err != nil {
				t.Fatal(err)
			}
			l.Close()
			victim := filepath.Join(t.TempDir(), "passwd")
			const original = "root:x:0:0:root:/root:/bin/bash\n"
			if err := os.WriteFile(victim, []byte(original), 0o644); err != nil {
				t.Fatal(err)
			}
			os.Remove(path + suffix)
			if err := os.Symlink(victim, path+suffix); err != nil {
				t.Fatal(err)
			}
			l, err := audit.Open(path, &audit.Options{Logger: quietLogger()})
			if err == nil {
				l.Write(context.Background(), &audit.Record{Tool: "health_check"})
				l.Close()
			}
			if suffix == "" && (err == nil || !strings.Contains(err.Error(), path+" is a symbolic link, which the audit log never follows")) {
				t.Errorf("Open of a linked log: %v, want it refused, saying why", err)
			}
			if b, _ := os.ReadFile(victim); string(b) != original {
				t.Errorf("the link's target was written: %q", b)
			}
			// A link to a file that does not exist is not created either
			// (/etc/nologin would lock users out).
			absent := filepath.Join(t.TempDir(), "nologin")
			os.Remove(path + suffix)
			if err := os.Symlink(absent, path+suffix); err != nil {
				t.Fatal(err)
			}
			if l, err := audit.Open(path, &audit.Options{Logger: quietLogger()}); err == nil {
				l.Write(context.Background(), &audit.Record{Tool: "health_check"})
				l.Close()
			}
			if _, err := os.Lstat(absent); err == nil {
				t.Errorf("the link's absent target was created")
			}
		})
	}
}

// fullDiskLog returns the path of an audit log (not yet created) on a
// small tmpfs that is full: its first write fails with ENOSPC.
func fullDiskLog(t *testing.T) string {
	t.Helper()
	mnt := labtest.Tmpfs(t, "64k")
	labtest.Fill(t, filepath.Join(mnt, "filler"))
	return filepath.Join(mnt, "audit.log")
}

// SPDX-License-Identifier: Apache-2.0

package audit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/labtest"
)

// TestLogNoticesItsFileIsGone: once the file at the log's path is not the
// one being written — removed, renamed away, replaced — Healthy says so at
// once, without a write, and every Write fails: no record goes to a file
// nobody can read at that path. The log recovers by itself when what is at
// the path again ends with the last record written (the file renamed
// back, or replaced by a copy of itself), and stays unavailable otherwise.
func TestLogNoticesItsFileIsGone(t *testing.T) {
	tests := []struct {
		name string
		// damage changes the files under the open log at path.
		damage func(t *testing.T, path string)
		want   string
		// writeFirst: a Write notices it, before anything asks Healthy.
		writeFirst bool
		// repair, if set, restores the log; the log must then recover.
		repair func(t *testing.T, path string)
	}{
		{
			name:       "removed",
			damage:     func(t *testing.T, path string) { must(t, os.Remove(path)) },
			want:       "was removed or renamed while it was being written",
			writeFirst: true,
		},
		{
			name:   "renamed",
			damage: func(t *testing.T, path string) { must(t, os.Rename(path, path+".moved")) },
			want:   "was removed or renamed while it was being written",
		},
		{
			name:   "renamed and renamed back",
			damage: func(t *testing.T, path string) { must(t, os.Rename(path, path+".moved")) },
			want:   "was removed or renamed while it was being written",
			repair: func(t *testing.T, path string) { must(t, os.Rename(path+".moved", path)) },
		},
		{
			name: "replaced by another log",
			damage: func(t *testing.T, path string) {
				other := filepath.Join(t.TempDir(), "audit.log")
				l := openLog(t, other, nil)
				writeN(t, l, 1)
				must(t, l.Close())
				data, err := os.ReadFile(other)
				must(t, err)
				must(t, os.WriteFile(path+".new", data, 0o600))
				must(t, os.Rename(path+".new", path))
			},
			want:       "was replaced by another file while it was being written",
			writeFirst: true,
		},
		{
			// Found in review: a longer chain was taken as the log's own.
			name: "replaced by a longer chain",
			damage: func(t *testing.T, path string) {
				writeLines(t, path+".new", foreignChain(t, 10))
				must(t, os.Rename(path+".new", path))
			},
			want:       "was replaced by another file while it was being written",
			writeFirst: true,
		},
		{
			name: "replaced by a copy of itself (an editor's save)",
			damage: func(t *testing.T, path string) {
				data, err := os.ReadFile(path)
				must(t, err)
				must(t, os.WriteFile(path+".new", data, 0o600))
				must(t, os.Rename(path+".new", path))
			},
			want:   "was replaced by another file while it was being written",
			repair: func(*testing.T, string) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			l := openLog(t, path, nil)
			writeN(t, l, 3)
			tt.damage(t, path)
			before := snapshot(t, path)

			check := []func() (string, error){
				func() (string, error) { return "Healthy", l.Healthy() },
				func() (string, error) {
					return "Write", l.Write(context.Background(), &audit.Record{Tool: "stop_container"})
				},
			}
			if tt.writeFirst {
				check[0], check[1] = check[1], check[0]
			}
			for _, c := range check {
				what, err := c()
				if !errors.Is(err, audit.ErrUnavailable) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
					t.Fatalf("%s after the file changed = %v, want ErrUnavailable naming %s: %q", what, err, path, tt.want)
				}
			}
			if after := snapshot(t, path); after != before {
				t.Errorf("a record was written after the file changed:\nbefore %q\nafter  %q", before, after)
			}

			if tt.repair == nil {
				// Retries happen once a second; the log must stay unavailable.
				time.Sleep(1200 * time.Millisecond)
				if err := l.Healthy(); err == nil {
					t.Fatal("the log recovered although its file is gone or another log")
				}
				if err := l.Write(context.Background(), &audit.Record{Tool: "stop_container"}); err == nil {
					t.Fatal("Write succeeded although the log's file is gone or another log")
				}
				return
			}
			tt.repair(t, path)
			waitHealthy(t, l)
			r := &audit.Record{Tool: "after"}
			if err := l.Write(context.Background(), r); err != nil {
				t.Fatalf("Write after recovery: %v", err)
			}
			recovered := decodeMap(t, []byte(readLines(t, path)[3]))
			if recovered["event"] != string(audit.EventLogRecovered) || recovered["seq"] != 4.0 ||
				!strings.Contains(recovered["reason"].(string), "records that could not be written: 1 ") ||
				!strings.Contains(recovered["error"].(string), tt.want) {
				t.Errorf("record after the outage = %v, want a log_recovered record with the outage", recovered)
			}
			if r.Seq != 5 {
				t.Errorf("first record after recovery has seq %d, want 5", r.Seq)
			}
			if n, p, err := audit.Verify(path); err != nil || p != nil || n != 5 {
				t.Errorf("Verify = %d, %v, %v; want 5 records intact", n, p, err)
			}
		})
	}
}

// TestLogRecoversWhenSpaceReturns fills a real file system under the log
// until a write fails, then frees space: the log must recover by itself,
// with the chain continuing and a record of the outage.
func TestLogRecoversWhenSpaceReturns(t *testing.T) {
	mnt := labtest.Tmpfs(t, "64k")
	path := filepath.Join(mnt, "audit.log")
	l := openLog(t, path, nil)
	writeN(t, l, 2)
	labtest.Fill(t, filepath.Join(mnt, "filler"))

	written := 2
	var err error
	// Records bigger than a page: each needs a page the full disk has not.
	big := &audit.Record{Tool: "stop_container", Arguments: map[string]any{"pad": strings.Repeat("x", 5000)}}
	for ; written < 100; written++ {
		if err = l.Write(context.Background(), big); err != nil {
			break
		}
	}
	if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("writing to a full disk: %v after %d records", err, written)
	}
	if err := l.Healthy(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Healthy on a full disk = %v", err)
	}
	must(t, os.Remove(filepath.Join(mnt, "filler")))
	waitHealthy(t, l)
	if err := l.Write(context.Background(), big); err != nil {
		t.Fatalf("Write once space is back: %v", err)
	}
	lines := readLines(t, path)
	var outage map[string]any
	for _, line := range lines {
		if m := decodeMap(t, []byte(line)); m["event"] == string(audit.EventLogRecovered) {
			outage = m
		}
	}
	if outage == nil || !strings.Contains(outage["error"].(string), "no space left on device") ||
		!strings.Contains(outage["reason"].(string), "the audit log was unavailable for") {
		t.Errorf("no log_recovered record naming the full disk: %v", outage)
	}
	if n, p, err := audit.Verify(path); err != nil || p != nil || n != len(lines) {
		t.Errorf("Verify = %d, %v, %v; want all %d records intact", n, p, err, len(lines))
	}
}

// waitHealthy waits for an unavailable log to recover (it retries once a
// second).
func waitHealthy(t *testing.T, l *audit.Log) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = l.Healthy(); err == nil {
			return
		}
	}
	t.Fatalf("the log did not recover: %v", err)
}

// snapshot is what the files beside path hold, for comparison.
func snapshot(t *testing.T, path string) string {
	t.Helper()
	var b strings.Builder
	names, _ := filepath.Glob(path + "*")
	for _, n := range names {
		if strings.HasSuffix(n, ".lock") || strings.HasSuffix(n, ".head") {
			continue
		}
		data, _ := os.ReadFile(n)
		b.WriteString(filepath.Base(n) + ":" + string(data) + "\n")
	}
	return b.String()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

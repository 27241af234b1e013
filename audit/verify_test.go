// SPDX-License-Identifier: Apache-2.0

package audit_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tailops/tailops/audit"
)

// chain is a closed log of 12 records over at least three files, loaded
// for a test to damage.
type chain struct {
	path  string
	files []string
	lines [][]string // per file
}

func newChain(t *testing.T) *chain {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	// About 250 bytes a record: four records a file.
	l, err := audit.Open(path, &audit.Options{MaxSize: 1100, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	writeN(t, l, 12)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	c := &chain{path: path}
	if c.files, err = audit.Files(path); err != nil {
		t.Fatal(err)
	}
	for _, f := range c.files {
		c.lines = append(c.lines, readLines(t, f))
	}
	if len(c.files) < 3 || len(c.lines[0]) < 3 || len(c.lines[1]) < 2 || len(c.lines[len(c.files)-1]) < 2 {
		t.Fatalf("fixture layout %v does not have the shape the tests need", c.counts())
	}
	return c
}

func (c *chain) counts() []int {
	var n []int
	for _, ls := range c.lines {
		n = append(n, len(ls))
	}
	return n
}

// at returns the file and 0-based line index of record seq.
func (c *chain) at(seq int) (file, line int) {
	for fi, ls := range c.lines {
		if seq <= len(ls) {
			return fi, seq - 1
		}
		seq -= len(ls)
	}
	panic("no such record")
}

// first returns the seq of the first record of file fi.
func (c *chain) first(fi int) int {
	seq := 1
	for _, ls := range c.lines[:fi] {
		seq += len(ls)
	}
	return seq
}

func (c *chain) line(seq int) string {
	fi, li := c.at(seq)
	return c.lines[fi][li]
}

func (c *chain) set(seq int, s string) {
	fi, li := c.at(seq)
	c.lines[fi][li] = s
}

func (c *chain) save(t *testing.T) {
	t.Helper()
	for i, f := range c.files {
		writeLines(t, f, c.lines[i])
	}
}

func (c *chain) active() int { return len(c.files) - 1 }

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name string
		// damage changes the log on disk and returns the problem Verify must
		// report; a zero Problem means the log is intact.
		damage func(t *testing.T, c *chain) audit.Problem
	}{
		{
			name:   "intact rotated set",
			damage: func(*testing.T, *chain) audit.Problem { return audit.Problem{} },
		},
		{
			name: "edited argument value",
			damage: func(t *testing.T, c *chain) audit.Problem {
				c.set(2, strings.Replace(c.line(2), `"echo 2"`, `"echo 7"`, 1))
				c.save(t)
				fi, li := c.at(3)
				return audit.Problem{File: c.files[fi], Line: li + 1, Seq: 3, Reason: "record 3: prev hash does not match record 2"}
			},
		},
		{
			name: "inserted copy of an earlier record",
			damage: func(t *testing.T, c *chain) audit.Problem {
				fi, li := c.at(3)
				c.lines[fi] = slices.Insert(c.lines[fi], li+1, c.line(2))
				c.save(t)
				return audit.Problem{File: c.files[fi], Line: li + 2, Seq: 2, Reason: "record 2: seq 2 follows 3 (duplicate or out of order)"}
			},
		},
		{
			name: "inserted forged record with the next seq and a correct prev",
			damage: func(t *testing.T, c *chain) audit.Problem {
				forged := fmt.Sprintf(`{"seq":4,"time":"2026-01-01T00:00:00Z","event":"tool_call","tool":"noop","approval":null,"duration_ns":0,"prev":%q}`,
					sha256Hex([]byte(c.line(3))))
				fi, li := c.at(4)
				c.lines[fi] = slices.Insert(c.lines[fi], li, forged)
				c.save(t)
				return audit.Problem{File: c.files[fi], Line: li + 2, Seq: 4, Reason: "record 4: seq 4 follows 4 (duplicate or out of order)"}
			},
		},
		{
			name: "deleted line in the middle",
			damage: func(t *testing.T, c *chain) audit.Problem {
				fi, li := c.at(2)
				c.lines[fi] = slices.Delete(c.lines[fi], li, li+1)
				c.save(t)
				return audit.Problem{File: c.files[fi], Line: li + 1, Seq: 3, Reason: "record 3: seq 3 follows 1 (records missing)"}
			},
		},
		{
			name: "deleted and later records renumbered",
			damage: func(t *testing.T, c *chain) audit.Problem {
				for seq := 6; seq <= 12; seq++ {
					c.set(seq, strings.Replace(c.line(seq), fmt.Sprintf(`{"seq":%d,`, seq), fmt.Sprintf(`{"seq":%d,`, seq-1), 1))
				}
				fi, li := c.at(5)
				c.lines[fi] = slices.Delete(c.lines[fi], li, li+1)
				c.save(t)
				fi, li = c.at(5) // old record 6, now seq 5
				return audit.Problem{File: c.files[fi], Line: li + 1, Seq: 5, Reason: "record 5: prev hash does not match record 4"}
			},
		},
		{
			name: "deleted last line",
			damage: func(t *testing.T, c *chain) audit.Problem {
				a := c.active()
				c.lines[a] = c.lines[a][:len(c.lines[a])-1]
				c.save(t)
				return audit.Problem{File: c.path, Line: len(c.lines[a]), Seq: 11, Reason: "file ends at seq 11 but head says 12 (records deleted at the end)"}
			},
		},
		{
			name: "edited last line",
			damage: func(t *testing.T, c *chain) audit.Problem {
				c.set(12, strings.Replace(c.line(12), `"allowed"`, `"denied"`, 1))
				c.save(t)
				a := c.active()
				return audit.Problem{File: c.path, Line: len(c.lines[a]), Seq: 12, Reason: "record 12: hash does not match the head file (last record altered)"}
			},
		},
		{
			name: "reordered lines",
			damage: func(t *testing.T, c *chain) audit.Problem {
				two, three := c.line(2), c.line(3)
				c.set(2, three)
				c.set(3, two)
				c.save(t)
				fi, li := c.at(2)
				return audit.Problem{File: c.files[fi], Line: li + 1, Seq: 3, Reason: "record 3: seq 3 follows 1 (records missing)"}
			},
		},
		{
			name: "edited first record of a rotated-in file",
			damage: func(t *testing.T, c *chain) audit.Problem {
				s := c.first(1)
				c.set(s, strings.Replace(c.line(s), fmt.Sprintf(`"echo %d"`, s), `"rm -rf /"`, 1))
				c.save(t)
				return audit.Problem{File: c.files[1], Line: 2, Seq: uint64(s + 1), Reason: fmt.Sprintf("record %d: prev hash does not match record %d", s+1, s)}
			},
		},
		{
			name: "edited prev of the first record of a rotated-in file",
			damage: func(t *testing.T, c *chain) audit.Problem {
				s := c.first(1)
				line := []byte(c.line(s))
				i := strings.Index(c.line(s), `"prev":"`) + len(`"prev":"`)
				if line[i] == '0' { // change one hex digit
					line[i] = '1'
				} else {
					line[i] = '0'
				}
				c.set(s, string(line))
				c.save(t)
				return audit.Problem{File: c.files[1], Line: 1, Seq: uint64(s), Reason: fmt.Sprintf("record %d: prev hash does not match record %d", s, s-1)}
			},
		},
		{
			name: "deleted last record of a rotated file",
			damage: func(t *testing.T, c *chain) audit.Problem {
				e := c.first(1) - 1
				c.lines[0] = c.lines[0][:len(c.lines[0])-1]
				c.save(t)
				return audit.Problem{File: c.files[1], Line: 1, Seq: uint64(e + 1), Reason: fmt.Sprintf("record %d: seq %d follows %d (records missing)", e+1, e+1, e-1)}
			},
		},
		{
			name: "deleted oldest rotated file",
			damage: func(t *testing.T, c *chain) audit.Problem {
				if err := os.Remove(c.files[0]); err != nil {
					t.Fatal(err)
				}
				s := c.first(1)
				return audit.Problem{File: c.files[1], Line: 1, Seq: uint64(s), Reason: fmt.Sprintf("record %d: chain starts at seq %d, not 1 (earlier records missing)", s, s)}
			},
		},
		{
			name: "deleted a middle rotated file",
			damage: func(t *testing.T, c *chain) audit.Problem {
				if err := os.Remove(c.files[1]); err != nil {
					t.Fatal(err)
				}
				s := c.first(2)
				return audit.Problem{File: c.files[2], Line: 1, Seq: uint64(s), Reason: fmt.Sprintf("record %d: seq %d follows %d (records missing)", s, s, c.first(1)-1)}
			},
		},
		{
			name: "line that is not JSON",
			damage: func(t *testing.T, c *chain) audit.Problem {
				c.set(3, "garbage")
				c.save(t)
				return audit.Problem{File: c.files[0], Line: 3, Reason: "line 3: not valid JSON"}
			},
		},
		{
			name: "JSON line that is not a record",
			damage: func(t *testing.T, c *chain) audit.Problem {
				c.set(3, `{"hello":"world"}`)
				c.save(t)
				return audit.Problem{File: c.files[0], Line: 3, Reason: "line 3: not an audit record (no seq or prev)"}
			},
		},
		{
			name: "empty line",
			damage: func(t *testing.T, c *chain) audit.Problem {
				c.lines[0] = slices.Insert(c.lines[0], 1, "")
				c.save(t)
				return audit.Problem{File: c.files[0], Line: 2, Reason: "line 2: not valid JSON"}
			},
		},
		{
			name: "torn last line",
			damage: func(t *testing.T, c *chain) audit.Problem {
				data, err := os.ReadFile(c.path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(c.path, data[:len(data)-10], 0o600); err != nil {
					t.Fatal(err)
				}
				n := len(c.lines[c.active()])
				return audit.Problem{File: c.path, Line: n, Reason: fmt.Sprintf("line %d: incomplete record at end of file (no trailing newline)", n)}
			},
		},
		{
			name: "garbled head file",
			damage: func(t *testing.T, c *chain) audit.Problem {
				if err := os.WriteFile(c.path+".head", []byte("{\"seq\":"), 0o600); err != nil {
					t.Fatal(err)
				}
				return audit.Problem{File: c.path + ".head", Reason: `head file is not {"seq":N,"hash":"<64 hex>"}`}
			},
		},
		{
			name: "head file removed with the last line (not detectable)",
			damage: func(t *testing.T, c *chain) audit.Problem {
				a := c.active()
				c.lines[a] = c.lines[a][:len(c.lines[a])-1]
				c.save(t)
				if err := os.Remove(c.path + ".head"); err != nil {
					t.Fatal(err)
				}
				return audit.Problem{}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChain(t)
			want := tt.damage(t, c)
			n, p, err := audit.Verify(c.path)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if want == (audit.Problem{}) {
				if p != nil {
					t.Fatalf("Verify found %v in an intact log", p)
				}
				if n < 11 {
					t.Errorf("Verify counted %d records", n)
				}
				return
			}
			if p == nil {
				t.Fatalf("Verify found no problem (%d records); want %q", n, want.Reason)
			}
			if *p != want {
				t.Errorf("Verify problem\n got %+v\nwant %+v", *p, want)
			}
		})
	}
}

func TestVerifyExplicitPaths(t *testing.T) {
	c := newChain(t)
	reversed := slices.Clone(c.files)
	slices.Reverse(reversed)
	tests := []struct {
		name  string
		paths []string
		want  string // substring of the reason; "" for intact
	}{
		{"all files in order", c.files, ""},
		{"rotated files only", c.files[:len(c.files)-1], ""},
		{"reversed", reversed, "chain starts at seq"},
		{"oldest left out", c.files[1:], "chain starts at seq"},
		{"one file twice", append([]string{c.files[0]}, c.files...), "follows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, p, err := audit.Verify(tt.paths...)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == "" && p != nil:
				t.Errorf("Verify = %v, want intact", p)
			case tt.want != "" && (p == nil || !strings.Contains(p.Reason, tt.want)):
				t.Errorf("Verify = %v, want a problem containing %q", p, tt.want)
			}
		})
	}

	// The head beside the last path given is checked too.
	a := c.active()
	c.lines[a] = c.lines[a][:len(c.lines[a])-1]
	c.save(t)
	if _, p, err := audit.Verify(c.files...); err != nil || p == nil || !strings.Contains(p.Reason, "head says 12") {
		t.Errorf("Verify of explicit files with the last line deleted = %v, %v", p, err)
	}
}

func TestVerifyErrors(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := audit.Verify(filepath.Join(dir, "audit.log")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Verify of a missing log: %v, want ErrNotExist", err)
	}
	if _, _, err := audit.Verify(filepath.Join(dir, "a"), filepath.Join(dir, "b")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Verify of missing explicit files: %v, want ErrNotExist", err)
	}
	if _, _, err := audit.Verify(); err == nil {
		t.Error("Verify of no paths succeeded")
	}
	p := &audit.Problem{File: "audit.log", Line: 3, Reason: "line 3: not valid JSON"}
	if got := p.String(); got != "audit.log:3: line 3: not valid JSON" {
		t.Errorf("Problem.String = %q", got)
	}
}

// TestVerifyWhileWriting checks that verifying a log that is being written
// and rotated reports no false chain breaks.
func TestVerifyWhileWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, path, &audit.Options{MaxSize: 4096})
	writeN(t, l, 1)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := l.Write(context.Background(), &audit.Record{Tool: "health_check"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// Each Verify reads the whole growing chain (thousands of files within
	// seconds), so 20 verdicts; under -race that takes about 10 s.
	deadline := time.Now().Add(30 * time.Second)
	busy := 0
	for verified := 0; verified < 20 || rotations(t, path) < 5; {
		if time.Now().After(deadline) {
			t.Errorf("in 30 s: %d verifications, %d rotations, %d times 'kept rotating'", verified, rotations(t, path), busy)
			break
		}
		_, p, err := audit.Verify(path)
		if err != nil && strings.Contains(err.Error(), "kept rotating while being opened; try again") {
			// The honest answer when the log rotates faster than its
			// files can be opened (every few ms here, slower still under
			// -race): no verdict, and no false alarm.
			busy++
			continue
		}
		if err != nil {
			t.Errorf("Verify: %v", err)
			break
		}
		verified++
		// A write in progress may show as an incomplete last line (see
		// Verify); anything else is a false alarm.
		if p != nil && !strings.Contains(p.Reason, "incomplete record at end of file") {
			t.Errorf("Verify of a live log: %v", p)
			break
		}
	}
	cancel()
	wg.Wait()
}

func rotations(t *testing.T, path string) int {
	files, err := audit.Files(path)
	if err != nil {
		t.Fatal(err)
	}
	return len(files) - 1
}

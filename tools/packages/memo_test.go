// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The test lists' names.
const (
	stableList   = "example.org_debian_dists_stable_main_binary-amd64_Packages"
	securityList = "example.org_debian-security_dists_stable-security_main_binary-amd64_Packages"
)

// TestPendingMemo: check_updates keeps its answer while its inputs keep
// their identity, and any change to an input gives a fresh answer — a
// rewrite in place of the same size with a new modification time, one
// whose modification time is set back (its change time moves), a list
// replaced by a rename, a list added, a list removed.
func TestPendingMemo(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		change func(t *testing.T, status, lists string)
		want   func(CheckResult) bool // true for the answer after the change
	}{
		{"status rewritten, same size, new mtime", func(t *testing.T, status, _ string) {
			rewrite(t, status, "Package: theta\nStatus: install ok installed\nSection: admin\nArchitecture: amd64\nVersion: 1.0",
				"Package: theta\nStatus: install ok installed\nSection: admin\nArchitecture: amd64\nVersion: 1.5")
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(status, later, later); err != nil {
				t.Fatal(err)
			}
		}, func(r CheckResult) bool { return r.Upgradable == 6 && candidateOf(r, "theta") == "" }},
		{"list rewritten, same size, mtime set back", func(t *testing.T, _, lists string) {
			p := filepath.Join(lists, stableList)
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond) // the change time moves on
			rewrite(t, p, "Package: theta\nVersion: 1.5", "Package: theta\nVersion: 1.6")
			if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
				t.Fatal(err)
			}
		}, func(r CheckResult) bool { return candidateOf(r, "theta") == "1.6" }},
		{"list replaced by a rename", func(t *testing.T, _, lists string) {
			p := filepath.Join(lists, stableList)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			tmp := filepath.Join(t.TempDir(), "new")
			if err := os.WriteFile(tmp, []byte(strings.Replace(string(b), "Version: 1.5", "Version: 1.7", 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, p); err != nil {
				t.Fatal(err)
			}
		}, func(r CheckResult) bool { return candidateOf(r, "theta") == "1.7" }},
		{"list added", func(t *testing.T, _, lists string) {
			extra := "Package: theta\nVersion: 2.0\nArchitecture: all\n"
			if err := os.WriteFile(filepath.Join(lists, "example.net_debian_dists_extra_main_binary-amd64_Packages"), []byte(extra), 0o644); err != nil {
				t.Fatal(err)
			}
		}, func(r CheckResult) bool { return candidateOf(r, "theta") == "2.0" && len(r.Lists) == 4 }},
		{"list removed", func(t *testing.T, _, lists string) {
			if err := os.Remove(filepath.Join(lists, securityList)); err != nil {
				t.Fatal(err)
			}
		}, func(r CheckResult) bool { return r.Security == 0 && len(r.Lists) == 2 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			status, lists := memoFixture(t)
			ts, err := New(Config{Status: status, Lists: lists})
			if err != nil {
				t.Fatal(err)
			}
			ts.memo.window = 0 // the fixture was just written
			before := checkAll(t, ts)
			kept := ts.memo.ans
			if kept == nil || checkAll(t, ts).Upgradable != before.Upgradable || ts.memo.ans != kept {
				t.Fatalf("the answer was not kept for unchanged inputs")
			}
			if before.Upgradable != 7 || candidateOf(before, "theta") != "1.5" || c.want(before) {
				t.Fatalf("before the change: %+v", before)
			}
			c.change(t, status, lists)
			after := checkAll(t, ts)
			if !c.want(after) {
				t.Errorf("after the change, the answer kept: %+v", after)
			}
			if ts.memo.ans == kept {
				t.Errorf("the answer kept is the one from before the change")
			}
		})
	}
}

// TestPendingMemoRacy: an answer computed from inputs changed within the
// racy window is not kept.
func TestPendingMemoRacy(t *testing.T) {
	t.Parallel()
	status, lists := memoFixture(t)
	ts, err := New(Config{Status: status, Lists: lists})
	if err != nil {
		t.Fatal(err)
	}
	ts.memo.window = time.Hour
	if r := checkAll(t, ts); r.Upgradable != 7 || ts.memo.ans != nil {
		t.Fatalf("upgradable %d, kept %v", r.Upgradable, ts.memo.ans != nil)
	}
}

// memoFixture copies the test status file and lists (plain) into
// directories of their own.
func memoFixture(t *testing.T) (status, lists string) {
	t.Helper()
	b, err := os.ReadFile("testdata/status")
	if err != nil {
		t.Fatal(err)
	}
	status = filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(status, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return status, fixture(t, nil)
}

// checkAll calls check_updates for every update.
func checkAll(t *testing.T, ts *Toolset) CheckResult {
	t.Helper()
	limit := 5000
	r, err := ts.checkUpdates(context.Background(), CheckArgs{Limit: &limit})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// candidateOf is name's candidate in r, "" when it is not upgradable.
func candidateOf(r CheckResult, name string) string {
	for _, u := range r.Updates {
		if u.Name == name {
			return u.Candidate
		}
	}
	return ""
}

// rewrite replaces old with new (of the same length) in the file at p,
// in place.
func rewrite(t *testing.T, p, old, new string) {
	t.Helper()
	if len(old) != len(new) {
		t.Fatalf("rewrite %q: not the same size", old)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s holds no %q", p, old)
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(strings.Replace(string(b), old, new, 1)), 0); err != nil {
		t.Fatal(err)
	}
}

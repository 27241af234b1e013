// SPDX-License-Identifier: Apache-2.0

package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/memory"
)

// TestSSHConfigNeverRead: go-git's SSH transport asks this global for a
// Hostname and Port of every host; set, it reads ~/.ssh/config.
func TestSSHConfigNeverRead(t *testing.T) {
	if gitssh.DefaultSSHConfig != nil {
		t.Fatal("gitssh.DefaultSSHConfig is set: ~/.ssh/config would redirect connections")
	}
}

func TestKnownHostsGlob(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		patterns []string
		name     string
		want     bool
	}{
		{[]string{"[127.0.0.1]:2222"}, "[127.0.0.1]:2222", true},
		{[]string{"[127.0.0.1]:2222"}, "1", false},
		{[]string{"127.0.0.1"}, "[127.0.0.1]:2222", false},
		{[]string{"*.lan"}, "git.lan", true},
		{[]string{"*.lan", "!bad.lan"}, "bad.lan", false},
		{[]string{"git?.lan"}, "git1.lan", true},
		{[]string{"GIT.LAN"}, "git.lan", true},
	} {
		if got := matchHost(c.patterns, c.name); got != c.want {
			t.Errorf("matchHost(%q, %q) = %v, want %v", c.patterns, c.name, got, c.want)
		}
	}
}

// TestRetryRace: a fetch ended by go-git's SSH race (the error as go-git
// v5 builds it, wrapped as Fetch wraps it) is made again, up to
// fetchAttempts in all; any other error, success, or a cancelled context
// ends the attempts at once.
func TestRetryRace(t *testing.T) {
	race := fmt.Errorf("fetching main from ssh://git@lan/stack.git: %w", fmt.Errorf("closing input: %s", io.EOF))
	other := errors.New("fetching main from ssh://git@lan/stack.git: closing input: connection reset")
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name      string
		ctx       context.Context
		errs      []error // what each attempt returns; nil succeeds
		wantCalls int
		wantErr   error
	}{
		{"success", context.Background(), []error{nil}, 1, nil},
		{"race once", context.Background(), []error{race, nil}, 2, nil},
		{"race twice", context.Background(), []error{race, race, nil}, 3, nil},
		{"race every time", context.Background(), []error{race, race, race, nil}, fetchAttempts, race},
		{"another error", context.Background(), []error{other, nil}, 1, other},
		{"cancelled", done, []error{race, nil}, 1, race},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			res, err := retryRace(c.ctx, func() (Result, error) {
				err := c.errs[calls]
				calls++
				if err != nil {
					return Result{}, err
				}
				return Result{Commit: "c"}, nil
			})
			if calls != c.wantCalls || !errors.Is(err, c.wantErr) || (err == nil) != (c.wantErr == nil) || (err == nil) != (res.Commit == "c") {
				t.Errorf("%d calls, %v, %+v; want %d calls, %v", calls, err, res, c.wantCalls, c.wantErr)
			}
			if exhausted := c.name == "race every time"; exhausted != (err != nil && strings.Contains(err.Error(), "call again")) {
				t.Errorf("error %q: says to call again = %v, want %v", err, !exhausted, exhausted)
			}
		})
	}
}

// TestResolveInTree: symbolic links in a checkout are followed through
// chains, as the kernel would; one that leads out of the tree, however
// it gets there, is refused.
func TestResolveInTree(t *testing.T) {
	tests := []struct {
		name  string
		links map[string]string
		path  string
		want  string // "" with ok false: leaves the tree
		ok    bool
	}{
		{"inside", map[string]string{"docs/readme": "../README.md"}, "docs/readme", "README.md", true},
		{"up and out", map[string]string{"a": "../x"}, "a", "", false},
		{"absolute", map[string]string{"a": "/etc/shadow"}, "a", "", false},
		{"windows absolute", map[string]string{"a": "\\etc"}, "a", "", false},
		// Found in review: each link alone stays inside, the chain leaves.
		{"chain", map[string]string{"s1/s2/s3/l": "../../..", "a": "s1/s2/s3/l/../../.."}, "a", "", false},
		{"chain through a directory link", map[string]string{"d": "s1/s2", "s1/s2/up": "../..", "x": "d/up/.."}, "x", "", false},
		{"a link to a link inside", map[string]string{"a": "b", "b": "c/d"}, "a", "c/d", true},
		{"loop", map[string]string{"a": "b", "b": "a"}, "a", "", false},
		{"through a link in the middle", map[string]string{"conf": "deploy/conf"}, "conf/app.yaml", "deploy/conf/app.yaml", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := resolveInTree(tt.links, tt.path)
			if ok != tt.ok || got != tt.want {
				t.Errorf("resolveInTree(%q) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// FuzzResolveInTree: any links and path resolve without a panic, and a
// path that stays in the tree resolves to a clean relative path.
func FuzzResolveInTree(f *testing.F) {
	f.Add("a", "../../x", "b", "a/..", "b")
	f.Add("s/l", "../..", "a", "s/l/../..", "a")
	f.Fuzz(func(t *testing.T, l1, t1, l2, t2, p string) {
		got, ok := resolveInTree(map[string]string{l1: t1, l2: t2}, p)
		if !ok {
			return
		}
		if strings.HasPrefix(got, "/") || got == ".." || strings.HasPrefix(got, "../") || strings.Contains(got, "/../") || strings.HasSuffix(got, "/..") {
			t.Errorf("resolveInTree(%q) = %q: not a path in the tree", p, got)
		}
	})
}

// TestCheckTreeCountsFiles: a "git bomb" — one empty blob, trees naming
// the same subtree a thousand times — is three objects and a million
// files; checkTree refuses it for its entries (at most MaxEntries files
// and directories) however high MaxBytes is, counts each empty file as a
// block towards MaxBytes, and stops when ctx ends.
func TestCheckTreeCountsFiles(t *testing.T) {
	st := memory.NewStorage()
	repo, err := git.Init(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := func(o interface {
		Encode(plumbing.EncodedObject) error
	}, typ plumbing.ObjectType) plumbing.Hash {
		obj := st.NewEncodedObject()
		obj.SetType(typ)
		if err := o.Encode(obj); err != nil {
			t.Fatal(err)
		}
		h, err := st.SetEncodedObject(obj)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	blob := st.NewEncodedObject()
	blob.SetType(plumbing.BlobObject)
	empty, err := st.SetEncodedObject(blob)
	if err != nil {
		t.Fatal(err)
	}
	level := func(child plumbing.Hash, mode filemode.FileMode, n int) plumbing.Hash {
		tr := &object.Tree{}
		for i := range n {
			tr.Entries = append(tr.Entries, object.TreeEntry{Name: fmt.Sprintf("f%04d", i), Mode: mode, Hash: child})
		}
		return store(tr, plumbing.TreeObject)
	}
	commitOf := func(tree plumbing.Hash) *object.Commit {
		sig := object.Signature{Name: "x", When: time.Unix(0, 0)}
		c, err := repo.CommitObject(store(&object.Commit{Author: sig, Committer: sig, TreeHash: tree, Message: "bomb"}, plumbing.CommitObject))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t1 := level(empty, filemode.Regular, 1000)
	bomb := commitOf(level(t1, filemode.Dir, 1000))
	ctx := context.Background()
	start := time.Now()
	if err := checkTree(ctx, repo, bomb, Config{MaxBytes: 1 << 40}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "files") {
		t.Errorf("a tree of a million empty files (three objects): %v, want too many files and directories", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("checkTree took %v to refuse it", d)
	}
	// Empty files still cost a block each towards MaxBytes.
	if err := checkTree(ctx, repo, commitOf(level(t1, filemode.Dir, 10)), Config{MaxBytes: 10_000*minFileBytes - 1}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("10,000 empty files within %d bytes: %v, want too large", 10_000*minFileBytes-1, err)
	}
	if err := checkTree(ctx, repo, commitOf(level(t1, filemode.Dir, 10)), Config{MaxBytes: 10_000 * minFileBytes}); err != nil {
		t.Errorf("10,000 empty files within %d bytes: %v", 10_000*minFileBytes, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := checkTree(cctx, repo, bomb, Config{MaxBytes: 1 << 40}); !errors.Is(err, context.Canceled) {
		t.Errorf("checkTree with its context ended: %v, want context.Canceled", err)
	}
}

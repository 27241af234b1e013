// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"strings"
	"testing"
)

// TestFailedRemoveKeepsGitStackManaged: a remove_stack that failed
// leaves the git stack running and managed (its last good deployment
// still the one from git); only a successful removal ends it.
func TestFailedRemoveKeepsGitStackManaged(t *testing.T) {
	ts, err := New(Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	commit := strings.Repeat("a", 40)
	ts.hist.add(ctx, "g", Deployment{Action: "deploy", Result: "ok", Repo: "https://git.lan/x.git", Commit: commit, Config: "services: {}\n"})
	ts.hist.add(ctx, "g", Deployment{Action: "remove", Result: "failed", Error: "removing stack g: boom"})
	if _, d, ok, err := ts.gitDeployed("g"); err != nil || !ok || d.Commit != commit {
		t.Errorf("after a failed remove_stack: deployed from git %v (%v, %v); want commit %s", ok, d.Commit, err, commit)
	}
	ts.hist.add(ctx, "g", Deployment{Action: "remove", Result: "ok"})
	if _, _, ok, err := ts.gitDeployed("g"); err != nil || ok {
		t.Errorf("after a successful remove_stack the stack is still deployed from git (%v)", err)
	}
}

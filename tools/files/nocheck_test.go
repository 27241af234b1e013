// SPDX-License-Identifier: Apache-2.0

//go:build tailops_nocheck

package files

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tailops/tailops/toolstest"
)

// TestPathChecksDisabled shows that a tailops_nocheck build really has no
// confinement of its own: escapes the checked build refuses succeed here,
// so a test that sees them refused in this build has shown that the
// Landlock sandbox alone refuses them.
func TestPathChecksDisabled(t *testing.T) {
	t.Parallel()
	if PathChecks {
		t.Fatal("PathChecks is true in a tailops_nocheck build")
	}
	root, outside := ftTree(t)
	ftSymlink(t, filepath.Join(outside, "secret.txt"), filepath.Join(root, "abs"))
	ftSymlink(t, "../outside", filepath.Join(root, "reldir"))
	toolstest.WriteFile(t, filepath.Join(root, "id_rsa"), "KEY\n")
	if err := os.Link(filepath.Join(outside, "secret.txt"), filepath.Join(root, "hard.log")); err != nil {
		t.Fatal(err)
	}
	k := serveFiles(t, []string{root})
	for _, p := range []string{"../outside/secret.txt", filepath.Join(outside, "secret.txt"), "abs", "reldir/secret.txt", "hard.log"} {
		if r := readOK(t, k, map[string]any{"path": p}); r.Content != "OUTSIDE-SECRET\n" {
			t.Errorf("%s: %q", p, r.Content)
		}
	}
	if r := readOK(t, k, map[string]any{"path": "id_rsa"}); r.Content != "KEY\n" {
		t.Errorf("id_rsa: %q", r.Content)
	}
	r := toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": ".", "content_regex": "OUTSIDE"})
	var found bool
	for _, m := range r.Matches {
		found = found || strings.HasPrefix(m.Path, "reldir/")
	}
	if !found {
		t.Errorf("search did not follow the symlink out: %v", matchPaths(r))
	}
}

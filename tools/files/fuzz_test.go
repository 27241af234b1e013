// SPDX-License-Identifier: Apache-2.0

// The fuzz target asserts the file tools' own checks, which
// tailops_nocheck compiles out, on attack_test.go's escape fixture (built
// without that tag too).

//go:build !tailops_nocheck

package files

import (
	"context"
	"strings"
	"testing"

	"github.com/tailops/tailops/toolstest"
)

// FuzzPathResolution gives read_file and get_file_info arbitrary paths in
// a root full of traps that lead out (symlinks absolute, relative,
// chained, through /proc; a sibling sharing the root's prefix): no path
// may reach the outside secret, and no error may name what lies outside
// (its path, a symlink's target) unless the caller's path did.
func FuzzPathResolution(f *testing.F) {
	fx := newEscapeFixture(f)
	ts := newFiles(f, []string{fx.root})
	if err := ts.Open(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ts.Close() })
	k := toolstest.Direct(ts.Tools())
	for _, s := range []string{"app.log", "abs", "rel", "chain1", "sub/deeprel", "procroot", "procfd", "rootdotdot/outside/secret.txt",
		"../outside/secret.txt", fx.root + "/../outside/secret.txt", fx.root + "x/secret.txt", fx.outside + "/secret.txt",
		"/proc/self/root" + fx.outside + "/secret.txt", "sub/viaparent", "dirchain/secret.txt", "./././app.log", "sub//../app.log", "\x00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		for _, tool := range []string{"read_file", "get_file_info"} {
			res := toolstest.Call(t, k, tool, map[string]any{"path": p})
			text := ftText(res)
			if strings.Contains(text, "OUTSIDE-SECRET") {
				t.Fatalf("%s %q read outside the root: %s", tool, p, text)
			}
			// Errors quote the caller's path (redacted, invalid UTF-8
			// replaced): a leak is what the path did not bring.
			for _, bad := range []string{fx.outside, "/proc/self", "../outside", "dirhop", "chain3"} {
				if res.IsError && strings.Contains(text, bad) && !strings.Contains(p, bad) {
					t.Fatalf("%s %q: the error leaks %q: %s", tool, p, bad, text)
				}
			}
		}
	})
}

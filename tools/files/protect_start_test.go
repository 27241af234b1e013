// SPDX-License-Identifier: Apache-2.0

package files

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckProtected is the start check on its own: a root may not
// contain, equal or lie inside a protected path, compared with symlinks
// resolved on both sides, and a protected path that does not exist yet is
// compared through its nearest existing ancestor. Roots beside a
// protected path, or sharing only a prefix of its name, pass.
func TestCheckProtected(t *testing.T) {
	base := t.TempDir()
	for _, d := range []string{"var/lib/tailops", "var/log", "etc", "srv"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "etc", "tailops.hujson"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"var", "srv/varlink"}, {"var/lib/tailops", "srv/statelink"}} {
		if err := os.Symlink(filepath.Join(base, l[0]), filepath.Join(base, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	b := func(p string) string { return filepath.Join(base, p) }
	t.Chdir(base) // for the relative state directory
	state := ProtectedPath{b("var/lib/tailops"), "the state directory (--state-dir)"}
	config := ProtectedPath{b("etc/tailops.hujson"), "the config file (--config)"}
	for _, tc := range []struct {
		name      string
		root      string
		protected ProtectedPath
		want      string // "" when the root passes
	}{
		{"root contains the state dir", b("var"), state, "contains the state directory (--state-dir)"},
		{"root is the state dir", b("var/lib/tailops"), state, "is the state directory"},
		{"root inside the state dir", b("var/lib/tailops/audit"), state, "lies inside the state directory"},
		{"root contains the config file", b("etc"), config, "contains the config file (--config)"},
		{"root is the config file", b("etc/tailops.hujson"), config, "is the config file"},
		{"a symlinked root", b("srv/varlink"), state, "with symlinks resolved"},
		{"a symlinked state dir", b("var/lib"), ProtectedPath{b("srv/statelink"), "the state directory (--state-dir)"}, "contains the state directory"},
		{"a state dir not created yet", b("var"), ProtectedPath{b("var/lib/tailops/new/deeper"), "the state directory (--state-dir)"}, "contains the state directory"},
		{"not created yet, under a symlink", b("var"), ProtectedPath{b("srv/statelink/new"), "the state directory (--state-dir)"}, "contains the state directory"},
		{"a root beside it", b("var/log"), state, ""},
		{"a root sharing a name prefix", b("var/lib/tailops-logs"), state, ""},
		{"root is /", "/", state, "contains the state directory"},
		{"a relative state dir", b("var"), ProtectedPath{"var/lib/tailops", "the state directory (--state-dir)"}, "contains the state directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkProtected([]string{tc.root}, []ProtectedPath{tc.protected})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), tc.root) || !strings.Contains(err.Error(), tc.protected.Path)):
				t.Errorf("got %v, want it to name %q, the root and the protected path", err, tc.want)
			}
		})
	}
}

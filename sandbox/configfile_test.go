// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGrantConfigFile checks the rule for the config file: its directory
// only when that is a directory of its own (no subdirectory, none of the
// files that must stay unreadable), else the file alone with the reason.
func TestGrantConfigFile(t *testing.T) {
	write := func(t *testing.T, path string) string {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		name string
		// setup makes the layout under root and returns the config file,
		// the never-exposed list and the paths other rules cover.
		setup         func(t *testing.T, root string) (file string, never, covered []string)
		wantDir       bool
		wantImmutable bool
		wantPath      string // relative to root; "FILE" is the config file
		wantRefused   string // in Refused
		wantCovered   string // relative to root
	}{
		{
			name: "a directory of its own is granted",
			setup: func(t *testing.T, root string) (string, []string, []string) {
				write(t, root+"/etc/tailops/other.json")
				return write(t, root+"/etc/tailops/config.hujson"), []string{root + "/etc/shadow"}, nil
			},
			wantDir: true, wantPath: "/etc/tailops",
		},
		{
			name: "a directory holding a never-exposed file is not",
			setup: func(t *testing.T, root string) (string, []string, []string) {
				write(t, root+"/etc/shadow")
				return write(t, root+"/etc/tailops.hujson"), []string{root + "/etc/shadow"}, nil
			},
			wantPath: "FILE", wantRefused: "/etc/shadow, which must stay unreadable",
		},
		{
			name: "a never-exposed file that does not exist yet still counts",
			setup: func(t *testing.T, root string) (string, []string, []string) {
				return write(t, root+"/etc/tailops.hujson"), []string{root + "/etc/gshadow"}, nil
			},
			wantPath: "FILE", wantRefused: "/etc/gshadow",
		},
		{
			name: "a glob entry counts beneath the directory, matched or not",
			setup: func(t *testing.T, root string) (string, []string, []string) {
				return write(t, root+"/etc/ssh/tailops.hujson"), []string{root + "/etc/ssh/ssh_host_*_key"}, nil
			},
			wantPath: "FILE", wantRefused: "/etc/ssh/ssh_host_*_key, which must stay unreadable",
		},
		{
			name: "a directory with a subdirectory is not (its whole tree would be granted)",
			setup: func(t *testing.T, root string) (string, []string, []string) {
				write(t, root+"/home/alice/.ssh/id_ed25519")
				return write(t, root+"/home/alice/tailops.hujson"), []string{"/etc/shadow"}, nil
			},
			wantPath: "FILE", wantRefused: "has subdirectories (.ssh)",
		},
		{
			name: "a symbolic link: the directory of its target",
			setup: func(t *testing.T, root string) (string, []string, []string) {
				target := write(t, root+"/srv/tailops/config.hujson")
				os.MkdirAll(root+"/etc/sub", 0o755)
				link := root + "/etc/tailops.hujson"
				if err := os.Symlink(target, link); err != nil {
					t.Fatal(err)
				}
				return link, nil, nil
			},
			wantDir: true, wantPath: "/srv/tailops",
		},
		{
			name: "a directory another rule covers needs no rule",
			setup: func(t *testing.T, root string) (string, []string, []string) {
				write(t, root+"/state/audit/audit.log")
				return write(t, root+"/state/config.hujson"), nil, []string{"", root + "/state"}
			},
			wantDir: true, wantPath: "FILE", wantCovered: "/state",
		},
		{
			name: "a file in the Nix store is granted alone: it never changes",
			setup: func(t *testing.T, root string) (string, []string, []string) {
				return write(t, root+"/nix/store/0abc-tailops.json"), nil, nil
			},
			wantPath: "FILE", wantImmutable: true, wantRefused: "/nix/store, where files never change in place",
		},
		{
			name: "a missing file is granted alone (and ends up in Missing)",
			setup: func(t *testing.T, root string) (string, []string, []string) {
				return root + "/nowhere/config.hujson", nil, nil
			},
			wantPath: "FILE", wantRefused: "resolving it",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, err := filepath.EvalSymlinks(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			file, never, covered := tc.setup(t, root)
			g := grantConfigFile(file, never, []string{root + "/nix/store"}, covered)
			wantPath := root + tc.wantPath
			if tc.wantPath == "FILE" {
				wantPath = file
			}
			if g.File != file || g.Dir != tc.wantDir || g.Path != wantPath || g.Immutable != tc.wantImmutable {
				t.Errorf("grant = %+v, want Dir %v Path %s Immutable %v", g, tc.wantDir, wantPath, tc.wantImmutable)
			}
			if tc.wantRefused == "" && g.Refused != "" || !strings.Contains(g.Refused, tc.wantRefused) {
				t.Errorf("Refused = %q, want it to contain %q", g.Refused, tc.wantRefused)
			}
			wantCovered := ""
			if tc.wantCovered != "" {
				wantCovered = root + tc.wantCovered
			}
			if g.CoveredBy != wantCovered {
				t.Errorf("CoveredBy = %q, want %q", g.CoveredBy, wantCovered)
			}
		})
	}
}

// TestComputeConfigFileRule checks the config file's rule in the policy
// with the real list of files that must stay unreadable: a file directly
// in /etc is granted alone (/etc holds /etc/shadow), one in a directory
// of its own through the directory; explain says which and why.
func TestComputeConfigFileRule(t *testing.T) {
	own := filepath.Join(t.TempDir(), "tailops")
	if err := os.Mkdir(own, 0o755); err != nil {
		t.Fatal(err)
	}
	ownFile := filepath.Join(own, "config.hujson")
	if err := os.WriteFile(ownFile, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/etc/shadow"); err != nil {
		t.Fatalf("this test needs /etc/shadow: %v", err)
	}
	for _, tc := range []struct {
		file, granted string
		notGranted    string
		explain       []string
	}{
		{ownFile, own, ownFile, []string{own, "config file " + ownFile + "'s directory", "keep only TailOps' files there"}},
		{"/etc/hostname", "/etc/hostname", "/etc", []string{"config: config file (alone: its directory /etc holds /etc/shadow",
			"reloads fail until TailOps restarts", "a directory of its own"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			p, err := Compute(nil, Config{ConfigFile: tc.file})
			if err != nil {
				t.Fatal(err)
			}
			if r, ok := findPath(p, tc.granted); !ok || r.Access != AccessRead {
				t.Errorf("no read rule for %s: %+v", tc.granted, p.Paths)
			}
			if _, ok := findPath(p, tc.notGranted); ok {
				t.Errorf("%s is granted too", tc.notGranted)
			}
			if p.ConfigFile == nil || p.ConfigFile.Path != tc.granted {
				t.Errorf("Policy.ConfigFile = %+v, want Path %s", p.ConfigFile, tc.granted)
			}
			var b strings.Builder
			if err := p.Explain(&b); err != nil {
				t.Fatal(err)
			}
			flat := strings.Join(strings.Fields(b.String()), " ")
			for _, want := range tc.explain {
				if !strings.Contains(flat, want) {
					t.Errorf("explain lacks %q:\n%s", want, b.String())
				}
			}
		})
	}
}

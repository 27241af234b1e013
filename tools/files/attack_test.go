// SPDX-License-Identifier: Apache-2.0

//go:build !tailops_nocheck

package files

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tailops/tailops/toolstest"
)

func TestPathChecksEnabled(t *testing.T) {
	t.Parallel()
	if !PathChecks {
		t.Fatal("PathChecks is false in a build without tailops_nocheck")
	}
}

// escapeFixture is a root and, beside it, an outside directory holding a
// secret, plus traps inside the root that lead out.
type escapeFixture struct {
	base, root, outside string
	outsideFD           int // an open descriptor on the outside secret
	k                   *toolstest.Client
}

func newEscapeFixture(t testing.TB) *escapeFixture {
	t.Helper()
	root, outside := ftTree(t)
	base := filepath.Dir(root)
	toolstest.WriteFile(t, filepath.Join(outside, "sub", "deeper.txt"), "OUTSIDE-SECRET deeper\n")
	// A sibling whose name starts with the root's: /tmp/x/root vs /tmp/x/rootx.
	toolstest.WriteFile(t, filepath.Join(base, "rootx", "secret.txt"), "OUTSIDE-SECRET prefix\n")
	f, err := os.Open(filepath.Join(outside, "secret.txt"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fd := int(f.Fd())

	links := map[string]string{
		"abs":           filepath.Join(outside, "secret.txt"),
		"rel":           "../outside/secret.txt",
		"absdir":        outside,
		"reldir":        "../outside",
		"sub/deeprel":   "../../outside/secret.txt",
		"chain1":        "chain2",
		"chain2":        "sub/chain3",
		"sub/chain3":    "../chain4",
		"chain4":        "../outside/secret.txt",
		"dirchain":      "sub/dirhop",
		"sub/dirhop":    "../../outside",
		"procroot":      "/proc/self/root" + outside + "/secret.txt",
		"procrootrel":   strings.Repeat("../", 40) + "proc/self/root" + outside + "/secret.txt",
		"procfd":        fmt.Sprintf("/proc/self/fd/%d", fd),
		"proccwd":       "/proc/self/cwd",
		"loop1":         "loop2",
		"loop2":         "loop1",
		"rootdotdot":    "..",
		"selfabs":       filepath.Join(root, "app.log"), // absolute, even though it points inside
		"sub/viaparent": "../../root/../outside/secret.txt",
	}
	for name, target := range links {
		ftSymlink(t, target, filepath.Join(root, name))
	}
	return &escapeFixture{base: base, root: root, outside: outside, outsideFD: fd, k: serveFiles(t, []string{root})}
}

// assertNoLeak fails when msg reveals anything about the outside: its
// content, its host path, or a symlink's target. The caller's own path is
// removed first, since errors name it, and so is the list of configured
// roots an "outside roots" error gives (configuration, not a finding).
func (f *escapeFixture) assertNoLeak(t *testing.T, given, msg string) {
	t.Helper()
	rest := strings.ReplaceAll(msg, shortPath(given), "")
	if strings.Contains(rest, "outside roots") && !strings.Contains(rest, "outside roots; the file roots are "+f.root) {
		t.Errorf("error for %q does not name the roots: %s", given, msg)
	}
	rest = strings.ReplaceAll(rest, "; the file roots are "+f.root, "")
	for _, bad := range []string{"OUTSIDE-SECRET", f.outside, f.base, "outside/", "/proc/self", "secret.txt", "chain", "dirhop"} {
		if strings.Contains(rest, bad) {
			t.Errorf("error for %q leaks %q: %s", given, bad, msg)
		}
	}
}

// TestPathEscapes tries every escape against every tool that takes the
// path: each must fail, and no error may leak what lies outside.
func TestPathEscapes(t *testing.T) {
	t.Parallel()
	f := newEscapeFixture(t)
	fileAttacks := []struct{ name, path, reason string }{
		{"dotdot", "../outside/secret.txt", "outside roots"},
		{"dotdot after a subdirectory", "sub/../../outside/secret.txt", "outside roots"},
		{"dotdot to the root's parent", "..", "outside roots"},
		{"absolute outside", filepath.Join(f.outside, "secret.txt"), "outside roots"},
		{"absolute system file", "/etc/passwd", "outside roots"},
		{"absolute with dotdot", f.root + "/../outside/secret.txt", "outside roots"},
		{"prefix confusion", f.root + "x/secret.txt", "outside roots"},
		{"symlink, absolute", "abs", "outside roots"},
		{"symlink, relative", "rel", "outside roots"},
		{"symlink from a subdirectory", "sub/deeprel", "outside roots"},
		{"symlinked directory, absolute", "absdir/secret.txt", "outside roots"},
		{"symlinked directory, relative", "reldir/secret.txt", "outside roots"},
		{"symlinked directory, deeper", "reldir/sub/deeper.txt", "outside roots"},
		{"symlink chain", "chain1", "outside roots"},
		{"symlinked directory chain", "dirchain/secret.txt", "outside roots"},
		{"symlink through the root's name", "sub/viaparent", "outside roots"},
		{"absolute symlink, even inside", "selfabs", "outside roots"},
		{"/proc/self/root as path", "/proc/self/root" + f.outside + "/secret.txt", "outside roots"},
		{"/proc/self/root as symlink target", "procroot", "outside roots"},
		{"/proc/self/root through dotdots", "procrootrel", "outside roots"},
		{"/proc/self/fd as path", fmt.Sprintf("/proc/self/fd/%d", f.outsideFD), "outside roots"},
		{"/proc/self/fd as symlink target", "procfd", "outside roots"},
		{"/proc/self/cwd as symlink target", "proccwd/secret.txt", "outside roots"},
		{"symlink loop", "loop1", "symlink loop"},
		{"symlink to the parent", "rootdotdot/outside/secret.txt", "outside roots"},
	}
	for _, a := range fileAttacks {
		t.Run(a.name, func(t *testing.T) {
			for _, tool := range []string{"read_file", "tail_file", "list_directory", "search_files", "get_file_info"} {
				args := map[string]any{"path": a.path}
				if tool == "search_files" {
					args["content_regex"] = "."
				}
				res := toolstest.Call(t, f.k, tool, args)
				text := ftText(res)
				if strings.Contains(text, "OUTSIDE-SECRET") {
					t.Fatalf("%s %q returned outside content: %s", tool, a.path, text)
				}
				if tool == "get_file_info" && !res.IsError {
					// The last component is described, not followed: a
					// symlink inside the root is fine to describe, as long
					// as its target is not shown.
					info := toolstest.Decode[fileInfoResult](t, f.k, tool, res)
					if info.Type != "symlink" || info.SymlinkTarget != "outside roots" {
						t.Errorf("get_file_info %q: %+v", a.path, info)
					}
					continue
				}
				if !res.IsError {
					t.Fatalf("%s %q succeeded: %s", tool, a.path, text)
				}
				if !strings.Contains(text, a.reason) {
					t.Errorf("%s %q: %q, want %q", tool, a.path, text, a.reason)
				}
				f.assertNoLeak(t, a.path, text)
			}
		})
	}
}

// TestPathProcMagicLinks uses /proc itself as a root: its magic links
// (root, cwd, fd/N, exe) must not be followed out of it.
func TestPathProcMagicLinks(t *testing.T) {
	t.Parallel()
	f := newEscapeFixture(t)
	for _, rootDir := range []string{"/proc/self", "/proc"} {
		k := serveFiles(t, []string{rootDir})
		prefix := ""
		if rootDir == "/proc" {
			prefix = "self/"
		}
		for _, p := range []string{
			prefix + "root" + f.outside + "/secret.txt",
			prefix + "cwd",
			prefix + fmt.Sprintf("fd/%d", f.outsideFD),
			prefix + "exe",
			"thread-self/root" + f.outside + "/secret.txt",
		} {
			for _, tool := range []string{"read_file", "list_directory"} {
				res := toolstest.Call(t, k, tool, map[string]any{"path": p})
				text := ftText(res)
				if !res.IsError || strings.Contains(text, "OUTSIDE-SECRET") {
					t.Errorf("root %s, %s %q: %s", rootDir, tool, p, text)
				}
			}
		}
	}
}

// TestPathSymlinkRace swaps a directory and a symlink to the outside
// (atomically, with RENAME_EXCHANGE) while the tools run, and checks that
// nothing from outside ever comes back.
func TestPathSymlinkRace(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"absolute", "relative"} {
		t.Run(kind, func(t *testing.T) {
			base := t.TempDir()
			root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
			toolstest.WriteFile(t, filepath.Join(root, "d", "secret.txt"), "inside content\n")
			toolstest.WriteFile(t, filepath.Join(root, "d", "inside-only.txt"), "inside\n")
			toolstest.WriteFile(t, filepath.Join(outside, "secret.txt"), "OUTSIDE-SECRET\n")
			toolstest.WriteFile(t, filepath.Join(outside, "outside-only.txt"), "OUTSIDE-SECRET too\n")
			target := outside
			if kind == "relative" {
				target = "../outside"
			}
			ftSymlink(t, target, filepath.Join(root, "alt"))
			k := serveFiles(t, []string{root})

			stop := make(chan struct{})
			var wg sync.WaitGroup
			var swaps atomic.Int64
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, alt := filepath.Join(root, "d"), filepath.Join(root, "alt")
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := unix.Renameat2(unix.AT_FDCWD, d, unix.AT_FDCWD, alt, unix.RENAME_EXCHANGE); err != nil {
						t.Errorf("swapping: %v", err)
						return
					}
					swaps.Add(1)
				}
			}()

			calls := []struct {
				tool string
				args map[string]any
			}{
				{"read_file", map[string]any{"path": "d/secret.txt"}},
				{"read_file", map[string]any{"path": "alt/secret.txt"}},
				{"tail_file", map[string]any{"path": "d/secret.txt"}},
				{"get_file_info", map[string]any{"path": "d/outside-only.txt"}},
				{"list_directory", map[string]any{"path": "d"}},
				{"list_directory", map[string]any{"path": "alt"}},
				{"search_files", map[string]any{"path": ".", "content_regex": "SECRET|inside"}},
				{"search_files", map[string]any{"path": ".", "name_glob": "*-only.txt"}},
				{"search_files", map[string]any{"path": "d", "content_regex": "."}},
			}
			var inside, refused int
			for i := range 1500 {
				c := calls[i%len(calls)]
				res := toolstest.Call(t, k, c.tool, c.args)
				text := strings.ReplaceAll(ftText(res), shortPath(c.args["path"].(string)), "")
				if strings.Contains(text, "OUTSIDE") || strings.Contains(text, "outside-only") {
					t.Errorf("%s %v returned something from outside: %s", c.tool, c.args, text)
					break
				}
				if res.IsError {
					refused++
				} else if strings.Contains(text, "inside") {
					inside++
				}
			}
			close(stop)
			wg.Wait()
			t.Logf("%d swaps, %d inside results, %d refusals", swaps.Load(), inside, refused)
			if swaps.Load() < 100 || inside == 0 || refused == 0 {
				t.Errorf("the race was not exercised: %d swaps, %d inside results, %d refusals", swaps.Load(), inside, refused)
			}
		})
	}
}

// TestPathRootSymlink checks a root that is itself a symlink: it is
// resolved once, when the tools are built, and re-pointing it later does
// not move the root.
func TestPathRootSymlink(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	real, link, outside := filepath.Join(base, "real"), filepath.Join(base, "link"), filepath.Join(base, "outside")
	toolstest.WriteFile(t, filepath.Join(real, "a.log"), "real root\n")
	toolstest.WriteFile(t, filepath.Join(outside, "a.log"), "OUTSIDE-SECRET\n")
	ftSymlink(t, real, link)
	k := serveFiles(t, []string{link})
	for _, p := range []string{"a.log", filepath.Join(link, "a.log"), filepath.Join(real, "a.log")} {
		if r := readOK(t, k, map[string]any{"path": p}); r.Content != "real root\n" {
			t.Errorf("%s: %q", p, r.Content)
		}
	}
	// Re-point the root symlink outside: the tools keep the root they
	// resolved.
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	ftSymlink(t, outside, link)
	for _, p := range []string{"a.log", filepath.Join(link, "a.log")} {
		if r := readOK(t, k, map[string]any{"path": p}); r.Content != "real root\n" {
			t.Errorf("after re-pointing, %s: %q", p, r.Content)
		}
	}
	if msg := toolstest.Err(t, k, "read_file", map[string]any{"path": filepath.Join(outside, "a.log")}); !strings.Contains(msg, "outside roots") {
		t.Errorf("outside by its own name: %q", msg)
	}
}

func TestPathRootUnavailable(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	toolstest.WriteFile(t, filepath.Join(base, "r2", "a.log"), "in r2\n")
	_, k := newUncheckedTools(t, Config{Roots: []string{filepath.Join(base, "missing"), "relative/root", filepath.Join(base, "r2")},
		Logger: slog.New(slog.DiscardHandler)})
	for _, p := range []string{"a.log", filepath.Join(base, "missing", "a.log")} {
		if msg := toolstest.Err(t, k, "read_file", map[string]any{"path": p}); !strings.Contains(msg, "unavailable") {
			t.Errorf("%s: %q", p, msg)
		}
	}
	if r := readOK(t, k, map[string]any{"path": filepath.Join(base, "r2", "a.log")}); r.Content != "in r2\n" {
		t.Errorf("second root: %q", r.Content)
	}
}

// TestFileDenyList checks each built-in pattern, extra patterns, and that
// the list applies to the resolved path of a symlink.
func TestFileDenyList(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	denied := []string{
		"id_rsa", "id_ed25519", "id_ecdsa", "id_dsa", "keys/id_ed25519_sk",
		"home/.ssh/known_hosts", "home/.ssh/authorized_keys",
		"server.key", "tls/SERVER.KEY", "store.p12", "store.pfx",
		"shadow", "gshadow", "shadow-", "etc/gshadow-",
		".env", "app/.env", "app/.env.production", ".envrc",
		"kubeconfig", "home/.kube/config",
		"home/.docker/config.json",
		".netrc", "home/.git-credentials",
		"db.secret", "private/x.log", "vault/tokens/a.log",
	}
	allowed := []string{
		"id_rsa.pub", "config.json", "other/config", "env.txt", "app.env", "tls/cert.pem",
		"kube/config", "docker/config.json", "keys.log", "vault/a.log", "tokens/a.log",
	}
	for _, p := range append(append([]string{}, denied...), allowed...) {
		toolstest.WriteFile(t, filepath.Join(root, p), "content of "+p+"\n")
	}
	ftSymlink(t, "home/.ssh/known_hosts", filepath.Join(root, "innocent.log"))
	ftSymlink(t, "home/.kube", filepath.Join(root, "cfgdir"))
	ftSymlink(t, "home/.ssh", filepath.Join(root, "sshdir"))
	ftSymlink(t, "../home/.docker/config.json", filepath.Join(root, "app/registry.json"))
	k := serveFiles(t, []string{root}, "*.secret", "private", "vault/tokens")

	for _, p := range append(denied, "innocent.log", "cfgdir/config", "app/registry.json") {
		for _, tool := range []string{"read_file", "tail_file", "get_file_info"} {
			if tool == "get_file_info" && (p == "innocent.log" || p == "app/registry.json") {
				continue // describes the symlink itself; checked below
			}
			msg := toolstest.Err(t, k, tool, map[string]any{"path": p})
			if !strings.Contains(msg, "denied by policy") {
				t.Errorf("%s %s: %q", tool, p, msg)
			}
			if rest := strings.ReplaceAll(msg, shortPath(p), ""); strings.Contains(rest, ".ssh") || strings.Contains(rest, ".docker") || strings.Contains(rest, ".kube") {
				t.Errorf("%s %s: error names the target: %q", tool, p, msg)
			}
		}
	}
	for _, p := range []string{"home/.ssh", "sshdir", "private", "vault/tokens"} {
		for _, tool := range []string{"list_directory", "search_files"} {
			args := map[string]any{"path": p}
			if tool == "search_files" {
				args["name_glob"] = "*"
			}
			if msg := toolstest.Err(t, k, tool, args); !strings.Contains(msg, "denied by policy") {
				t.Errorf("%s %s: %q", tool, p, msg)
			}
		}
	}
	for _, p := range allowed {
		if r := readOK(t, k, map[string]any{"path": p}); r.Content != "content of "+p+"\n" {
			t.Errorf("%s: %q", p, r.Content)
		}
	}

	// A search skips denied entries silently but counts them.
	r := toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": ".", "content_regex": "content of"})
	for _, m := range r.Matches {
		for _, d := range denied {
			if m.Path == d {
				t.Errorf("search returned denied %s", d)
			}
		}
	}
	if len(r.Matches) != len(allowed) || r.SkippedDenied == 0 || r.SkippedOther != 4 {
		t.Errorf("%d matches (want %d), %d denied, %d other skipped", len(r.Matches), len(allowed), r.SkippedDenied, r.SkippedOther)
	}
	// A listing shows denied entries, marked.
	l := toolstest.OK[listDirectoryResult](t, k, "list_directory", map[string]any{"path": "."})
	for _, e := range l.Entries {
		want := e.Name == "id_rsa" || e.Name == "private" || e.Name == ".env" || e.Name == "store.p12"
		if (e.Name == "id_rsa" || e.Name == "private" || e.Name == ".env" || e.Name == "store.p12" || e.Name == "config.json" || e.Name == "keys.log") && e.Denied != want {
			t.Errorf("entry %s: denied %v", e.Name, e.Denied)
		}
	}
	// get_file_info on an innocent symlink to a secret describes the link.
	if info := toolstest.OK[fileInfoResult](t, k, "get_file_info", map[string]any{"path": "innocent.log"}); info.Type != "symlink" || info.IsText != nil {
		t.Errorf("innocent.log: %+v", info)
	}
}

func TestFileDenyBadPattern(t *testing.T) {
	t.Parallel()
	root, _ := ftTree(t)
	k := serveFiles(t, []string{root}, "[unclosed")
	for _, s := range newFiles(t, []string{root}).Tools() {
		tool := s.Name()
		if msg := toolstest.Err(t, k, tool, map[string]any{"path": "app.log"}); !strings.Contains(msg, "file tools are unavailable") {
			t.Errorf("%s: %q", tool, msg)
		}
	}
	if _, err := newDenyList([]string{"a/../b"}); err == nil {
		t.Error("a pattern with .. was accepted")
	}
}

// TestFileHardLink checks that a hard link inside a root to a file
// outside it is refused by every tool that reads contents.
func TestFileHardLink(t *testing.T) {
	t.Parallel()
	root, outside := ftTree(t)
	secret := filepath.Join(outside, "secret.txt")
	if err := os.Link(secret, filepath.Join(root, "innocent.log")); err != nil {
		t.Fatal(err)
	}
	k := serveFiles(t, []string{root})
	for _, tool := range []string{"read_file", "tail_file"} {
		msg := toolstest.Err(t, k, tool, map[string]any{"path": "innocent.log"})
		if !strings.Contains(msg, "denied by policy: hard-linked file") || strings.Contains(msg, "OUTSIDE") {
			t.Errorf("%s: %q", tool, msg)
		}
	}
	r := toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": ".", "content_regex": "SECRET"})
	if len(r.Matches) != 0 || r.SkippedDenied != 1 {
		t.Errorf("search: %v, %d denied", matchPaths(r), r.SkippedDenied)
	}
	info := toolstest.OK[fileInfoResult](t, k, "get_file_info", map[string]any{"path": "innocent.log"})
	if info.Links != 2 || info.IsText != nil {
		t.Errorf("info: %+v", info)
	}
	// With the outside name gone the file has one link and reads.
	if err := os.Remove(secret); err != nil {
		t.Fatal(err)
	}
	if r := readOK(t, k, map[string]any{"path": "innocent.log"}); r.Content != "OUTSIDE-SECRET\n" {
		t.Errorf("single link: %q", r.Content)
	}
}

// TestSearchFilesDoesNotFollowSymlinks checks that a walk skips symlinks,
// even ones that stay inside the root, and counts them.
func TestSearchFilesDoesNotFollowSymlinks(t *testing.T) {
	t.Parallel()
	f := newEscapeFixture(t)
	ftSymlink(t, "sub", filepath.Join(f.root, "insidedir"))
	r := toolstest.OK[searchFilesResult](t, f.k, "search_files", map[string]any{"path": ".", "content_regex": "."})
	for _, m := range r.Matches {
		if strings.Contains(m.Text, "OUTSIDE") || strings.HasPrefix(m.Path, "insidedir") {
			t.Errorf("followed a symlink: %+v", m)
		}
	}
	if r.SkippedOther < 21 {
		t.Errorf("skipped %d others, want every symlink counted", r.SkippedOther)
	}
	r = toolstest.OK[searchFilesResult](t, f.k, "search_files", map[string]any{"path": ".", "name_glob": "abs*"})
	if got := strings.Join(matchPaths(r), " "); got != "abs(symlink) absdir(symlink)" {
		t.Errorf("names: %q", got)
	}
}

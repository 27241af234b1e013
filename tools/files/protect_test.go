// SPDX-License-Identifier: Apache-2.0

//go:build !tailops_nocheck

package files

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tailops/tailops/toolstest"
)

// newUncheckedTools builds the file tools of cfg, whose deny patterns
// must parse, without New's start checks (absolute roots that reach no
// protected path), so that the tools' own handling of what those checks
// refuse is all there is; they are called at their handlers, there being
// no toolset to serve.
func newUncheckedTools(t testing.TB, cfg Config) (*fileSystem, *toolstest.Handlers) {
	t.Helper()
	deny, err := newDenyList(cfg.Deny)
	if err != nil {
		t.Fatal(err)
	}
	fs := newFileSystem(cfg, deny)
	fs.openRoots()
	t.Cleanup(func() { fs.closeRoots() })
	return fs, toolstest.Direct(fs.declare())
}

// newProtectedTools builds the file tools over roots with the server's
// own paths protected, as the server does, but without the start check
// (New's checkProtected), so that the tools' own wall is all there is.
// The tools' log goes to the buffer returned.
func newProtectedTools(t *testing.T, roots []string, protected []ProtectedPath) (*fileSystem, *toolstest.Handlers, *bytes.Buffer) {
	t.Helper()
	logs := &bytes.Buffer{}
	fs, h := newUncheckedTools(t, Config{Roots: roots, Protected: protected, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	return fs, h, logs
}

// protectedFixture is a root holding the server's state directory (with
// the files the server keeps there), its config file and JWKS file, plus
// a symlink and a hard link to them, and an ordinary log.
type protectedFixture struct {
	base, root, state string
	protected         []ProtectedPath
}

func newProtectedFixture(t *testing.T) *protectedFixture {
	t.Helper()
	base := t.TempDir()
	f := &protectedFixture{base: base, root: filepath.Join(base, "root"), state: filepath.Join(base, "root", "state")}
	for name, content := range map[string]string{
		"app.log":                        "ordinary log line\n",
		"state/secret":                   "SERVER-SECRET shared secret\n",
		"state/approvals.json":           "SERVER-SECRET approvals\n",
		"state/approvals.digest":         "SERVER-SECRET digest key\n",
		"state/tailscale/node.conf":      "SERVER-SECRET node state\n",
		"state/audit/audit.log":          "SERVER-SECRET audit record\n",
		"conf/tailops.hujson":            "SERVER-SECRET config\n",
		"conf/jwks.json":                 "SERVER-SECRET jwks\n",
		"conf/webhook.secret":            "SERVER-SECRET webhook\n",
		"other/audit-elsewhere/cur.log":  "SERVER-SECRET other audit dir\n",
		"other/audit-elsewhere/old.log":  "SERVER-SECRET rotated audit\n",
		"other/not-protected/public.log": "public\n",
	} {
		toolstest.WriteFile(t, filepath.Join(f.root, name), content)
	}
	ftSymlink(t, "state", filepath.Join(f.root, "statelink"))
	ftSymlink(t, "../conf/tailops.hujson", filepath.Join(f.root, "sub", "cfg.log"))
	if err := os.Link(filepath.Join(f.root, "conf", "jwks.json"), filepath.Join(f.root, "keys-copy.log")); err != nil {
		t.Fatal(err)
	}
	f.protected = []ProtectedPath{
		{f.state, "the state directory (--state-dir)"},
		{filepath.Join(f.root, "other", "audit-elsewhere"), "the audit log's directory (--audit-log)"},
		{filepath.Join(f.root, "conf", "tailops.hujson"), "the config file (--config)"},
		{filepath.Join(f.root, "conf", "jwks.json"), "the JWKS file (--jwks-file)"},
		{filepath.Join(f.root, "conf", "webhook.secret"), "the approval webhook's secret file (--approval-webhook-secret-file)"},
		{filepath.Join(f.root, "conf", "secret-not-there-yet"), "the shared-secret file (--shared-secret-file)"},
	}
	return f
}

// assertProtectedRefusal fails unless res is the wall's refusal, telling
// nothing of the server's files. list_directory and search_files open a
// directory, so on a file they fail with "not a directory" before the
// wall is asked; that says no more than a listing of its directory does.
func assertProtectedRefusal(t *testing.T, tool, p, text string, isErr bool, f *protectedFixture) {
	t.Helper()
	notDir := (tool == "list_directory" || tool == "search_files") && strings.HasSuffix(text, " (not a directory)")
	if !isErr || !strings.Contains(text, reasonProtected) && !notDir {
		t.Errorf("%s %q: not refused as the server's own: %s", tool, p, text)
	}
	rest := strings.ReplaceAll(text, shortPath(p), "")
	for _, leak := range []string{"SERVER-SECRET", "state directory", "--", f.base} {
		if strings.Contains(rest, leak) {
			t.Errorf("%s %q: the refusal leaks %q: %s", tool, p, leak, text)
		}
	}
}

// assertEveryToolRefuses calls every file tool on each path: each must be
// the wall's refusal. get_file_info is not asked about the symlinks
// named in links: it describes a symlink itself.
func assertEveryToolRefuses(t *testing.T, k toolstest.Caller, f *protectedFixture, paths []string, links ...string) {
	t.Helper()
	for _, p := range paths {
		for _, tool := range []string{"read_file", "tail_file", "get_file_info", "list_directory", "search_files"} {
			if tool == "get_file_info" && slices.Contains(links, p) {
				continue
			}
			args := map[string]any{"path": p}
			if tool == "search_files" {
				args["content_regex"] = "."
			}
			res := toolstest.Call(t, k, tool, args)
			assertProtectedRefusal(t, tool, p, ftText(res), res.IsError, f)
		}
	}
}

// TestFileToolsRefuseServerPaths is the tools' own wall alone: a root
// that holds the state directory, an audit directory, the config, JWKS
// and webhook secret files (which the start check would refuse), and
// every tool refuses each of them, everything beneath the directories,
// and every other spelling of them: absolute, with dot-dot, through a
// symlink, through a hard link. A listing marks them, a search skips
// them, and the log names what was reached.
func TestFileToolsRefuseServerPaths(t *testing.T) {
	t.Parallel()
	f := newProtectedFixture(t)
	if checkProtected([]string{f.root}, f.protected) == nil {
		t.Fatal("the start check passes this fixture: the test would not be of the wall alone")
	}
	fs, k, logs := newProtectedTools(t, []string{f.root}, f.protected)
	paths := []string{
		"state", "state/secret", "state/approvals.json", "state/approvals.digest", "state/tailscale", "state/tailscale/node.conf",
		"state/audit", "state/audit/audit.log",
		"other/audit-elsewhere", "other/audit-elsewhere/cur.log", "other/audit-elsewhere/old.log",
		"conf/tailops.hujson", "conf/jwks.json", "conf/webhook.secret",
		filepath.Join(f.root, "state", "secret"), f.root + "/./state//secret", f.root + "/other/../state/secret",
		"statelink/secret", "statelink", "sub/cfg.log", "sub/../conf/jwks.json", "keys-copy.log",
	}
	assertEveryToolRefuses(t, k, f, paths, "statelink", "sub/cfg.log")
	// A symlink to the server's files is described, its target not shown
	// beyond its own text, which lies in the root.
	if info := toolstest.OK[fileInfoResult](t, k, "get_file_info", map[string]any{"path": "statelink"}); info.Type != "symlink" || info.SymlinkTarget != "state" {
		t.Errorf("statelink: %+v", info)
	}
	// The rest of the root works.
	if r := readOK(t, k, map[string]any{"path": "other/not-protected/public.log"}); r.Content != "public\n" {
		t.Errorf("public.log: %q", r.Content)
	}
	l := toolstest.OK[listDirectoryResult](t, k, "list_directory", map[string]any{"path": "conf"})
	for _, e := range l.Entries {
		if !e.Denied {
			t.Errorf("listing conf: %s not marked denied", e.Name)
		}
	}
	l = toolstest.OK[listDirectoryResult](t, k, "list_directory", map[string]any{"path": "."})
	for _, e := range l.Entries {
		if want := e.Name == "state" || e.Name == "keys-copy.log"; e.Denied != want {
			t.Errorf("listing the root: %s marked denied %v", e.Name, e.Denied)
		}
	}
	r := toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": ".", "content_regex": "."})
	for _, m := range r.Matches {
		if strings.Contains(m.Text, "SERVER-SECRET") {
			t.Errorf("search found the server's own file %s", m.Path)
		}
	}
	if got := strings.Join(matchPaths(r), " "); !strings.Contains(got, "app.log") || !strings.Contains(got, "public.log") || r.SkippedDenied < 5 {
		t.Errorf("search: %s; %d skipped as denied", got, r.SkippedDenied)
	}
	// The operator learns what was reached; the caller did not.
	for _, want := range []string{"reaches=\"the state directory (--state-dir)\"", "reaches=\"the config file (--config)\"", "reaches=\"the JWKS file (--jwks-file)\""} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}

	// A config file replaced by rename (as editors do) is the new inode:
	// still refused once the snapshot is refreshed.
	fs.prot.mu.Lock()
	fs.prot.every = 0
	fs.prot.mu.Unlock()
	cfg := filepath.Join(f.root, "conf", "tailops.hujson")
	toolstest.WriteFile(t, cfg+".new", "SERVER-SECRET config, edited\n")
	if err := os.Rename(cfg+".new", cfg); err != nil {
		t.Fatal(err)
	}
	res := toolstest.Call(t, k, "read_file", map[string]any{"path": "conf/tailops.hujson"})
	assertProtectedRefusal(t, "read_file", "conf/tailops.hujson", ftText(res), res.IsError, f)
	// A protected file that appears after the start (the shared secret on
	// first start) is refused once it exists.
	toolstest.WriteFile(t, filepath.Join(f.root, "conf", "secret-not-there-yet"), "SERVER-SECRET new secret\n")
	res = toolstest.Call(t, k, "read_file", map[string]any{"path": "conf/secret-not-there-yet"})
	assertProtectedRefusal(t, "read_file", "conf/secret-not-there-yet", ftText(res), res.IsError, f)

	// Without the protection the same fixture reads: the wall is what
	// refused above.
	open := serveFiles(t, []string{f.root})
	if r := readOK(t, open, map[string]any{"path": "state/secret"}); !strings.Contains(r.Content, "SERVER-SECRET") {
		t.Errorf("without protection: %q", r.Content)
	}
}

// TestFileToolsRefuseRootInsideServerPath: a root inside the state
// directory (which the start check would refuse) gives nothing at all.
func TestFileToolsRefuseRootInsideServerPath(t *testing.T) {
	t.Parallel()
	f := newProtectedFixture(t)
	root := filepath.Join(f.state, "tailscale")
	_, k, _ := newProtectedTools(t, []string{root}, f.protected)
	assertEveryToolRefuses(t, k, f, []string{".", "node.conf", filepath.Join(root, "node.conf")})
}

// mountNSEnv marks the test binary re-executed in a mount namespace of
// its own by TestFileToolsRefuseServerPathsThroughBindMounts.
const mountNSEnv = "TAILOPS_TOOLS_TEST_MOUNTNS"

// TestFileToolsRefuseServerPathsThroughBindMounts: the start check
// compares paths and cannot see a bind mount; the wall compares devices
// and inodes and the kernel's "..", so the state directory bind-mounted
// into a root, a part of it, or a single protected file, are all still
// refused. The body runs in a private mount namespace (the test binary
// re-executed under unshare -m), so the mounts touch nothing else.
func TestFileToolsRefuseServerPathsThroughBindMounts(t *testing.T) {
	t.Parallel()
	if os.Getenv(mountNSEnv) != t.Name() {
		cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--", os.Args[0],
			"-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), mountNSEnv+"="+t.Name())
		out, err := cmd.CombinedOutput()
		t.Logf("child output:\n%s", out)
		if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
			t.Fatalf("child in a mount namespace failed: %v", err)
		}
		return
	}
	base := t.TempDir()
	state, cfg, root := filepath.Join(base, "state"), filepath.Join(base, "tailops.hujson"), filepath.Join(base, "root")
	toolstest.WriteFile(t, filepath.Join(state, "secret"), "SERVER-SECRET shared secret\n")
	toolstest.WriteFile(t, filepath.Join(state, "tailscale", "node.conf"), "SERVER-SECRET node state\n")
	toolstest.WriteFile(t, cfg, "SERVER-SECRET config\n")
	toolstest.WriteFile(t, filepath.Join(root, "app.log"), "ordinary\n")
	toolstest.WriteFile(t, filepath.Join(root, "cfg.log"), "placeholder\n")
	for _, d := range []string{"whole", "part"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range [][2]string{{state, "whole"}, {filepath.Join(state, "tailscale"), "part"}, {cfg, "cfg.log"}} {
		target := filepath.Join(root, m[1])
		if err := unix.Mount(m[0], target, "", unix.MS_BIND, ""); err != nil {
			t.Fatalf("bind-mounting %s: %v", m[0], err)
		}
		t.Cleanup(func() { unix.Unmount(target, 0) })
	}
	protected := []ProtectedPath{{state, "the state directory (--state-dir)"}, {cfg, "the config file (--config)"}}
	// The paths do not overlap: the start check passes, as it would on a
	// host with these mounts.
	if err := checkProtected([]string{root}, protected); err != nil {
		t.Fatalf("the start check sees the bind mounts: %v", err)
	}
	_, k, _ := newProtectedTools(t, []string{root}, protected)
	f := &protectedFixture{base: base}
	assertEveryToolRefuses(t, k, f, []string{"whole", "whole/secret", "whole/tailscale/node.conf", "part", "part/node.conf", "cfg.log"})
	r := toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": ".", "content_regex": "."})
	if got := strings.Join(matchPaths(r), " "); got != "app.log:1:ordinary" {
		t.Errorf("search through the bind mounts: %s", got)
	}
	// Without the protection the mounts do expose the secrets.
	open := serveFiles(t, []string{root})
	for _, p := range []string{"whole/secret", "part/node.conf", "cfg.log"} {
		if r := readOK(t, open, map[string]any{"path": p}); !strings.Contains(r.Content, "SERVER-SECRET") {
			t.Errorf("without protection, %s: %q", p, r.Content)
		}
	}
}

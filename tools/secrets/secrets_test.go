// SPDX-License-Identifier: Apache-2.0

package secrets

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// Planted secrets: realistic in form, made up.
const (
	awsKey      = "AKIAZ7VQ3XK2LMN4PQRS"
	githubToken = "ghp_R7x2Kq9LmN4vB8zT1wY6cP3sD5fG0hJ2kL9m"
	envPassword = "q8Zt3LmX9vR2pK7wYb4N"
	keyBody     = "MIIEowIBAAKCAQEAx3Jq9Vv2b8Zk1m5QyTn4rLpW0sYdF7hCg6uK2eXoR1tA9iMbN3vZ"
)

var privateKey = "-----BEGIN RSA PRIVATE KEY-----\n" + keyBody + "\n" + strings.Repeat("Qm9ndXMga2V5IG1hdGVyaWFsIGZvciB0ZXN0cyBvbmx5Lg", 2) + "\n-----END RSA PRIVATE KEY-----\n"

// planted are the secrets the tests plant; none may ever come back.
var planted = []string{awsKey, githubToken, envPassword, keyBody, "R7x2Kq9LmN4vB8zT1wY6cP3sD5fG0hJ2kL9m"}

// plant writes files under a new root: one of each kind of secret, a
// false-positive sample, a deny-listed file and one outside the root
// reached through symlinks. It returns the root.
func plant(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	outside := t.TempDir()
	files := map[string]string{
		"app/aws.conf":        "[default]\nregion = eu-west-1\naws_access_key_id = " + awsKey + "\n",
		"app/ci.yml":          "steps:\n  - run: echo\n    env:\n      GITHUB_TOKEN: " + githubToken + "\n",
		"app/.env":            "DB_HOST=db\nDB_PASSWORD=" + envPassword + "\n",
		"backup/deploy.txt":   "notes\n\n" + privateKey,
		"app/settings.ini":    "# false positives\npassword = ${DB_PASSWORD}\napi_key = changeme\naws = AKIAIOSFODNN7EXAMPLE\ntoken = {{ .Values.token }}\n",
		"denied/secret.txt":   "GITHUB_TOKEN=" + githubToken + "\n",
		"bin/blob.dat":        "\x00\x01" + awsKey,
		"node_modules/x/a.js": "const k = '" + awsKey + "';\n",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(outside, "leak.txt"), []byte("aws_access_key_id = "+awsKey+"\n"), 0o644)
	os.Symlink(outside, filepath.Join(root, "outside-dir"))
	os.Symlink(filepath.Join(outside, "leak.txt"), filepath.Join(root, "outside-file.txt"))
	os.Symlink("../../"+filepath.Base(outside)+"/leak.txt", filepath.Join(root, "app", "relative-escape.txt"))
	return root
}

// denyDir is a deny-list for tests: everything under a "denied"
// directory (main passes the file tools' own).
func denyDir(rel string) bool { return slices.Contains(strings.Split(rel, "/"), "denied") }

// start starts a server with the secrets toolset on roots, logging to
// log, and returns it with a security:scan client.
func start(t *testing.T, cfg Config, log *bytes.Buffer) (*toolstest.Server, *toolstest.Client) {
	t.Helper()
	var logger *slog.Logger
	if log != nil {
		logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg.Logger = logger
	ts, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := toolstest.New(t, []tools.Toolset{ts}, &toolstest.Options{Logger: logger})
	return srv, srv.Client(t, "security:scan")
}

// TestScanSecrets plants an AWS key, a GitHub token, a password in a .env
// file and a private key, with false positives, a deny-listed file, a
// binary, an allowlisted path and symlinks out of the root, and checks
// exactly the planted secrets are found, each once, with its line.
func TestScanSecrets(t *testing.T) {
	t.Parallel()
	root := plant(t)
	_, c := start(t, Config{Roots: []string{root}, Denied: denyDir}, nil)
	r := toolstest.OK[ScanResult](t, c, "scan_secrets", nil)
	type key struct {
		path, rule string
		line       int
	}
	var got []key
	for _, f := range r.Findings {
		got = append(got, key{strings.TrimPrefix(f.Path, root+"/"), f.Rule, f.Line})
		if len(f.Fingerprint) != 24 || f.Description == "" {
			t.Errorf("finding %+v: want a 24-digit fingerprint and a description", f)
		}
	}
	want := []key{
		{"app/.env", "generic-api-key", 2},
		{"app/aws.conf", "aws-access-token", 3},
		{"app/ci.yml", "github-pat", 4},
		{"backup/deploy.txt", "private-key", 3},
	}
	slices.SortFunc(got, func(a, b key) int { return strings.Compare(a.path+a.rule, b.path+b.rule) })
	if !slices.Equal(got, want) {
		t.Errorf("findings %v, want %v", got, want)
	}
	if r.Truncated || r.Denied != 1 || r.Binary != 1 || r.Skipped < 4 || r.FilesScanned != 6 || !slices.Equal(r.Roots, []string{root}) {
		t.Errorf("truncated %v, denied %d (want 1), binary %d (want 1), skipped %d (want 4+: 3 links, node_modules), scanned %d (want 6), roots %v",
			r.Truncated, r.Denied, r.Binary, r.Skipped, r.FilesScanned, r.Roots)
	}
	again := toolstest.OK[ScanResult](t, c, "scan_secrets", map[string]any{"path": filepath.Join(root, "app")})
	if len(again.Findings) != 3 || again.Findings[0].Fingerprint != findingAt(r, again.Findings[0].Path).Fingerprint {
		t.Errorf("path app: %+v; the fingerprints must be stable", again.Findings)
	}
}

// findingAt returns r's finding in the file p.
func findingAt(r ScanResult, p string) Finding {
	for _, f := range r.Findings {
		if f.Path == p {
			return f
		}
	}
	return Finding{}
}

// TestScanSecretsNeverShowsTheSecret searches the whole result, the audit
// log and the server's log for every planted secret: none may be there,
// whatever the call (the findings, and a refused path).
func TestScanSecretsNeverShowsTheSecret(t *testing.T) {
	t.Parallel()
	root := plant(t)
	var log bytes.Buffer
	srv, c := start(t, Config{Roots: []string{root}, Denied: denyDir}, &log)
	var texts []string
	for _, args := range []map[string]any{nil, {"path": filepath.Join(root, "app", ".env")}, {"max_files": 2}} {
		res := toolstest.Call(t, c, "scan_secrets", args)
		b, _ := json.Marshal(res)
		texts = append(texts, string(b))
		if res.IsError || len(res.Content) == 0 {
			t.Fatalf("scan_secrets %v: %s", args, b)
		}
		if _, ok := res.Content[0].(mcp.TextContent); !ok {
			t.Fatalf("content %T", res.Content[0])
		}
	}
	if !strings.Contains(texts[0], "aws-access-token") {
		t.Fatalf("the scan found nothing, so this test tests nothing: %s", texts[0])
	}
	audit, err := os.ReadFile(srv.AuditLog)
	if err != nil || len(audit) == 0 {
		t.Fatalf("reading the audit log: %v", err)
	}
	if log.Len() == 0 {
		t.Fatal("the server logged nothing, so the log is not tested")
	}
	for _, s := range planted {
		for what, text := range map[string]string{"result": strings.Join(texts, "\n"), "audit log": string(audit), "server log": log.String()} {
			if strings.Contains(text, s) {
				t.Errorf("the %s holds the planted secret %q", what, s)
			}
		}
	}
}

// TestScanSecretsLimits: max_files, max_bytes and the time bound stop the
// walk and say so; path outside the roots or on the deny-list is refused.
func TestScanSecretsLimits(t *testing.T) {
	t.Parallel()
	root := plant(t)
	_, c := start(t, Config{Roots: []string{root}, Denied: denyDir}, nil)
	for _, tc := range []struct {
		args  map[string]any
		limit string
	}{
		{map[string]any{"max_files": 2}, "max_files"},
		{map[string]any{"max_bytes": 10}, "max_bytes"},
	} {
		r := toolstest.OK[ScanResult](t, c, "scan_secrets", tc.args)
		if !r.Truncated || !slices.Equal(r.Limits, []string{tc.limit}) {
			t.Errorf("%v: truncated %v, limits %v", tc.args, r.Truncated, r.Limits)
		}
		if tc.limit == "max_files" && r.FilesScanned != 2 || tc.limit == "max_bytes" && r.BytesScanned != 10 {
			t.Errorf("%v: %d files, %d bytes", tc.args, r.FilesScanned, r.BytesScanned)
		}
	}
	_, slow := start(t, Config{Roots: []string{root}, Timeout: 1}, nil)
	if r := toolstest.OK[ScanResult](t, slow, "scan_secrets", nil); !r.Truncated || !slices.Contains(r.Limits, "time") {
		t.Errorf("a 1ns time bound: truncated %v, limits %v", r.Truncated, r.Limits)
	}
	for _, p := range []string{"relative/path", "/etc", filepath.Join(root, "denied"), root + "/../x"} {
		if msg := toolstest.Err(t, c, "scan_secrets", map[string]any{"path": p}); !strings.Contains(msg, "path") {
			t.Errorf("path %q: %q", p, msg)
		}
	}
	for _, args := range []map[string]any{{"max_files": 0}, {"max_bytes": 2 << 30}} {
		if msg := toolstest.Err(t, c, "scan_secrets", args); msg == "" {
			t.Errorf("%v accepted", args)
		}
	}
}

// TestNew: scan_secrets reads only the roots; without roots, with a
// relative one or with the file tools' error it is unavailable.
func TestNew(t *testing.T) {
	t.Parallel()
	ts, err := New(Config{Roots: []string{"/srv/a/", "/var/log"}})
	if err != nil {
		t.Fatal(err)
	}
	n := ts.Tools()[0].Needs
	if !slices.Equal(n.Read, []string{"/srv/a", "/var/log"}) || len(n.Write) > 0 || n.AnyTCPPort || len(n.TCPPorts) > 0 || len(n.Exec) > 0 ||
		len(n.Sockets) > 0 || n.DNS || len(n.Netlink) > 0 || !slices.Equal(n.Capabilities, []string{"CAP_DAC_READ_SEARCH"}) {
		t.Errorf("needs %+v: want read-only access to the roots only", n)
	}
	for _, cfg := range []Config{{}, {Roots: []string{"logs"}}, {Roots: []string{"/var/log"}, RootsErr: os.ErrInvalid}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// TestRules: the embedded gitleaks rules all compile, with their
// keywords, entropy and allowlists, and the ids the tests rely on.
func TestRules(t *testing.T) {
	t.Parallel()
	rs, err := loadRules(gitleaksTOML)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	kw, ent, al := 0, 0, 0
	for _, r := range rs.rules {
		ids[r.id] = true
		kw += min(len(r.keywords), 1)
		if r.entropy > 0 {
			ent++
		}
		al += len(r.allow)
	}
	for _, id := range []string{"aws-access-token", "github-pat", "private-key", "generic-api-key", "pkcs12-file"} {
		if !ids[id] {
			t.Errorf("no rule %s", id)
		}
	}
	if len(rs.rules) < 200 || kw < 200 || ent < 100 || al < 10 || len(rs.allow) == 0 {
		t.Errorf("%d rules, %d with keywords, %d with entropy, %d rule allowlists, %d global", len(rs.rules), kw, ent, al, len(rs.allow))
	}
	for _, bad := range []string{"", "x = 1\n[[rules]]\nid = \"a\"\nregex = \"a\"", "[[rules]]\nid = \"a\"\nregex = \"(\"", "[[rules]]\nid = \"a\"\nregex = \"a\"\nsecretGroup = 2"} {
		if _, err := loadRules(bad); err == nil {
			t.Errorf("loadRules(%q) accepted", bad)
		}
	}
}

// TestScanSecretsDirectorySwappedForLink: a directory the walk listed,
// swapped for a link to a deny-listed directory before the walk opens
// it, is not followed: the deny-listed file's secret is not found under
// the directory's name (os.Root follows links inside the root, so the
// walk opens each entry beneath its parent's descriptor, refusing links).
func TestScanSecretsDirectorySwappedForLink(t *testing.T) {
	root := plant(t)
	walked := filepath.Join(root, "walked")
	os.MkdirAll(walked, 0o755)
	os.WriteFile(filepath.Join(walked, "plain.txt"), []byte("nothing here\n"), 0o644)
	swapped := 0
	hookDir = func(rel string) {
		if rel == "walked" && swapped == 0 {
			swapped++
			if err := os.Rename(walked, walked+".old"); err != nil {
				t.Error(err)
			}
			if err := os.Symlink("denied", walked); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(func() { hookDir = nil })
	_, c := start(t, Config{Roots: []string{root}, Denied: denyDir}, nil)
	r := toolstest.OK[ScanResult](t, c, "scan_secrets", map[string]any{"path": root})
	if swapped != 1 {
		t.Fatalf("the walk never reached walked/ (%d swaps): %+v", swapped, r)
	}
	for _, f := range r.Findings {
		if strings.HasPrefix(f.Path, walked+"/") || strings.Contains(f.Path, "denied") {
			t.Errorf("found %s in %s: the swapped link was followed past the deny-list", f.Rule, f.Path)
		}
	}
	if len(r.Findings) == 0 {
		t.Errorf("nothing found at all: %+v", r)
	}
}

// TestScanSecretsFollowsNoLinkInside: a link inside the root to a
// deny-listed directory or file is not a way past the deny-list: a path
// through a link is refused, and a walk skips links (os.Root would
// follow those that stay inside the root).
func TestScanSecretsFollowsNoLinkInside(t *testing.T) {
	root := plant(t)
	os.Symlink("denied", filepath.Join(root, "alias"))
	os.Symlink("denied/secret.txt", filepath.Join(root, "notes.txt"))
	os.MkdirAll(filepath.Join(root, "walked"), 0o755)
	os.Symlink("../denied/secret.txt", filepath.Join(root, "walked", "link.txt"))
	_, c := start(t, Config{Roots: []string{root}, Denied: denyDir}, nil)
	for _, p := range []string{"alias", "alias/secret.txt", "notes.txt"} {
		msg := toolstest.Err(t, c, "scan_secrets", map[string]any{"path": filepath.Join(root, p)})
		if !strings.Contains(msg, "symbolic link") {
			t.Errorf("path %s: %q, want a refusal naming the link", p, msg)
		}
	}
	r := toolstest.OK[ScanResult](t, c, "scan_secrets", map[string]any{"path": filepath.Join(root, "walked")})
	if len(r.Findings) != 0 || r.FilesScanned != 0 {
		t.Errorf("a walk through a link to a denied file: %+v", r)
	}
}

// TestScanSecretsSkipsProtectedInodes: a file or directory the file
// tools protect by device and inode (the server's own, bind-mounted
// inside a root, whatever its path there) is neither read nor walked:
// it counts as denied, and its secrets are not found.
func TestScanSecretsSkipsProtectedInodes(t *testing.T) {
	root := plant(t)
	id := func(rel string) [2]uint64 {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(root, rel), &st); err != nil {
			t.Fatal(err)
		}
		return [2]uint64{uint64(st.Dev), st.Ino}
	}
	guarded := map[[2]uint64]bool{id("app/aws.conf"): true, id("backup"): true}
	protected := func() func(dev, ino uint64) bool {
		return func(dev, ino uint64) bool { return guarded[[2]uint64{dev, ino}] }
	}
	_, c := start(t, Config{Roots: []string{root}, Denied: denyDir, Protected: protected}, nil)
	all := toolstest.OK[ScanResult](t, c, "scan_secrets", nil)
	for _, f := range all.Findings {
		if strings.HasSuffix(f.Path, "/app/aws.conf") || strings.Contains(f.Path, "/backup/") {
			t.Errorf("found %s in protected %s", f.Rule, f.Path)
		}
	}
	_, plain := start(t, Config{Roots: []string{root}, Denied: denyDir}, nil)
	if base := toolstest.OK[ScanResult](t, plain, "scan_secrets", nil); all.Denied != base.Denied+2 || len(all.Findings) != len(base.Findings)-2 {
		t.Errorf("denied %d, findings %d with the guard; %d and %d without: want 2 more denied, 2 fewer findings",
			all.Denied, len(all.Findings), base.Denied, len(base.Findings))
	}
	if r := toolstest.OK[ScanResult](t, c, "scan_secrets", map[string]any{"path": filepath.Join(root, "backup")}); r.Denied != 1 || r.FilesScanned != 0 || len(r.Findings) != 0 {
		t.Errorf("a scan of the protected directory itself: %+v, want it denied, nothing read", r)
	}
}

// TestScanSecretsHoldsNoDescriptorPerLevel: however deep a tree, a scan
// does not hold a descriptor open for each level (anyone who may write
// under a root could otherwise run the whole server out of descriptors).
func TestScanSecretsHoldsNoDescriptorPerLevel(t *testing.T) {
	root := t.TempDir()
	deep := root
	for range 200 {
		deep = filepath.Join(deep, "d")
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	openFDs := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	_, c := start(t, Config{Roots: []string{root}}, nil)
	before, most := openFDs(), 0
	hookDir = func(string) { most = max(most, openFDs()) }
	t.Cleanup(func() { hookDir = nil })
	toolstest.OK[ScanResult](t, c, "scan_secrets", nil)
	if most == 0 || most-before > 20 {
		t.Errorf("%d descriptors open at most during a walk 200 levels deep, %d before", most, before)
	}
}

// SPDX-License-Identifier: Apache-2.0

package gitsource_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tailops/tailops/gitsource"
	"github.com/tailops/tailops/gitsource/gittest"
	"github.com/tailops/tailops/labtest"
)

// TestMain moves the test binary into a network namespace of its own
// with only loopback: the git servers below (git http-backend behind
// net/http/cgi, OpenSSH's sshd) listen on that namespace's 127.0.0.1,
// and nothing the tests do can reach another network.
func TestMain(m *testing.M) {
	labtest.ReexecInLoopbackNetNS()
	os.Exit(m.Run())
}

// repo is a repository served by the test: commits A (tag v1, annotated),
// B (named by no ref) and C (main), a post-checkout hook committed in
// .githooks that would create marker, and the bare copies the servers
// serve under root.
type repo struct {
	work, root, marker string
	a, b, c            string
}

func newRepo(t *testing.T) *repo {
	t.Helper()
	base := t.TempDir()
	r := &repo{work: filepath.Join(base, "work"), root: filepath.Join(base, "srv"), marker: filepath.Join(base, "hook-ran")}
	write := func(name, content string, mode os.FileMode) {
		p := filepath.Join(r.work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	gittest.Git(t, base, "init", "-q", "-b", "main", r.work)
	write("compose.yaml", "version: A\n", 0o644)
	write(".githooks/post-checkout", "#!/bin/sh\ntouch "+r.marker+"\n", 0o755)
	gittest.Git(t, r.work, "add", ".")
	gittest.Git(t, r.work, "commit", "-qm", "A")
	gittest.Git(t, r.work, "tag", "-a", "-m", "v1", "v1")
	r.a = gittest.Git(t, r.work, "rev-parse", "HEAD")
	write("compose.yaml", "version: B\n", 0o644)
	gittest.Git(t, r.work, "commit", "-qam", "B")
	r.b = gittest.Git(t, r.work, "rev-parse", "HEAD")
	write("compose.yaml", "version: C\n", 0o644)
	gittest.Git(t, r.work, "commit", "-qam", "C")
	r.c = gittest.Git(t, r.work, "rev-parse", "HEAD")
	if err := os.MkdirAll(r.root, 0o755); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, base, "clone", "-q", "--bare", r.work, filepath.Join(r.root, "stack.git"))
	// The served repository carries hooks of its own too (a clone never
	// copies them; they must not run on our side either).
	hook := "#!/bin/sh\ntouch " + r.marker + "\n"
	for _, h := range []string{"post-checkout", "post-merge", "post-update"} {
		if err := os.WriteFile(filepath.Join(r.root, "stack.git", "hooks", h), []byte(hook), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// commitC2 adds a commit on main and pushes it to the served copy.
func (r *repo) advance(t *testing.T, bare string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(r.work, "compose.yaml"), []byte("version: D\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, r.work, "commit", "-qam", "D")
	gittest.Git(t, r.work, "push", "-q", bare, "main")
	return gittest.Git(t, r.work, "rev-parse", "HEAD")
}

// sshServer is gittest's sshd, with the gitsource configuration that
// reaches it with its deploy key and known_hosts.
type sshServer struct{ *gittest.SSHServer }

func serveSSH(t *testing.T) sshServer { return sshServer{gittest.ServeSSH(t)} }

func (s sshServer) config() gitsource.Config {
	return gitsource.Config{
		Hosts:          []string{s.HostPort()},
		KnownHostsFile: s.KnownHosts,
		SSHKeyFile:     s.KeyFile,
		Timeout:        time.Minute,
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkFetch fetches ref and checks the commit, the ref and the file.
func checkFetch(t *testing.T, cfg gitsource.Config, url, ref, wantCommit, wantRef, wantVersion string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "checkout")
	res, err := gitsource.Fetch(context.Background(), cfg, gitsource.Request{URL: url, Ref: ref, Dir: dir})
	if err != nil {
		t.Fatalf("Fetch(%q, %q): %v", url, ref, err)
	}
	if res.Commit != wantCommit || res.Ref != wantRef {
		t.Errorf("Fetch(%q, %q) = %+v, want commit %s ref %q", url, ref, res, wantCommit, wantRef)
	}
	if got := readFile(t, filepath.Join(dir, "compose.yaml")); got != "version: "+wantVersion+"\n" {
		t.Errorf("Fetch(%q, %q): compose.yaml = %q, want version %s", url, ref, got, wantVersion)
	}
	// The checkout is a repository git itself reads at that commit.
	if head := gittest.Git(t, dir, "rev-parse", "HEAD"); head != wantCommit {
		t.Errorf("Fetch(%q, %q): git rev-parse HEAD = %s, want %s", url, ref, head, wantCommit)
	}
	return dir
}

func TestFetchHTTP(t *testing.T) {
	r := newRepo(t)
	srv := gittest.ServeHTTP(t, r.root, false)
	cfg := gitsource.Config{Hosts: []string{srv.HostPort()}, AllowHTTP: true, Timeout: time.Minute}
	url := srv.URL + "/git/stack.git"
	for _, c := range []struct{ name, ref, commit, wantRef, version string }{
		{"branch", "main", r.c, "refs/heads/main", "C"},
		{"full branch ref", "refs/heads/main", r.c, "refs/heads/main", "C"},
		{"remote HEAD", "", r.c, "refs/heads/main", "C"},
		{"annotated tag", "v1", r.a, "refs/tags/v1", "A"},
		// git's default refuses a bare commit no ref names: the fallback
		// fetches the branches and tags and checks it out.
		{"commit named by no ref", r.b, r.b, "", "B"},
		{"commit at a branch tip", r.c, r.c, "", "C"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := checkFetch(t, cfg, url, c.ref, c.commit, c.wantRef, c.version)
			_, err := os.Stat(filepath.Join(dir, ".git", "shallow"))
			if shallow := err == nil; shallow != (c.name != "commit named by no ref") {
				t.Errorf("shallow clone = %v", shallow)
			}
		})
	}
	if _, err := os.Stat(r.marker); err == nil {
		t.Fatal("a hook ran")
	}
}

func TestFetchHTTPS(t *testing.T) {
	r := newRepo(t)
	srv := gittest.ServeHTTP(t, r.root, true)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	cfg := gitsource.Config{Hosts: []string{srv.HostPort()}, RootCAs: pool, Timeout: time.Minute}
	checkFetch(t, cfg, srv.URL+"/git/stack.git", "main", r.c, "refs/heads/main", "C")

	// Without the test CA the server is not trusted.
	cfg.RootCAs = x509.NewCertPool()
	_, err := gitsource.Fetch(context.Background(), cfg, gitsource.Request{URL: srv.URL + "/git/stack.git", Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Fetch from an untrusted server: %v, want a certificate error", err)
	}
}

func TestFetchSSH(t *testing.T) {
	r := newRepo(t)
	s := serveSSH(t)
	bare := filepath.Join(r.root, "stack.git")
	url := s.URL(bare)
	cfg := s.config()
	checkFetch(t, cfg, url, "main", r.c, "refs/heads/main", "C")
	checkFetch(t, cfg, url, "v1", r.a, "refs/tags/v1", "A")
	checkFetch(t, cfg, url, r.b, r.b, "", "B")

	// A server that allows any reachable commit in a want sends B alone,
	// shallow.
	gittest.Git(t, bare, "config", "uploadpack.allowReachableSHA1InWant", "true")
	dir := checkFetch(t, cfg, url, r.b, r.b, "", "B")
	if _, err := os.Stat(filepath.Join(dir, ".git", "shallow")); err != nil {
		t.Errorf("a commit fetched directly is not shallow: %v", err)
	}
	if _, err := os.Stat(r.marker); err == nil {
		t.Fatal("a hook ran")
	}
}

func TestRemoteMoved(t *testing.T) {
	r := newRepo(t)
	bare := filepath.Join(r.root, "stack.git")
	srv := gittest.ServeHTTP(t, r.root, false)
	s := serveSSH(t)
	ctx := context.Background()
	httpCfg := gitsource.Config{Hosts: []string{srv.HostPort()}, AllowHTTP: true, Timeout: time.Minute}
	targets := []struct {
		name string
		cfg  gitsource.Config
		url  string
	}{
		{"http", httpCfg, srv.URL + "/git/stack.git"},
		{"ssh", s.config(), s.URL(bare)},
	}
	for _, tg := range targets {
		got, err := gitsource.Remote(ctx, tg.cfg, tg.url, "main")
		if err != nil || got != r.c {
			t.Fatalf("%s: Remote(main) = %s, %v; want %s", tg.name, got, err, r.c)
		}
		if got, err := gitsource.Remote(ctx, tg.cfg, tg.url, "v1"); err != nil || got != r.a {
			t.Fatalf("%s: Remote(v1) = %s, %v; want the tagged commit %s", tg.name, got, err, r.a)
		}
		if _, err := gitsource.Remote(ctx, tg.cfg, tg.url, "nope"); !errors.Is(err, gitsource.ErrRefNotFound) {
			t.Fatalf("%s: Remote(nope) = %v, want ErrRefNotFound", tg.name, err)
		}
	}
	d := r.advance(t, bare)
	for _, tg := range targets {
		got, err := gitsource.Remote(ctx, tg.cfg, tg.url, "main")
		if err != nil || got != d {
			t.Fatalf("%s: after a push, Remote(main) = %s, %v; want %s", tg.name, got, err, d)
		}
	}
}

// TestHooksNeverRun: the repository commits a post-checkout hook, and
// git itself runs it when told to use it (the control: the hook is real
// and would create the marker); Fetch never does.
func TestHooksNeverRun(t *testing.T) {
	r := newRepo(t)
	srv := gittest.ServeHTTP(t, r.root, false)
	url := srv.URL + "/git/stack.git"
	checkFetch(t, gitsource.Config{Hosts: []string{srv.HostPort()}, AllowHTTP: true}, url, "main", r.c, "refs/heads/main", "C")
	if _, err := os.Stat(r.marker); err == nil {
		t.Fatal("Fetch ran a hook of the repository")
	}
	gittest.Git(t, t.TempDir(), "-c", "core.hooksPath=.githooks", "clone", "-q", url, "control")
	if _, err := os.Stat(r.marker); err != nil {
		t.Fatalf("control: git clone with core.hooksPath did not run the hook, so this test proves nothing: %v", err)
	}
}

func TestHostNotAllowedConnectsNowhere(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	cfg := gitsource.Config{Hosts: []string{"git.example.invalid", "127.0.0.1:" + strconv.Itoa(port+1)}, AllowHTTP: true, SSHKeyFile: "/nonexistent"}
	for _, url := range []string{
		fmt.Sprintf("http://127.0.0.1:%d/r.git", port),
		fmt.Sprintf("https://127.0.0.1:%d/r.git", port),
		fmt.Sprintf("ssh://git@127.0.0.1:%d/r.git", port),
		"git@127.0.0.1:r.git",
	} {
		_, err := gitsource.Fetch(context.Background(), cfg, gitsource.Request{URL: url, Ref: "main", Dir: filepath.Join(t.TempDir(), "d")})
		if !errors.Is(err, gitsource.ErrHostNotAllowed) {
			t.Errorf("Fetch(%s) = %v, want ErrHostNotAllowed", url, err)
		}
		if _, err := gitsource.Remote(context.Background(), cfg, url, "main"); !errors.Is(err, gitsource.ErrHostNotAllowed) {
			t.Errorf("Remote(%s) = %v, want ErrHostNotAllowed", url, err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d connections reached a host off the allow-list", n)
	}
}

func TestRefusedURLs(t *testing.T) {
	r := newRepo(t)
	bare := filepath.Join(r.root, "stack.git")
	cfg := gitsource.Config{Hosts: []string{"127.0.0.1", "localhost"}, AllowHTTP: true}
	for _, c := range []struct{ url, want string }{
		{"file://" + bare, "file:// is not allowed"},
		{bare, "local paths are not allowed"},
		{"git://127.0.0.1/stack.git", "not allowed"},
		{"ext::touch%" + r.marker, "transport helpers"},
		{"https://user:s3cret@127.0.0.1/stack.git", "REDACTED"},
		{"https://ghp_s3cret@127.0.0.1/stack.git", "REDACTED"},
		{"ssh://git:s3cret@127.0.0.1/stack.git", "REDACTED"},
	} {
		dir := filepath.Join(t.TempDir(), "d")
		_, err := gitsource.Fetch(context.Background(), cfg, gitsource.Request{URL: c.url, Ref: "main", Dir: dir})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Fetch(%q) = %v, want an error with %q", c.url, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Fetch(%q): the error shows the credential: %v", c.url, err)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("Fetch(%q) refused, but created %s", c.url, dir)
		}
	}
	if _, err := os.Stat(r.marker); err == nil {
		t.Fatal("ext:: ran a command")
	}
}

func TestPlainHTTPNeedsAllowHTTP(t *testing.T) {
	r := newRepo(t)
	srv := gittest.ServeHTTP(t, r.root, false)
	cfg := gitsource.Config{Hosts: []string{srv.HostPort()}}
	url := srv.URL + "/git/stack.git"
	_, err := gitsource.Fetch(context.Background(), cfg, gitsource.Request{URL: url, Ref: "main", Dir: filepath.Join(t.TempDir(), "d")})
	if err == nil || !strings.Contains(err.Error(), "plain http is not allowed") {
		t.Fatalf("Fetch over http without AllowHTTP: %v", err)
	}
	if _, err := gitsource.Remote(context.Background(), cfg, url, "main"); err == nil {
		t.Fatal("Remote over http without AllowHTTP succeeded")
	}
	if n := srv.Hits.Load(); n != 0 {
		t.Fatalf("the http server got %d requests", n)
	}
	cfg.AllowHTTP = true
	checkFetch(t, cfg, url, "main", r.c, "refs/heads/main", "C")
}

func TestSSHHostKeyMismatch(t *testing.T) {
	r := newRepo(t)
	s := serveSSH(t)
	url := s.URL(filepath.Join(r.root, "stack.git"))
	other := gittest.NewKey(t, filepath.Join(t.TempDir(), "other"))
	for _, c := range []struct{ name, knownHosts string }{
		{"another key for the host", fmt.Sprintf("[127.0.0.1]:%d %s", s.Port, ssh.MarshalAuthorizedKey(other))},
		{"the key for another host", fmt.Sprintf("[127.0.0.1]:%d %s", s.Port+1, ssh.MarshalAuthorizedKey(s.HostKey))},
		{"the key for the host on port 22", fmt.Sprintf("127.0.0.1 %s", ssh.MarshalAuthorizedKey(s.HostKey))},
		{"the key revoked", fmt.Sprintf("@revoked * %s[127.0.0.1]:%d %s", ssh.MarshalAuthorizedKey(s.HostKey), s.Port, ssh.MarshalAuthorizedKey(s.HostKey))},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := s.config()
			cfg.KnownHostsFile = ""
			cfg.KnownHosts = []byte(c.knownHosts)
			dir := filepath.Join(t.TempDir(), "d")
			_, err := gitsource.Fetch(context.Background(), cfg, gitsource.Request{URL: url, Ref: "main", Dir: dir})
			if !errors.Is(err, gitsource.ErrHostKeyMismatch) {
				t.Fatalf("Fetch = %v, want ErrHostKeyMismatch", err)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("a refused Fetch left %s behind", dir)
			}
		})
	}
	// The right key in lines (not a file), hashed as ssh-keygen -H does.
	cfg := s.config()
	cfg.KnownHostsFile = ""
	cfg.KnownHosts = []byte(fmt.Sprintf("%s %s", hashHost(t, fmt.Sprintf("[127.0.0.1]:%d", s.Port)), ssh.MarshalAuthorizedKey(s.HostKey)))
	checkFetch(t, cfg, url, "main", r.c, "refs/heads/main", "C")
}

// hashHost hashes a known_hosts name with ssh-keygen -H.
func hashHost(t *testing.T, name string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "kh")
	if err := os.WriteFile(f, []byte(name+" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ssh-keygen", "-H", "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -H: %v\n%s", err, out)
	}
	line := readFile(t, f)
	return strings.Fields(line)[0]
}

func TestSSHDeployKeyErrors(t *testing.T) {
	r := newRepo(t)
	s := serveSSH(t)
	url := s.URL(filepath.Join(r.root, "stack.git"))
	cfg := s.config()
	cfg.SSHKeyFile = filepath.Join(t.TempDir(), "missing_key")
	_, err := gitsource.Fetch(context.Background(), cfg, gitsource.Request{URL: url, Ref: "main", Dir: filepath.Join(t.TempDir(), "d")})
	if err == nil || !strings.Contains(err.Error(), "git_ssh_key_file") || !strings.Contains(err.Error(), cfg.SSHKeyFile) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Fetch with a missing deploy key: %v, want an error naming git_ssh_key_file and the path", err)
	}
	cfg.SSHKeyFile = ""
	if _, err := gitsource.Remote(context.Background(), cfg, url, "main"); err == nil || !strings.Contains(err.Error(), "git_ssh_key_file") {
		t.Fatalf("Remote without a deploy key: %v", err)
	}
	// A key the server does not authorize.
	cfg.SSHKeyFile = filepath.Join(t.TempDir(), "stranger")
	gittest.NewKey(t, cfg.SSHKeyFile)
	if _, err := gitsource.Remote(context.Background(), cfg, url, "main"); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("Remote with an unauthorized key: %v", err)
	}
}

func TestFetchLimitsAndDestination(t *testing.T) {
	r := newRepo(t)
	srv := gittest.ServeHTTP(t, r.root, false)
	cfg := gitsource.Config{Hosts: []string{srv.HostPort()}, AllowHTTP: true, MaxBytes: 100}
	url := srv.URL + "/git/stack.git"
	dir := filepath.Join(t.TempDir(), "d")
	if _, err := gitsource.Fetch(context.Background(), cfg, gitsource.Request{URL: url, Ref: "main", Dir: dir}); !errors.Is(err, gitsource.ErrTooLarge) {
		t.Fatalf("Fetch over MaxBytes = %v, want ErrTooLarge", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("a failed Fetch left %s behind", dir)
	}
	cfg.MaxBytes = 0
	busy := t.TempDir()
	if err := os.WriteFile(filepath.Join(busy, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := gitsource.Fetch(context.Background(), cfg, gitsource.Request{URL: url, Ref: "main", Dir: busy}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("Fetch into a non-empty directory: %v", err)
	}
	for _, ref := range []string{"--upload-pack=touch " + r.marker, "nope", strings.Repeat("0", 40)} {
		empty := t.TempDir()
		if _, err := gitsource.Fetch(context.Background(), cfg, gitsource.Request{URL: url, Ref: ref, Dir: empty}); err == nil {
			t.Errorf("Fetch(ref %q) succeeded", ref)
		}
		if ents, _ := os.ReadDir(empty); len(ents) != 0 {
			t.Errorf("Fetch(ref %q) failed but left %d entries in the empty destination", ref, len(ents))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := gitsource.Fetch(ctx, cfg, gitsource.Request{URL: url, Ref: "main", Dir: filepath.Join(t.TempDir(), "d")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch with a cancelled context = %v", err)
	}
}

func TestSymlinkOutsideRefused(t *testing.T) {
	r := newRepo(t)
	if err := os.Symlink("/etc/shadow", filepath.Join(r.work, "compose.yaml.link")); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, r.work, "add", ".")
	gittest.Git(t, r.work, "commit", "-qm", "link")
	gittest.Git(t, r.work, "push", "-q", filepath.Join(r.root, "stack.git"), "main")
	srv := gittest.ServeHTTP(t, r.root, false)
	cfg := gitsource.Config{Hosts: []string{srv.HostPort()}, AllowHTTP: true}
	_, err := gitsource.Fetch(context.Background(), cfg, gitsource.Request{URL: srv.URL + "/git/stack.git", Ref: "main", Dir: filepath.Join(t.TempDir(), "d")})
	if !errors.Is(err, gitsource.ErrUnsafeTree) {
		t.Fatalf("Fetch of a tree with a symlink to /etc/shadow = %v, want ErrUnsafeTree", err)
	}
}

// TestDialContextUsed: every connection, https, http and ssh, is made by
// Config.DialContext, so a destination policy there sees and can refuse
// it; ALL_PROXY in the environment is not used.
func TestDialContextUsed(t *testing.T) {
	r := newRepo(t)
	plain := gittest.ServeHTTP(t, r.root, false)
	s := serveSSH(t)
	var dials atomic.Int64
	count := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	refuse := func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("refused by the destination policy")
	}
	httpCfg := gitsource.Config{Hosts: []string{plain.HostPort()}, AllowHTTP: true}
	for _, c := range []struct {
		name string
		cfg  gitsource.Config
		url  string
	}{
		{"http", httpCfg, plain.URL + "/git/stack.git"},
		{"ssh", s.config(), s.URL(filepath.Join(r.root, "stack.git"))},
	} {
		t.Run(c.name, func(t *testing.T) {
			dials.Store(0)
			cfg := c.cfg
			cfg.DialContext = count
			checkFetch(t, cfg, c.url, "main", r.c, "refs/heads/main", "C")
			if dials.Load() == 0 {
				t.Fatal("Fetch connected without Config.DialContext")
			}
			cfg.DialContext = refuse
			if _, err := gitsource.Remote(context.Background(), cfg, c.url, "main"); err == nil || !strings.Contains(err.Error(), "refused by the destination policy") {
				t.Fatalf("Remote with a refusing DialContext: %v", err)
			}
		})
	}
}

// TestTimeout: a server that accepts and never answers does not hold a
// Fetch past Config.Timeout, over http or ssh.
func TestTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn // never answered; closed with the listener
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	hp := l.Addr().String()
	keyFile := filepath.Join(t.TempDir(), "key")
	hostKey := gittest.NewKey(t, filepath.Join(t.TempDir(), "host"))
	gittest.NewKey(t, keyFile)
	cfg := gitsource.Config{
		Hosts: []string{hp}, AllowHTTP: true, Timeout: 500 * time.Millisecond, SSHKeyFile: keyFile,
		KnownHosts: []byte(fmt.Sprintf("[127.0.0.1]:%d %s", l.Addr().(*net.TCPAddr).Port, ssh.MarshalAuthorizedKey(hostKey))),
	}
	for _, url := range []string{"http://" + hp + "/r.git", "ssh://git@" + hp + "/r.git"} {
		done := make(chan error, 1)
		go func() {
			_, err := gitsource.Fetch(context.Background(), cfg, gitsource.Request{URL: url, Ref: "main", Dir: filepath.Join(t.TempDir(), "d")})
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("Fetch(%s) from a silent server succeeded", url)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Fetch(%s) from a silent server still runs after 10s with a 500ms timeout", url)
		}
	}
}

// TestRedirectRefused: an http(s) server that redirects (even to an
// allowed host) is refused, not followed.
func TestRedirectRefused(t *testing.T) {
	r := newRepo(t)
	real := gittest.ServeHTTP(t, r.root, false)
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, real.URL+req.URL.RequestURI(), http.StatusFound)
	}))
	defer redir.Close()
	cfg := gitsource.Config{Hosts: []string{real.HostPort(), strings.TrimPrefix(redir.URL, "http://")}, AllowHTTP: true}
	_, err := gitsource.Fetch(context.Background(), cfg, gitsource.Request{URL: redir.URL + "/git/stack.git", Ref: "main", Dir: filepath.Join(t.TempDir(), "d")})
	if err == nil || !strings.Contains(err.Error(), "redirect") {
		t.Fatalf("Fetch through a redirect: %v, want it refused", err)
	}
	if n := real.Hits.Load(); n != 0 {
		t.Fatalf("the redirect was followed: %d requests reached the target", n)
	}
}

// TestFetchRefusesTooManyEntries: a commit with more files and
// directories than Config.MaxEntries is refused before anything is
// checked out.
func TestFetchRefusesTooManyEntries(t *testing.T) {
	r := newRepo(t)
	srv := gittest.ServeHTTP(t, r.root, false)
	cfg := gitsource.Config{Hosts: []string{srv.HostPort()}, AllowHTTP: true, MaxEntries: 2}
	dir := filepath.Join(t.TempDir(), "d")
	_, err := gitsource.Fetch(context.Background(), cfg, gitsource.Request{URL: srv.URL + "/git/stack.git", Ref: "main", Dir: dir})
	if !errors.Is(err, gitsource.ErrTooLarge) || !strings.Contains(err.Error(), "files") {
		t.Fatalf("Fetch of a tree of 3 entries with MaxEntries 2 = %v, want ErrTooLarge (files and directories)", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("a refused Fetch left %s behind", dir)
	}
	cfg.MaxEntries = 3
	checkFetch(t, cfg, srv.URL+"/git/stack.git", "main", r.c, "refs/heads/main", "C")
}

// SPDX-License-Identifier: Apache-2.0

// Package gittest runs real git for tests: the git command line with no
// user or system configuration, and git http-backend behind an
// httptest server, so that tests of gitsource and of its callers fetch
// from a real git server on loopback.
package gittest

import (
	"io"
	"log"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// Need returns path, failing the test (never skipping it) when the
// program is missing: CI installs git and openssh-server.
func Need(t testing.TB, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing (apt-get install git openssh-server): %v", path, err)
	}
	return path
}

// Env is a git environment that reads no user or system config, with a
// fixed author, committer and date.
func Env(home string) []string {
	return []string{
		"HOME=" + home, "PATH=/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid",
		"GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z",
	}
}

// Git runs git args in dir with Env and returns its trimmed output; a
// failure fails the test.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(Need(t, "/usr/bin/git"), args...)
	cmd.Dir = dir
	cmd.Env = Env(t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// HTTPServer serves the bare repositories under a root with git
// http-backend (smart HTTP) at /git/, and counts requests.
type HTTPServer struct {
	*httptest.Server
	// Hits counts the requests served.
	Hits atomic.Int64
}

// ServeHTTP starts git http-backend over root on a loopback port (TLS
// when tls is set), closed when the test ends.
func ServeHTTP(t testing.TB, root string, tls bool) *HTTPServer {
	t.Helper()
	h := &cgi.Handler{
		Path: Need(t, "/usr/lib/git-core/git-http-backend"),
		Root: "/git",
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + root},
	}
	s := &HTTPServer{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Hits.Add(1)
		h.ServeHTTP(w, r)
	})
	if tls {
		s.Server = httptest.NewUnstartedServer(handler)
		// The untrusted-server case makes the server log a handshake error.
		s.Config.ErrorLog = log.New(io.Discard, "", 0)
		s.StartTLS()
	} else {
		s.Server = httptest.NewServer(handler)
	}
	t.Cleanup(s.Close)
	return s
}

// HostPort is the server's host:port, as git_hosts lists it.
func (s *HTTPServer) HostPort() string {
	return strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://")
}

// SPDX-License-Identifier: Apache-2.0

package gitsource

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	good := []struct {
		in   string
		want URL
	}{
		{"https://github.com/o/r.git", URL{Scheme: "https", Host: "github.com", Path: "/o/r.git"}},
		{"HTTPS://GitHub.com:8443/o/r", URL{Scheme: "https", Host: "github.com", Port: 8443, Path: "/o/r"}},
		{"http://127.0.0.1:3000/r.git", URL{Scheme: "http", Host: "127.0.0.1", Port: 3000, Path: "/r.git"}},
		{"ssh://git@git.lan:2222/srv/r.git", URL{Scheme: "ssh", User: "git", Host: "git.lan", Port: 2222, Path: "/srv/r.git"}},
		{"ssh://[::1]:22/r", URL{Scheme: "ssh", Host: "::1", Port: 22, Path: "/r"}},
		{"git@github.com:o/r.git", URL{Scheme: "ssh", User: "git", Host: "github.com", Path: "o/r.git"}},
		{"git.lan:/srv/r.git", URL{Scheme: "ssh", Host: "git.lan", Path: "/srv/r.git"}},
		{"git@[::1]:r.git", URL{Scheme: "ssh", User: "git", Host: "::1", Path: "r.git"}},
	}
	for _, c := range good {
		got, err := ParseURL(c.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseURL(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
	bad := []struct{ in, why string }{
		{"", "empty"},
		{"file:///srv/r.git", "file://"},
		{"FILE:///srv/r.git", "file://"},
		{"git://github.com/o/r", "scheme"},
		{"ext::sh -c touch% /tmp/x", "space"},
		{"ext::sh", "transport helpers"},
		{"/srv/r.git", "local paths"},
		{"./r.git", "local paths"},
		{"r.git", "local paths"},
		{"-uhttps://x/r", "option"},
		{"ssh://-oProxyCommand=x/r", "host"},
		{"git@-oProxyCommand=x:r", "host"},
		{"-oProxyCommand=x@host:r", "option"},
		{"git@host:-r", "option"},
		{"ssh://host/-r", "option"},
		{"https://host/r?x=1", "query"},
		{"https://host/r#x", "fragment"},
		{"https://host:0/r", "port"},
		{"https://host:99999/r", "port"},
		{"https://host", "no repository path"},
		{"https://host/a/../b", ".."},
		{"ssh://host/r'; touch x'", "space"},
		{"ssh://host/r';touch", "shell"},
		{"ssh://host/r%20x", "space"},
		{"https://ho_st/r", "host name"},
		{"https://host/r\x00", "control"},
		{"https://host/r\\x", "backslash"},
		{"ssh://us;er@host/r", "user"},
	}
	for _, c := range bad {
		_, err := ParseURL(c.in)
		if err == nil {
			t.Errorf("ParseURL(%q) accepted, want an error about %s", c.in, c.why)
			continue
		}
		if !strings.Contains(err.Error(), c.why) {
			t.Errorf("ParseURL(%q) = %v, want it to mention %q", c.in, err, c.why)
		}
	}
}

func TestParseURLRedactsCredentials(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"https://user:s3cret@github.com/o/r.git",
		"https://s3cret@github.com/o/r.git",
		"http://x-access-token:s3cret@github.com/o/r.git",
		"ssh://git:s3cret@host/r.git",
		"git:s3cret@host:r.git",
		"https://user:s3cret@github.com/o/r.git?x=1",
	} {
		_, err := ParseURL(in)
		if err == nil {
			t.Errorf("ParseURL(%q) accepted a credential", in)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseURL(%q) error shows the secret: %v", in, err)
		}
		if !strings.Contains(err.Error(), "REDACTED") {
			t.Errorf("ParseURL(%q) error does not show the URL redacted: %v", in, err)
		}
	}
	_, err := ParseURL("https://user:s3cret@github.com/o/r.git")
	if !errors.Is(err, ErrCredentialsInURL) {
		t.Errorf("want ErrCredentialsInURL, got %v", err)
	}
}

func TestAllowed(t *testing.T) {
	t.Parallel()
	hosts, err := parseHosts([]string{"GitHub.com", "git.lan:2222", "[::1]:8080", "10.0.0.5"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		url  string
		want bool
	}{
		{"https://github.com/o/r", true},
		{"git@github.com:o/r", true},
		{"https://github.com:444/o/r", false},
		{"https://github.com.evil.example/o/r", false},
		{"https://evil.example/github.com/r", false},
		{"ssh://git@git.lan:2222/r", true},
		{"ssh://git@git.lan/r", false},
		{"https://git.lan:2222/r", true},
		{"http://[::1]:8080/r", true},
		{"http://[::1]/r", false},
		{"https://10.0.0.5/r", true},
	}
	for _, c := range cases {
		u, err := ParseURL(c.url)
		if err != nil {
			t.Fatalf("ParseURL(%q): %v", c.url, err)
		}
		if got := allowed(hosts, u); got != c.want {
			t.Errorf("allowed(%q) = %v, want %v", c.url, got, c.want)
		}
	}
	for _, bad := range []string{"-oProxyCommand=x", "host:0", "host:x", "a b", ""} {
		if _, err := parseHosts([]string{bad}); err == nil {
			t.Errorf("parseHosts(%q) accepted", bad)
		}
	}
}

func TestCheckRef(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"", "main", "feature/x", "v1.2.3", "refs/heads/main", "refs/tags/v1", strings.Repeat("a", 40)} {
		if err := checkRef(ok); err != nil {
			t.Errorf("checkRef(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"-main", "--upload-pack=x", "a..b", "refs/remotes/x", "refs/pull/1/head", "a b", "x\x00", "abc~1", "HEAD^", "x.lock"} {
		if err := checkRef(bad); err == nil {
			t.Errorf("checkRef(%q) accepted", bad)
		}
	}
}

// FuzzParseURL checks that what ParseURL accepts is safe to hand to a
// transport, and that no error shows a credential.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"https://github.com/o/r.git", "git@github.com:o/r.git", "ssh://git@h:2222/r",
		"file:///etc", "https://u:p@h/r", "ext::sh -c x", "-oProxyCommand=x@h:r", "git@[::1]:r",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseURL(raw)
		if err != nil {
			if _, pass, ok := strings.Cut(userinfo(raw), ":"); ok && len(pass) >= 4 && strings.Contains(err.Error(), pass) && !strings.Contains(Redact(raw), pass) {
				t.Fatalf("error shows the password %q: %v", pass, err)
			}
			return
		}
		if u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "ssh" {
			t.Fatalf("scheme %q accepted", u.Scheme)
		}
		if u.Scheme != "ssh" && u.User != "" {
			t.Fatalf("user %q kept for %s", u.User, u.Scheme)
		}
		if checkHost(u.Host) != nil || strings.HasPrefix(u.Host, "-") {
			t.Fatalf("host %q accepted", u.Host)
		}
		if strings.HasPrefix(u.Path, "-") || strings.Contains(u.Path, "/-") || strings.ContainsAny(u.Path, "'!\x00 \n") {
			t.Fatalf("path %q accepted", u.Path)
		}
		if !utf8.ValidString(u.String()) {
			t.Fatalf("String() not UTF-8: %q", u.String())
		}
		again, err := ParseURL(u.String())
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", u.String(), raw, err)
		}
		if again.Host != u.Host || again.Port != u.Port || again.Scheme != u.Scheme || again.User != u.User {
			t.Fatalf("canonical form %q of %q parses as %+v, was %+v", u.String(), raw, again, u)
		}
	})
}

// userinfo returns what lies between "://" and "@" in raw, if anything.
func userinfo(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		return rest[:at]
	}
	return ""
}

// SPDX-License-Identifier: Apache-2.0

package gitsource

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// helperPrefix is git's "<transport>::<address>" syntax.
var helperPrefix = regexp.MustCompile(`^[A-Za-z0-9+.-]*::`)

// maxURLLen bounds a repository URL; longer ones are refused unread.
const maxURLLen = 2048

// URL is a validated repository address: https, http or ssh, never a
// local path, file:// or git://, never with credentials.
type URL struct {
	// Scheme is "https", "http" or "ssh" (scp-like user@host:path is ssh).
	Scheme string
	// User is the SSH user, empty when none was given (then "git" is
	// used). Always empty for http and https.
	User string
	// Host is the host name or IP address, lowercase, without brackets.
	Host string
	// Port is the port given in the URL, 0 when none was.
	Port int
	// Path is the repository's path on the server.
	Path string
}

// ErrCredentialsInURL is returned by ParseURL for a URL that carries a
// password or (http, https) any user information: credentials belong in
// the configuration, never in a URL that is logged, audited and shown.
var ErrCredentialsInURL = errors.New("credentials in a repository URL are not accepted (the URL is shown redacted)")

// defaultPort is the port a scheme uses when the URL names none.
func defaultPort(scheme string) int {
	switch scheme {
	case "https":
		return 443
	case "http":
		return 80
	}
	return 22
}

// HostPort is the host and port connected to: "host:port", IPv6 in
// brackets.
func (u URL) HostPort() string {
	p := u.Port
	if p == 0 {
		p = defaultPort(u.Scheme)
	}
	return net.JoinHostPort(u.Host, strconv.Itoa(p))
}

// String returns the URL in its canonical form (an scp-like one as
// ssh://); it never holds a credential.
func (u URL) String() string {
	host := u.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if u.Port != 0 {
		host += ":" + strconv.Itoa(u.Port)
	}
	user := ""
	if u.User != "" {
		user = u.User + "@"
	}
	p := u.Path
	if !strings.HasPrefix(p, "/") {
		// scp-like paths are relative to the login directory.
		p = "/~/" + p
		if strings.HasPrefix(u.Path, "~") {
			p = "/" + u.Path
		}
	}
	return u.Scheme + "://" + user + host + p
}

// Redact returns raw with any user information that may be a credential
// replaced by "REDACTED": everything between "://" and "@" in a URL with
// a scheme, and in an scp-like address a user part holding ":". It is
// for error messages about a URL that ParseURL refused.
func Redact(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
			return raw[:i+3] + "REDACTED" + rest[at:]
		}
		return raw
	}
	if at := strings.LastIndex(raw, "@"); at >= 0 {
		if slash := strings.Index(raw, "/"); (slash < 0 || at < slash) && strings.ContainsAny(raw[:at], ":") {
			return "REDACTED" + raw[at:]
		}
	}
	return raw
}

// ParseURL validates a repository URL: https://host[:port]/path,
// http://… (refused later unless Config.AllowHTTP), ssh://[user@]host[:port]/path
// or scp-like [user@]host:path. It refuses every other scheme (file://,
// git://, ext::), local paths, credentials, queries, fragments, control
// characters and option-looking parts. Errors show the URL redacted.
func ParseURL(raw string) (URL, error) {
	shown := fmt.Sprintf("%q", Redact(raw))
	bad := func(why string) (URL, error) {
		return URL{}, fmt.Errorf("repository URL %s: %s", shown, why)
	}
	if raw == "" {
		return bad("empty")
	}
	if len(raw) > maxURLLen {
		return bad(fmt.Sprintf("longer than %d bytes", maxURLLen))
	}
	for _, r := range raw {
		if r <= ' ' || r == 0x7f || r == '\\' || r == '\ufffd' {
			return bad("contains a space, a control character, a backslash or invalid UTF-8")
		}
	}
	if strings.HasPrefix(raw, "-") {
		return bad("looks like an option")
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		return parseSchemeURL(raw, i, bad)
	}
	if helperPrefix.MatchString(raw) {
		return bad("transport helpers (ext::, fd::) are not allowed")
	}
	return parseSCP(raw, bad)
}

func parseSchemeURL(raw string, i int, bad func(string) (URL, error)) (URL, error) {
	scheme := strings.ToLower(raw[:i])
	switch scheme {
	case "https", "http", "ssh":
	case "file":
		return bad("file:// is not allowed: only https and ssh")
	default:
		return bad(fmt.Sprintf("scheme %q is not allowed: only https and ssh", scheme))
	}
	p, err := url.Parse(raw)
	if err != nil {
		return bad("not a valid URL")
	}
	if p.User != nil {
		if _, hasPass := p.User.Password(); hasPass || scheme != "ssh" {
			return URL{}, fmt.Errorf("repository URL %q: %w", Redact(raw), ErrCredentialsInURL)
		}
	}
	if p.Opaque != "" || p.RawQuery != "" || p.ForceQuery || p.Fragment != "" || strings.Contains(raw, "#") {
		return bad("a query or fragment is not allowed")
	}
	u := URL{Scheme: scheme, Host: strings.ToLower(p.Hostname())}
	if p.User != nil {
		u.User = p.User.Username()
	}
	if ps := p.Port(); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > 65535 {
			return bad("port must be 1-65535")
		}
		u.Port = n
	} else if strings.HasSuffix(p.Host, ":") {
		return bad("empty port")
	}
	u.Path = p.Path
	return finish(u, bad)
}

func parseSCP(raw string, bad func(string) (URL, error)) (URL, error) {
	authority := raw
	if i := strings.Index(raw, "/"); i >= 0 {
		authority = raw[:i]
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 && strings.Contains(raw[:at], ":") {
		return URL{}, fmt.Errorf("repository URL %q: %w", Redact(raw), ErrCredentialsInURL)
	}
	colon := -1
	if strings.HasPrefix(raw, "[") || strings.Contains(raw, "@[") {
		// [::1]:path or user@[::1]:path
		end := strings.Index(raw, "]")
		if end < 0 || end+1 >= len(raw) || raw[end+1] != ':' {
			return bad("not a repository URL (https://, ssh:// or user@host:path)")
		}
		colon = end + 1
	} else {
		colon = strings.Index(raw, ":")
	}
	slash := strings.Index(raw, "/")
	if colon < 0 || (slash >= 0 && slash < colon) {
		return bad("local paths are not allowed: give https://, ssh:// or user@host:path")
	}
	u := URL{Scheme: "ssh"}
	hostPart := raw[:colon]
	if at := strings.LastIndex(hostPart, "@"); at >= 0 {
		u.User, hostPart = hostPart[:at], hostPart[at+1:]
		if u.User == "" {
			return bad("empty user")
		}
	}
	hostPart = strings.TrimSuffix(strings.TrimPrefix(hostPart, "["), "]")
	u.Host = strings.ToLower(hostPart)
	u.Path = raw[colon+1:]
	return finish(u, bad)
}

// finish checks the parts every form shares.
func finish(u URL, bad func(string) (URL, error)) (URL, error) {
	if err := checkHost(u.Host); err != nil {
		return bad(err.Error())
	}
	for _, r := range u.User {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return bad("the user may hold only letters, digits and ._-")
		}
	}
	if strings.HasPrefix(u.User, "-") {
		return bad("the user looks like an option")
	}
	p := strings.TrimPrefix(u.Path, "/")
	if p == "" {
		return bad("no repository path")
	}
	if strings.HasPrefix(u.Path, "-") || strings.Contains(u.Path, "/-") {
		return bad("a path component looks like an option")
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == ".." {
			return bad("the path must not contain ..")
		}
	}
	for _, r := range u.Path {
		if r <= ' ' || r == 0x7f || r == '\\' || r == '%' || r == '#' || r == '?' {
			return bad("the path holds a space, a control character or one of \\ % # ?")
		}
	}
	if strings.ContainsAny(u.Path, "'!`$;|&<>*\"") {
		return bad("the path holds a shell or glob character")
	}
	return u, nil
}

// checkHost accepts a host name (letters, digits, '-' and '.', no label
// starting with '-') or an IP address.
func checkHost(h string) error {
	if h == "" {
		return errors.New("no host")
	}
	if net.ParseIP(h) != nil {
		return nil
	}
	if len(h) > 253 {
		return errors.New("host name too long")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("host name has an empty or overlong label")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("host name label starts or ends with '-'")
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return errors.New("host name may hold only letters, digits, '-' and '.'")
			}
		}
	}
	return nil
}

// hostEntry is one git_hosts entry: a host, and a port or 0 for the
// scheme's default port.
type hostEntry struct {
	host string
	port int
}

// parseHosts validates the allow-list.
func parseHosts(list []string) ([]hostEntry, error) {
	var out []hostEntry
	for _, s := range list {
		e := hostEntry{host: strings.ToLower(s)}
		if h, p, err := net.SplitHostPort(s); err == nil {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("git host %q: port must be 1-65535", s)
			}
			e = hostEntry{host: strings.ToLower(h), port: n}
		} else {
			e.host = strings.TrimSuffix(strings.TrimPrefix(e.host, "["), "]")
		}
		if err := checkHost(e.host); err != nil {
			return nil, fmt.Errorf("git host %q: %w", s, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// allowed reports whether u's host and port are on the list: an entry
// without a port allows the scheme's default port only.
func allowed(list []hostEntry, u URL) bool {
	port := u.Port
	if port == 0 {
		port = defaultPort(u.Scheme)
	}
	for _, e := range list {
		ep := e.port
		if ep == 0 {
			ep = defaultPort(u.Scheme)
		}
		if e.host == u.Host && ep == port {
			return true
		}
	}
	return false
}

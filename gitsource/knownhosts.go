// SPDX-License-Identifier: Apache-2.0

package gitsource

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"
)

// knownKey is one known_hosts line: the host patterns and the key.
type knownKey struct {
	revoked  bool
	patterns []string
	key      ssh.PublicKey
}

// parseKnownHosts reads known_hosts lines (OpenSSH format: plain,
// hashed |1|…, wildcard and negated patterns, [host]:port, @revoked).
// @cert-authority lines are refused: host certificates are not supported.
func parseKnownHosts(data []byte) ([]knownKey, error) {
	var out []knownKey
	rest := data
	for len(rest) > 0 {
		marker, hosts, key, _, next, err := ssh.ParseKnownHosts(rest)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("parsing known_hosts: %w", err)
		}
		rest = next
		switch marker {
		case "":
		case "revoked":
		default:
			return nil, fmt.Errorf("parsing known_hosts: @%s lines are not supported", marker)
		}
		out = append(out, knownKey{revoked: marker == "revoked", patterns: hosts, key: key})
	}
	return out, nil
}

// matchHost reports whether a known_hosts host field's patterns name
// host (as "host" for port 22, "[host]:port" otherwise).
func matchHost(patterns []string, name string) bool {
	matched := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		var ok bool
		if strings.HasPrefix(p, "|1|") {
			ok = matchHashed(p, name)
		} else {
			ok = glob(strings.ToLower(p), name)
		}
		if ok && neg {
			return false
		}
		matched = matched || ok
	}
	return matched
}

// glob matches OpenSSH host patterns: '*' and '?' are wildcards, every
// other byte ('[' and ']' of "[host]:port" included) is literal.
func glob(pattern, name string) bool {
	if pattern == "" {
		return name == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(name); i++ {
			if glob(pattern[1:], name[i:]) {
				return true
			}
		}
		return false
	case '?':
		return name != "" && glob(pattern[1:], name[1:])
	}
	return name != "" && name[0] == pattern[0] && glob(pattern[1:], name[1:])
}

// matchHashed checks a |1|salt|hash entry.
func matchHashed(p, name string) bool {
	parts := strings.Split(p, "|")
	if len(parts) != 4 {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(parts[2])
	want, err2 := base64.StdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	m := hmac.New(sha1.New, salt)
	m.Write([]byte(name))
	return hmac.Equal(m.Sum(nil), want)
}

// knownHostsName is how known_hosts names host:port.
func knownHostsName(hostport string) string {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return strings.ToLower(hostport)
	}
	h = strings.ToLower(h)
	if p == "22" {
		return h
	}
	return "[" + h + "]:" + p
}

// ErrHostKeyMismatch is returned (wrapped) when the server's host key is
// not one that the configured known_hosts lists for it.
var ErrHostKeyMismatch = errors.New("the SSH server's host key is not in the configured known_hosts (git_known_hosts) for this host")

// hostKeyCallback checks host keys against keys only, and the algorithms
// to ask the server for (those of the listed keys) so that a server
// with several keys offers one that can be checked.
func hostKeyCallback(keys []knownKey, hostport string) (ssh.HostKeyCallback, []string) {
	name := knownHostsName(hostport)
	var algos []string
	seen := map[string]bool{}
	for _, k := range keys {
		if k.revoked || !matchHost(k.patterns, name) {
			continue
		}
		as := []string{k.key.Type()}
		if k.key.Type() == ssh.KeyAlgoRSA {
			as = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, a := range as {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	cb := func(_ string, _ net.Addr, key ssh.PublicKey) error {
		raw := key.Marshal()
		found := false
		for _, k := range keys {
			if !bytes.Equal(k.key.Marshal(), raw) {
				continue
			}
			if k.revoked {
				return fmt.Errorf("host key %s of %s is revoked in known_hosts: %w", ssh.FingerprintSHA256(key), name, ErrHostKeyMismatch)
			}
			if matchHost(k.patterns, name) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s offered %s key %s: %w", name, key.Type(), ssh.FingerprintSHA256(key), ErrHostKeyMismatch)
		}
		return nil
	}
	return cb, algos
}

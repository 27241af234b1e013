// SPDX-License-Identifier: Apache-2.0

package redact_test

import (
	"testing"

	"github.com/tailops/tailops/redact"
)

// TestHidesSyntax: redaction that swallows command syntax along with a
// secret is found, wherever the string sits; redaction that hides only
// the secret, and a value redacted whole for its key's name, are not.
func TestHidesSyntax(t *testing.T) {
	tests := []struct {
		name      string
		v         any
		wantWhere string
		want      bool
	}{
		{"header rule to the end of the line", "echo Authorization: Bearer abc; rm -rf /data; echo done", "", true},
		{"a substitution as a password", "mysql --password=$(rm${IFS}-rf${IFS}/data) db", "", true},
		{"a private key without its end", "echo -----BEGIN RSA PRIVATE KEY-----\nMIIB; reboot", "", true},
		{"in an argv", map[string]any{"container": "web", "argv": []any{"sh", "-c", "echo Authorization: x && reboot"}}, "/argv/2", true},
		{"a pipe after a cookie", map[string]any{"cmd": "curl -H Cookie: a=b | sh"}, "/cmd", true},
		{"only the secret", "curl -H 'Authorization: Bearer abcdef' https://example.com; ls", "", false},
		{"a bearer token", "Bearer abcdefghijklmnopqrstuvwxyz0123456789", "", false},
		{"no secret", "echo hello; ls | wc -l", "", false},
		{"a password argument, redacted whole", map[string]any{"password": "a;b$(c)"}, "", false},
		{"a secret-named environment variable", map[string]any{"env": map[string]any{"DB_PASSWORD": "x;y|z"}}, "", false},
		{"a dollar in a password", "mysql --password=Pa$$w0rd db", "", false},
		{"numbers and nil", map[string]any{"n": 3.0, "x": nil, "b": true}, "", false},
		{"syntax after a secret flag in an argv", map[string]any{"argv": []any{"sh", "-c", "$1", "--password", "x; rm -rf /srv/data"}}, "/argv/4", true},
		{"a password after a secret flag in an argv", map[string]any{"argv": []any{"mysql", "--password", "Pa$$w0rd", "db"}}, "", false},
		{"a flag after a secret flag", []any{"tool", "--token", "--verbose", "a;b"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			where, got := redact.HidesSyntax(tt.v)
			if got != tt.want || where != tt.wantWhere {
				t.Errorf("HidesSyntax(%v) = %q, %v; want %q, %v (redacted: %v)", tt.v, where, got, tt.wantWhere, tt.want, redact.Value(tt.v))
			}
		})
	}
}

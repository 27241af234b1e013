// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretFilesMustBePrivate: the shared secret (given, or the state
// directory's own) and the Tailscale auth key are refused, naming the file
// and what to do, when other users may access them; a file only its owner
// and group may read is used. TAILOPS_SHARED_SECRET together with a secret
// file is an error, not a silent choice of the variable.
func TestSecretFilesMustBePrivate(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	write := func(t *testing.T, name string, mode os.FileMode) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(secret+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // whatever the umask
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		load func(t *testing.T) error
		want string // "" for no error
	}{
		{"shared secret file 0600", func(t *testing.T) error {
			_, err := (&config{StateDir: t.TempDir(), SecretFile: write(t, "s", 0o600)}).loadSecret(false)
			return err
		}, ""},
		{"shared secret file 0640", func(t *testing.T) error {
			_, err := (&config{StateDir: t.TempDir(), SecretFile: write(t, "s", 0o640)}).loadSecret(false)
			return err
		}, ""},
		{"shared secret file 0644", func(t *testing.T) error {
			_, err := (&config{StateDir: t.TempDir(), SecretFile: write(t, "s", 0o644)}).loadSecret(false)
			return err
		}, "is accessible by other users (mode -rw-r--r--): chmod o-rwx it"},
		{"state directory's secret 0604", func(t *testing.T) error {
			p := write(t, "secret", 0o604)
			_, err := (&config{StateDir: filepath.Dir(p)}).loadSecret(true)
			return err
		}, "is accessible by other users"},
		{"variable and file", func(t *testing.T) error {
			t.Setenv("TAILOPS_SHARED_SECRET", "another-secret-0123456789")
			_, err := (&config{StateDir: t.TempDir(), SecretFile: write(t, "s", 0o600)}).loadSecret(false)
			return err
		}, "both TAILOPS_SHARED_SECRET and --shared-secret-file"},
		{"auth key 0600", func(t *testing.T) error {
			_, err := (&config{TSAuthKeyFile: write(t, "k", 0o600)}).tsAuthKey()
			return err
		}, ""},
		{"auth key 0666", func(t *testing.T) error {
			_, err := (&config{TSAuthKeyFile: write(t, "k", 0o666)}).tsAuthKey()
			return err
		}, "--ts-authkey-file /"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.load(t)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one saying %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), secret):
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzConfigFile gives the HuJSON config file reader arbitrary files,
// seeded with README's example and broken forms of it: it never panics,
// refuses what is not one HuJSON object of known keys with a message
// naming the file.
func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		`{"listen": "127.0.0.1:8443", "file_roots": ["/srv"], /* comment */ "read_only": true,}`,
		`{"rate_limit": "20/s,burst=40", "rate_limits": {"container:admin": "1/m"}}`,
		`{"stdio_scopes": ["readonly", "nope"]}`, `{"unknown": 1}`, `{} {}`, `[]`, `{"listen": 1}`, `// only a comment`, ``,
		`{"shared_secret": "hunter2hunter2hunter2"`,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "tailops.hujson")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadFileConfig(path)
		if err == nil {
			return
		}
		if msg := err.Error(); !strings.Contains(msg, path) {
			t.Fatalf("error does not name the file: %s", msg)
		}
	})
}

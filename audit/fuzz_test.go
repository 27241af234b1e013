// SPDX-License-Identifier: Apache-2.0

package audit_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/tailops/tailops/audit"
)

// FuzzVerify changes one byte of a valid log, its head file beside it
// (without the head, the last record has nothing after it to vouch for
// it): audit verify never panics, and any change is found — as a problem
// or an error, never as a log that verifies.
func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "audit.log")
	l, err := audit.Open(path, &audit.Options{Logger: quietLogger()})
	if err != nil {
		f.Fatal(err)
	}
	writeN(f, l, 4)
	if err := l.Close(); err != nil {
		f.Fatal(err)
	}
	orig, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	head, err := os.ReadFile(path + ".head")
	if err != nil {
		f.Fatal(err)
	}
	if n, p, err := audit.Verify(path); n != 4 || p != nil || err != nil {
		f.Fatalf("the fixture does not verify: %d %v %v", n, p, err)
	}
	for _, i := range []uint{0, 10, uint(bytes.IndexByte(orig, '\n')), uint(len(orig) / 2), uint(len(orig) - 1)} {
		f.Add(i, byte('x'))
		f.Add(i, byte('\n'))
		f.Add(i, byte(' '))
	}
	f.Fuzz(func(t *testing.T, pos uint, b byte) {
		data := bytes.Clone(orig)
		i := int(pos % uint(len(data)))
		if data[i] == b {
			return
		}
		data[i] = b
		p := filepath.Join(t.TempDir(), "audit.log")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p+".head", head, 0o600); err != nil {
			t.Fatal(err)
		}
		n, problem, err := audit.Verify(p)
		if problem == nil && err == nil {
			t.Fatalf("byte %d changed from %q to %q: the log still verifies (%d records)", i, orig[i], b, n)
		}
	})
}

// SPDX-License-Identifier: Apache-2.0

package auditlog

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecordsErrorsNameNoHostPath: a log that cannot be read gives an
// error naming the file, not the state directory's host path.
func TestRecordsErrorsNameNoHostPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	if err := os.Mkdir(path, 0o700); err != nil { // not a file: reading it fails
		t.Fatal(err)
	}
	ts, err := New(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.records(context.Background(), RecordsArgs{})
	if err == nil || !strings.Contains(err.Error(), "reading the audit log") || !strings.Contains(err.Error(), "audit.log") ||
		strings.Contains(err.Error(), dir) {
		t.Fatalf("error %v: want it to name audit.log, not %s", err, dir)
	}
}

// SPDX-License-Identifier: Apache-2.0

package audit_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tailops/tailops/audit"
)

func TestRotation(t *testing.T) {
	const maxSize = 1024
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, path, &audit.Options{MaxSize: maxSize})
	writeN(t, l, 30)

	files, err := audit.Files(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("30 records at MaxSize %d made only %d files", maxSize, len(files))
	}
	var seq float64
	for i, f := range files {
		want := path
		if i < len(files)-1 {
			want = fmt.Sprintf("%s.%06d", path, i+1)
		}
		if f != want {
			t.Errorf("file %d = %s, want %s", i, f, want)
		}
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > maxSize {
			t.Errorf("%s is %d bytes, over MaxSize %d", f, fi.Size(), maxSize)
		}
		assertMode(t, f, 0o600)
		for _, line := range readLines(t, f) {
			seq++
			if got := decodeMap(t, []byte(line))["seq"]; got != seq {
				t.Errorf("%s: seq %v, want %v", f, got, seq)
			}
		}
	}
	if seq != 30 {
		t.Errorf("files hold %v records, want 30", seq)
	}
	n, p, err := audit.Verify(path)
	if err != nil || p != nil || n != 30 {
		t.Errorf("Verify = %d, %v, %v", n, p, err)
	}

	// After a restart rotation continues with the next number.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, path, &audit.Options{MaxSize: maxSize})
	writeN(t, l, 10)
	more, err := audit.Files(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(more) <= len(files) || !slices.Equal(more[:len(files)-1], files[:len(files)-1]) {
		t.Errorf("after restart files = %v, want %v extended", more, files)
	}
	if n, p, err := audit.Verify(path); err != nil || p != nil || n != 40 {
		t.Errorf("Verify after restart = %d, %v, %v", n, p, err)
	}
}

func TestOversizedRecordGetsItsOwnFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, path, &audit.Options{MaxSize: 512})
	writeN(t, l, 1)
	big := &audit.Record{Tool: "write_file", Arguments: map[string]any{"content": strings.Repeat("x", 2000)}}
	if err := l.Write(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	writeN(t, l, 1)
	files, err := audit.Files(path)
	if err != nil {
		t.Fatal(err)
	}
	var counts []int
	for _, f := range files {
		counts = append(counts, len(readLines(t, f)))
	}
	if !slices.Equal(counts, []int{1, 1, 1}) {
		t.Errorf("records per file = %v, want [1 1 1]", counts)
	}
	if n, p, err := audit.Verify(path); err != nil || p != nil || n != 3 {
		t.Errorf("Verify = %d, %v, %v", n, p, err)
	}
}

func TestFiles(t *testing.T) {
	tests := []struct {
		name   string
		create []string
		want   []string
	}{
		{
			name:   "numeric order, oldest first, active last",
			create: []string{"audit.log", "audit.log.000010", "audit.log.000002", "audit.log.000001", "audit.log.1000000"},
			want:   []string{"audit.log.000001", "audit.log.000002", "audit.log.000010", "audit.log.1000000", "audit.log"},
		},
		{
			name: "other files ignored",
			create: []string{"audit.log", "audit.log.head", "audit.log.head.tmp", "audit.log.lock",
				"audit.log.torn-42-123", "audit.log.12", "audit.log.00001x", "audit.log.old",
				"audit.logx.000001", "other.log.000001", "audit.log.000003"},
			want: []string{"audit.log.000003", "audit.log"},
		},
		{
			name:   "active file missing",
			create: []string{"audit.log.000001", "audit.log.000002"},
			want:   []string{"audit.log.000001", "audit.log.000002"},
		},
		{
			name:   "nothing",
			create: []string{"audit.log.head"},
			want:   []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range tt.create {
				if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := audit.Files(filepath.Join(dir, "audit.log"))
			if err != nil {
				t.Fatal(err)
			}
			want := make([]string, len(tt.want))
			for i, n := range tt.want {
				want[i] = filepath.Join(dir, n)
			}
			if !slices.Equal(got, want) {
				t.Errorf("Files = %v, want %v", got, want)
			}
		})
	}
	if _, err := audit.Files(filepath.Join(t.TempDir(), "missing", "audit.log")); err == nil {
		t.Error("Files in a missing directory succeeded")
	}
}

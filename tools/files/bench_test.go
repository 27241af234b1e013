// SPDX-License-Identifier: Apache-2.0

package files

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tailops/tailops/toolstest"
)

// The benchmarks call the handlers directly (no transport), so they
// measure argument binding, confinement and the file work itself.

// benchTool calls tool with args in the benchmark's loop, reporting
// allocations, and fails on a tool error.
func benchTool(b *testing.B, k *toolstest.Handlers, tool string, args map[string]any) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		if res := toolstest.Call(b, k, tool, args); res.IsError {
			b.Fatal(ftText(res))
		}
	}
}

func BenchmarkReadFile1MiB(b *testing.B) {
	root := b.TempDir()
	line := strings.Repeat("x", 99) + "\n"
	toolstest.WriteFile(b, filepath.Join(root, "big.log"), strings.Repeat(line, (1<<20)/len(line)+1)[:1<<20])
	k := directFiles(b, []string{root})
	args := map[string]any{"path": "big.log", "limit": 1 << 20}
	b.SetBytes(1 << 20)
	benchTool(b, k, "read_file", args)
}

// BenchmarkTailFile100 tails 100 lines of a 1 MiB log of 80-byte
// lines: what a tail costs in time and allocation (the garbage the
// collector then spends the server's CPU on).
func BenchmarkTailFile100(b *testing.B) {
	root := b.TempDir()
	var log strings.Builder
	for i := 0; log.Len() < 1<<20; i++ {
		fmt.Fprintf(&log, "2026-12-07T03:00:00Z host app[123]: log line %08d with some text after it\n", i)
	}
	toolstest.WriteFile(b, filepath.Join(root, "app.log"), log.String())
	k := directFiles(b, []string{root})
	args := map[string]any{"path": "app.log", "lines": 100}
	benchTool(b, k, "tail_file", args)
}

func BenchmarkListDirectory10k(b *testing.B) {
	root := b.TempDir()
	dir := filepath.Join(root, "many")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range 10000 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%05d.log", i)), []byte("x\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	k := directFiles(b, []string{root})
	args := map[string]any{"path": "many", "limit": 10000}
	benchTool(b, k, "list_directory", args)
}

func BenchmarkSearchFiles10k(b *testing.B) {
	root := b.TempDir()
	content := []byte(strings.Repeat("INFO all is well here\n", 9) + "ERROR something broke\n")
	for d := range 100 {
		dir := filepath.Join(root, fmt.Sprintf("dir-%03d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for i := range 100 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%03d.log", i)), content, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	k := directFiles(b, []string{root})
	args := map[string]any{"path": ".", "content_regex": "ERROR", "max_results": 10000}
	b.ReportAllocs()
	for b.Loop() {
		r := toolstest.OK[searchFilesResult](b, k, "search_files", args)
		if len(r.Matches) != 10000 {
			b.Fatalf("%d matches, stopped by %q", len(r.Matches), r.StoppedBy)
		}
	}
}

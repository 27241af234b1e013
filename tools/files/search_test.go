// SPDX-License-Identifier: Apache-2.0

package files

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tailops/tailops/toolstest"
)

func matchPaths(r searchFilesResult) []string {
	var out []string
	for _, m := range r.Matches {
		if m.Line > 0 {
			out = append(out, fmt.Sprintf("%s:%d:%s", m.Path, m.Line, m.Text))
		} else {
			out = append(out, m.Path+"("+m.Type+")")
		}
	}
	return out
}

func TestSearchFiles(t *testing.T) {
	t.Parallel()
	root, _ := ftTree(t)
	toolstest.WriteFile(t, filepath.Join(root, "sub", "data.bin"), "error\x00binary")
	toolstest.WriteFile(t, filepath.Join(root, "crlf.log"), "one\r\ntwo error\r\n")
	k := serveFiles(t, []string{root})
	for _, tc := range []struct {
		name string
		args map[string]any
		want string
	}{
		{"name glob", map[string]any{"path": ".", "name_glob": "*.log"},
			"app.log(file) crlf.log(file) sub/nested.log(file)"},
		{"name glob matches directories", map[string]any{"path": ".", "name_glob": "s*"},
			"sub(dir)"},
		{"content", map[string]any{"path": ".", "content_regex": "error"},
			"app.log:3:error: disk full crlf.log:2:two error sub/nested.log:2:beta error"},
		{"content in named files", map[string]any{"path": ".", "name_glob": "nested*", "content_regex": "a"},
			"sub/nested.log:1:alpha sub/nested.log:2:beta error"},
		{"anchored", map[string]any{"path": "sub", "content_regex": "^beta"},
			"sub/nested.log:2:beta error"},
		{"absolute", map[string]any{"path": root + "/sub", "content_regex": "alpha"},
			root + "/sub/nested.log:1:alpha"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := toolstest.OK[searchFilesResult](t, k, "search_files", tc.args)
			got := strings.Join(matchPaths(r), " ")
			if got != tc.want {
				t.Errorf("matches %q, want %q", got, tc.want)
			}
			if !r.Complete || r.StoppedBy != "" {
				t.Errorf("complete %v, stopped by %q", r.Complete, r.StoppedBy)
			}
		})
	}
	r := toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": ".", "content_regex": "error"})
	if r.SkippedBinary != 1 || r.FilesScanned != 4 || r.DirsWalked != 2 || r.BytesScanned == 0 {
		t.Errorf("counters: %+v", r)
	}
	if text := ftText(toolstest.Call(t, k, "search_files", map[string]any{"path": ".", "content_regex": "error"})); !strings.Contains(text, "app.log:3: error: disk full") {
		t.Errorf("text rendering: %s", text)
	}
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"path": "."}, `invalid argument "name_glob": name_glob or content_regex is required`},
		{map[string]any{"path": ".", "content_regex": "("}, `invalid argument "content_regex"`},
		{map[string]any{"path": ".", "name_glob": "["}, `invalid argument "name_glob"`},
		{map[string]any{"path": ".", "name_glob": "*", "max_results": 0}, `invalid argument "max_results"`},
		{map[string]any{"path": ".", "name_glob": "*", "max_depth": 65}, `invalid argument "max_depth"`},
		{map[string]any{"path": ".", "name_glob": "*", "max_bytes": 0}, `invalid argument "max_bytes"`},
		{map[string]any{"path": ".", "name_glob": "*", "timeout_seconds": 0}, `invalid argument "timeout_seconds"`},
		{map[string]any{"path": ".", "name_glob": "*", "timeout_seconds": 61}, `invalid argument "timeout_seconds"`},
		{map[string]any{"path": "app.log", "name_glob": "*"}, "not a directory"},
		// Found in review: such an expression took 110 s on one 64 KiB line.
		{map[string]any{"path": ".", "content_regex": strings.Repeat("[^b]{1000}b|", 99) + "[^b]{1000}b"}, `invalid argument "content_regex": is 1199 bytes; at most 1024`},
		{map[string]any{"path": ".", "content_regex": "[^b]{1000}b|[^c]{1000}c"}, `invalid argument "content_regex": compiles to`},
	} {
		if msg := toolstest.Err(t, k, "search_files", tc.args); !strings.Contains(msg, tc.want) {
			t.Errorf("%v: %q, want %q", tc.args, msg, tc.want)
		}
	}
}

func TestSearchFilesLongLines(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	toolstest.WriteFile(t, filepath.Join(root, "wide.log"), strings.Repeat("a", 2<<20)+"needle\nshort needle\n"+strings.Repeat("é", 400)+"needle\n")
	k := serveFiles(t, []string{root})
	r := toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": ".", "content_regex": "needle"})
	// The first line is longer than searchMaxLine: only its first MiB is
	// searched, so it does not match; line numbers still count it.
	if got := matchPaths(r); len(got) != 2 || !strings.HasPrefix(got[0], "wide.log:2:short needle") {
		t.Fatalf("matches %q", got)
	}
	if txt := r.Matches[1].Text; len(txt) > searchLineText || !strings.HasPrefix(txt, "éé") || !strings.HasSuffix(txt, "é") {
		t.Errorf("long line cut to %d bytes: %q…", len(txt), txt[:20])
	}
}

// TestSearchFilesBounds checks that each bound stops the search and is
// reported.
func TestSearchFilesBounds(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for i := range 20 {
		toolstest.WriteFile(t, filepath.Join(root, "flat", fmt.Sprintf("f%02d.log", i)), strings.Repeat("hit\n", 250)) // 1000 bytes
	}
	deep := filepath.Join(root, "deep")
	for i := 1; i <= 10; i++ {
		deep = filepath.Join(deep, fmt.Sprintf("d%d", i))
		toolstest.WriteFile(t, filepath.Join(deep, "f.log"), "hit\n")
	}
	k := serveFiles(t, []string{root})

	t.Run("max_results", func(t *testing.T) {
		r := toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": "flat", "content_regex": "hit", "max_results": 5})
		if len(r.Matches) != 5 || r.StoppedBy != "max_results" || r.Complete || r.FilesScanned != 1 {
			t.Errorf("%d matches, stopped by %q, complete %v, %d files", len(r.Matches), r.StoppedBy, r.Complete, r.FilesScanned)
		}
		r = toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": "flat", "name_glob": "*.log", "max_results": 3})
		if len(r.Matches) != 3 || r.StoppedBy != "max_results" {
			t.Errorf("names: %d matches, stopped by %q", len(r.Matches), r.StoppedBy)
		}
	})
	t.Run("max_depth", func(t *testing.T) {
		r := toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": "deep", "name_glob": "f.log", "max_depth": 3})
		if got := strings.Join(matchPaths(r), " "); got != "deep/d1/d2/f.log(file) deep/d1/f.log(file)" {
			t.Errorf("matches %q", got)
		}
		if r.StoppedBy != "max_depth" || r.Complete {
			t.Errorf("stopped by %q, complete %v", r.StoppedBy, r.Complete)
		}
		r = toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": "deep", "name_glob": "f.log"})
		if len(r.Matches) != 7 || r.StoppedBy != "max_depth" {
			t.Errorf("default depth 8: %d matches, stopped by %q", len(r.Matches), r.StoppedBy)
		}
		r = toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": "deep", "name_glob": "f.log", "max_depth": 11})
		if len(r.Matches) != 10 || !r.Complete {
			t.Errorf("depth 11: %d matches, stopped by %q", len(r.Matches), r.StoppedBy)
		}
	})
	t.Run("max_bytes", func(t *testing.T) {
		r := toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": "flat", "content_regex": "nothing", "max_bytes": 2500})
		if r.StoppedBy != "max_bytes" || r.BytesScanned != 2500 || r.FilesScanned != 3 || r.Complete {
			t.Errorf("stopped by %q after %d bytes in %d files", r.StoppedBy, r.BytesScanned, r.FilesScanned)
		}
		r = toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": "flat", "content_regex": "nothing", "max_bytes": 20000})
		if !r.Complete || r.BytesScanned != 20000 {
			t.Errorf("exact budget: stopped by %q after %d bytes", r.StoppedBy, r.BytesScanned)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		r := toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": ".", "content_regex": "hit", "timeout_seconds": 1e-9})
		if r.StoppedBy != "timeout" || r.Complete || len(r.Matches) != 0 {
			t.Errorf("stopped by %q, %d matches", r.StoppedBy, len(r.Matches))
		}
		if text := ftText(toolstest.Call(t, k, "search_files", map[string]any{"path": ".", "name_glob": "*", "timeout_seconds": 1e-9})); !strings.Contains(text, "stopped by timeout") {
			t.Errorf("text rendering: %s", text)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		// A client cannot send a context cancelled before the call runs.
		h := directFiles(t, []string{root})
		res := toolstest.CallCtx(t, ctx, h, "search_files", map[string]any{"path": ".", "name_glob": "*"})
		if want := "search_files was cancelled (directories read: 1, files read: 0, matches: 0): context canceled"; !res.IsError || ftText(res) != want {
			t.Errorf("cancelled: %q (error %v), want the error %q", ftText(res), res.IsError, want)
		}
	})
}

func TestPathMultipleRoots(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	r1, r2, nested := filepath.Join(base, "r1"), filepath.Join(base, "r2"), filepath.Join(base, "r1", "inner")
	toolstest.WriteFile(t, filepath.Join(r1, "a.log"), "in r1\n")
	toolstest.WriteFile(t, filepath.Join(r2, "a.log"), "in r2\n")
	toolstest.WriteFile(t, filepath.Join(nested, "a.log"), "in inner\n")
	k := serveFiles(t, []string{r1, r2, nested})
	for p, want := range map[string]string{
		"a.log":                        "in r1\n",
		filepath.Join(r2, "a.log"):     "in r2\n",
		filepath.Join(nested, "a.log"): "in inner\n",
		"inner/a.log":                  "in inner\n",
	} {
		if r := readOK(t, k, map[string]any{"path": p}); r.Content != want {
			t.Errorf("%s: %q, want %q", p, r.Content, want)
		}
	}
}

// TestCompileSearchBoundsAMatch: a small expression sees a whole line
// (up to searchMaxLine); a large one, less (tools.TestCompileRegex holds
// the bound).
func TestCompileSearchBoundsAMatch(t *testing.T) {
	for expr, whole := range map[string]bool{"needle": true, "error|warn|fail": true, "(a|b|c|d){200}": false} {
		_, line, err := compileSearch(expr)
		if err != nil || (line == searchMaxLine) != whole || line > searchMaxLine {
			t.Errorf("%q: lines matched on %d bytes (%v), want the whole line: %v", expr, line, err, whole)
		}
	}
}

// TestSearchFilesSaysWhenADirectoryWasCut: a directory of more than
// listMaxScan entries is looked at in part, and the result says so — not
// complete, with the count — rather than reporting a complete search
// that never saw the rest.
func TestSearchFilesSaysWhenADirectoryWasCut(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	big := filepath.Join(root, "big")
	if err := os.Mkdir(big, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range listMaxScan + 50 {
		f, err := os.Create(filepath.Join(big, fmt.Sprintf("f%06d", i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	k := serveFiles(t, []string{root})
	r := toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": ".", "name_glob": "nothing-matches"})
	if r.Complete || r.DirsCut != 1 || r.StoppedBy != "" {
		t.Errorf("complete %v, directories cut %d, stopped by %q; want not complete, 1 cut", r.Complete, r.DirsCut, r.StoppedBy)
	}
	if txt := toolstest.Text(toolstest.Call(t, k, "search_files", map[string]any{"path": ".", "name_glob": "nothing-matches"})); !strings.Contains(txt, "1 directories of more than 100000 entries looked at in part") {
		t.Errorf("text: %s", txt)
	}
}

// SPDX-License-Identifier: Apache-2.0

package files

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"golang.org/x/sys/unix"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// okText calls tool, which must succeed, and returns its structured
// result and its first text (where read_file and tail_file send the
// content, and only there).
func okText[T any](t testing.TB, c toolstest.Caller, tool string, args map[string]any) (T, string) {
	t.Helper()
	res := toolstest.Call(t, c, tool, args)
	return toolstest.Decode[T](t, c, tool, res), toolstest.Text(res)
}

// readOK calls read_file, which must succeed: its result, Content set.
func readOK(t testing.TB, c toolstest.Caller, args map[string]any) readFileResult {
	t.Helper()
	r, text := okText[readFileResult](t, c, "read_file", args)
	r.Content = text
	return r
}

// tailOK calls tail_file, which must succeed: its result, Content set.
func tailOK(t testing.TB, c toolstest.Caller, args map[string]any) tailFileResult {
	t.Helper()
	r, text := okText[tailFileResult](t, c, "tail_file", args)
	r.Content = text
	return r
}

// newFiles returns the file tools over roots, not yet opened (a server
// opens them). A configuration New refuses fails the test, unless it is
// only the deny patterns (TestFileDenyBadPattern calls the tools then).
func newFiles(t testing.TB, roots []string, deny ...string) *Toolset {
	t.Helper()
	ts, err := New(Config{Roots: roots, Deny: deny, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var ce *ConfigError
	if err != nil && (!errors.As(err, &ce) || ce.Field != "Deny") {
		t.Fatal(err)
	}
	return ts
}

// serveFiles serves the file tools over roots (see newFiles) through a
// real in-process server and returns a client of it.
func serveFiles(t testing.TB, roots []string, deny ...string) *toolstest.Client {
	t.Helper()
	return toolstest.New(t, []tools.Toolset{newFiles(t, roots, deny...)}, nil).Client(t)
}

// directFiles opens the file tools over roots, as the server does, for
// calls straight to their handlers: a benchmark of the tools alone, or a
// context a client cannot send.
func directFiles(t testing.TB, roots []string) *toolstest.Handlers {
	t.Helper()
	ts := newFiles(t, roots)
	if err := ts.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Close() })
	return toolstest.Direct(ts.Tools())
}

func ftText(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if t, ok := c.(mcp.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	return b.String()
}

func ftSymlink(t testing.TB, target, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

// fileTree makes base/root (the file root) with a few files, and
// base/outside holding a secret, and returns both.
func ftTree(t testing.TB) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	toolstest.WriteFile(t, filepath.Join(root, "app.log"), "line 1\nline 2\nerror: disk full\nline 4\n")
	toolstest.WriteFile(t, filepath.Join(root, "sub", "nested.log"), "alpha\nbeta error\n")
	toolstest.WriteFile(t, filepath.Join(root, ".hidden"), "hidden\n")
	toolstest.WriteFile(t, filepath.Join(outside, "secret.txt"), "OUTSIDE-SECRET\n")
	return root, outside
}

func TestFileToolSpecs(t *testing.T) {
	t.Parallel()
	lt, err := serveFiles(t, []string{t.TempDir()}).ListTools(t.Context(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, tl := range lt.Tools {
		served[tl.Name] = true
	}
	want := map[string]tools.Risk{
		"list_directory": tools.RiskModerate, "get_file_info": tools.RiskModerate,
		"read_file": tools.RiskHigh, "tail_file": tools.RiskHigh, "search_files": tools.RiskHigh,
	}
	roots := []string{t.TempDir(), t.TempDir() + "/"}
	ts, err := New(Config{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	specs := ts.Tools()
	if len(specs) != len(want) {
		t.Fatalf("New declared %d tools, want %d", len(specs), len(want))
	}
	for _, s := range specs {
		t.Run(s.Name(), func(t *testing.T) {
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			if r, ok := want[s.Name()]; !ok || s.Risk != r {
				t.Errorf("risk %v, want %v", s.Risk, want[s.Name()])
			}
			if s.Scope != auth.ScopeFileRead || !slices.Equal(s.Needs.Read, []string{roots[0], filepath.Clean(roots[1])}) ||
				!s.ReadOnly() || s.Destructive() {
				t.Errorf("scope %s, needs %+v, read-only %v, destructive %v", s.Scope, s.Needs, s.ReadOnly(), s.Destructive())
			}
			a := s.Tool.Annotations
			if !*a.IdempotentHint || *a.OpenWorldHint {
				t.Errorf("idempotent %v, open world %v", *a.IdempotentHint, *a.OpenWorldHint)
			}
			var out struct {
				Type       string         `json:"type"`
				Properties map[string]any `json:"properties"`
			}
			if err := json.Unmarshal(s.Tool.RawOutputSchema, &out); err != nil || out.Type != "object" || len(out.Properties) == 0 {
				t.Errorf("no output schema: %s (%v)", s.Tool.RawOutputSchema, err)
			}
			if _, err := tools.NewInputValidator(&s); err != nil {
				t.Error(err)
			}
			if !served[s.Name()] {
				t.Errorf("the server does not list %s", s.Name())
			}
		})
	}
}

// TestFileToolsThroughMCPClient drives every tool through a real mcp-go
// client and server, the server validating arguments and the test the
// structured results against the declared schemas.
func TestFileToolsThroughMCPClient(t *testing.T) {
	t.Parallel()
	root, outside := ftTree(t)
	ftSymlink(t, filepath.Join(outside, "secret.txt"), filepath.Join(root, "escape"))
	c := serveFiles(t, []string{root})

	lt, err := c.ListTools(t.Context(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lt.Tools) != 5 {
		t.Fatalf("listed %d tools, want 5", len(lt.Tools))
	}

	type clientCase struct {
		tool    string
		args    map[string]any
		wantErr string
		check   func(m map[string]any, first string) bool // first: the first text
	}
	cases := []clientCase{
		{tool: "list_directory", args: map[string]any{"path": "."},
			check: func(m map[string]any, _ string) bool { return len(m["entries"].([]any)) == 4 }},
		{tool: "read_file", args: map[string]any{"path": filepath.Join(root, "app.log"), "limit": 6},
			check: func(m map[string]any, first string) bool { return first == "line 1" && m["eof"] == false }},
		{tool: "read_file", args: map[string]any{"path": "app.log", "encoding": "base64"},
			check: func(m map[string]any, _ string) bool { return m["encoding"] == "base64" && m["eof"] == true }},
		{tool: "tail_file", args: map[string]any{"path": "app.log", "lines": 2},
			check: func(m map[string]any, first string) bool {
				return first == "error: disk full\nline 4\n" && m["lines"] == 2.0
			}},
		{tool: "search_files", args: map[string]any{"path": ".", "content_regex": "error"},
			check: func(m map[string]any, _ string) bool { return len(m["matches"].([]any)) == 2 && m["complete"] == true }},
		{tool: "search_files", args: map[string]any{"path": ".", "name_glob": "*.log", "max_results": 1},
			check: func(m map[string]any, _ string) bool { return m["stopped_by"] == "max_results" }},
		{tool: "read_file", args: map[string]any{"path": "app.log", "encoding": "hex"}, wantErr: "encoding"},
		{tool: "tail_file", args: map[string]any{"path": "app.log", "lines": 0}, wantErr: `"lines"`},
	}
	if PathChecks {
		cases = append(cases,
			clientCase{tool: "get_file_info", args: map[string]any{"path": "escape"},
				check: func(m map[string]any, _ string) bool {
					return m["type"] == "symlink" && m["symlink_target"] == "outside roots"
				}},
			clientCase{tool: "read_file", args: map[string]any{"path": "escape"}, wantErr: `path "escape" (outside roots`},
			clientCase{tool: "read_file", args: map[string]any{"path": "../outside/secret.txt"}, wantErr: "outside roots"},
		)
	}
	for _, tc := range cases {
		t.Run(tc.tool, func(t *testing.T) {
			res := toolstest.Call(t, c, tc.tool, tc.args)
			text := ftText(res)
			if strings.Contains(text, "OUTSIDE-SECRET") || strings.Contains(text, outside) {
				t.Fatalf("result leaks the outside: %s", text)
			}
			if tc.wantErr != "" {
				if !res.IsError || !strings.Contains(text, tc.wantErr) {
					t.Fatalf("got %q (error %v), want an error containing %q", text, res.IsError, tc.wantErr)
				}
				return
			}
			if m := toolstest.Decode[map[string]any](t, c, tc.tool, res); !tc.check(m, toolstest.Text(res)) {
				t.Errorf("unexpected result %v\ntext: %s", m, text)
			}
		})
	}
}

func TestPathArguments(t *testing.T) {
	t.Parallel()
	root, _ := ftTree(t)
	k := serveFiles(t, []string{root})
	long := strings.Repeat("a/", pathMax/2+1)
	for _, tc := range []struct {
		name, path, want string
	}{
		{"empty", "", `invalid argument "path": required`},
		{"NUL byte", "app.log\x00../../etc/passwd", `invalid argument "path": contains a NUL byte`},
		{"NUL byte absolute", root + "/app.log\x00", "NUL"},
		{"longer than PATH_MAX", long, "too long"},
		{"component longer than NAME_MAX", strings.Repeat("x", 300), "name too long"},
		{"missing", "nope.log", `path "nope.log" (not found)`},
		{"through a file", "app.log/x", "not a directory"},
		{"a directory", "sub", "is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := toolstest.Err(t, k, "read_file", map[string]any{"path": tc.path})
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want it to contain %q", msg, tc.want)
			}
			if len(msg) > 1024 {
				t.Errorf("error is %d bytes long", len(msg))
			}
		})
	}
	// The same file by relative path, absolute path and a path with
	// lexical detours.
	for _, p := range []string{"app.log", "./sub/../app.log", root + "/app.log", root + "//sub/../app.log"} {
		r := readOK(t, k, map[string]any{"path": p})
		if r.Path != p || !strings.HasPrefix(r.Content, "line 1") {
			t.Errorf("read %q: %+v", p, r)
		}
	}
}

func TestListDirectory(t *testing.T) {
	t.Parallel()
	root, _ := ftTree(t)
	ftSymlink(t, "app.log", filepath.Join(root, "link"))
	if err := os.Chmod(filepath.Join(root, "app.log"), 0o640); err != nil {
		t.Fatal(err)
	}
	k := serveFiles(t, []string{root})

	r := toolstest.OK[listDirectoryResult](t, k, "list_directory", map[string]any{"path": "."})
	got := map[string]dirEntry{}
	var names []string
	for _, e := range r.Entries {
		got[e.Name] = e
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != ".hidden,app.log,link,sub" || r.Total != 4 || r.Truncated {
		t.Fatalf("entries %v, total %d, truncated %v", names, r.Total, r.Truncated)
	}
	// By default: names and types (from getdents), no stat data.
	if e := got["app.log"]; e.Type != "file" || e.Size != nil || e.Mode != "" || e.MTime != "" {
		t.Errorf("app.log without details: %+v", e)
	}
	if got["link"].Type != "symlink" || got["sub"].Type != "dir" {
		t.Errorf("link %+v, sub %+v", got["link"], got["sub"])
	}
	if text := ftText(toolstest.Call(t, k, "list_directory", map[string]any{"path": "."})); !strings.Contains(text, "\nfile    app.log\nsymlink link\ndir     sub\n") {
		t.Errorf("text rendering without details: %q", text)
	}
	// With details: size, mode and time of each entry.
	r = toolstest.OK[listDirectoryResult](t, k, "list_directory", map[string]any{"path": ".", "details": true})
	got = map[string]dirEntry{}
	for _, e := range r.Entries {
		got[e.Name] = e
	}
	if e := got["app.log"]; e.Type != "file" || e.Size == nil || *e.Size != 38 || e.Mode != "0640" || e.MTime == "" {
		t.Errorf("app.log with details: %+v", e)
	}
	if e := got["sub"]; e.Type != "dir" || e.Size == nil || e.Mode == "" {
		t.Errorf("sub with details: %+v", e)
	}
	if text := ftText(toolstest.Call(t, k, "list_directory", map[string]any{"path": ".", "details": true})); !strings.Contains(text, "file    0640           38 ") {
		t.Errorf("text rendering with details: %q", text)
	}

	r = toolstest.OK[listDirectoryResult](t, k, "list_directory", map[string]any{"path": root, "include_hidden": false, "limit": 2})
	if len(r.Entries) != 2 || r.Entries[0].Name != "app.log" || r.Total != 3 || !r.Truncated {
		t.Errorf("without hidden, limit 2: %+v", r)
	}
	text := ftText(toolstest.Call(t, k, "list_directory", map[string]any{"path": "sub"}))
	if !strings.Contains(text, "nested.log") {
		t.Errorf("text rendering lacks the entry: %s", text)
	}
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"path": "app.log"}, "not a directory"},
		{map[string]any{"path": ".", "limit": 0}, `invalid argument "limit"`},
		{map[string]any{"path": ".", "limit": listMaxLimit + 1}, `invalid argument "limit"`},
		{map[string]any{"path": ".", "limit": "ten"}, `"limit"`},
	} {
		if msg := toolstest.Err(t, k, "list_directory", tc.args); !strings.Contains(msg, tc.want) {
			t.Errorf("%v: %q, want %q", tc.args, msg, tc.want)
		}
	}
}

func TestGetFileInfo(t *testing.T) {
	t.Parallel()
	root, _ := ftTree(t)
	toolstest.WriteFile(t, filepath.Join(root, "bin.dat"), "\x00\x01\x02")
	ftSymlink(t, "sub/nested.log", filepath.Join(root, "good-link"))
	ftSymlink(t, "sub/missing", filepath.Join(root, "dangling"))
	k := serveFiles(t, []string{root})

	f := toolstest.OK[fileInfoResult](t, k, "get_file_info", map[string]any{"path": "app.log"})
	if f.Type != "file" || f.Size != 38 || f.Links != 1 || f.IsText == nil || !*f.IsText ||
		f.UID != uint32(os.Getuid()) || f.SymlinkTarget != "" {
		t.Errorf("app.log: %+v", f)
	}
	if b := toolstest.OK[fileInfoResult](t, k, "get_file_info", map[string]any{"path": "bin.dat"}); b.IsText == nil || *b.IsText {
		t.Errorf("bin.dat: %+v", b)
	}
	if d := toolstest.OK[fileInfoResult](t, k, "get_file_info", map[string]any{"path": root}); d.Type != "dir" || d.IsText != nil {
		t.Errorf("root: %+v", d)
	}
	if l := toolstest.OK[fileInfoResult](t, k, "get_file_info", map[string]any{"path": "good-link"}); l.Type != "symlink" || l.SymlinkTarget != "sub/nested.log" {
		t.Errorf("good-link: %+v", l)
	}
	if l := toolstest.OK[fileInfoResult](t, k, "get_file_info", map[string]any{"path": "dangling"}); l.Type != "symlink" || l.SymlinkTarget != "sub/missing" {
		t.Errorf("dangling: %+v", l)
	}
	if msg := toolstest.Err(t, k, "get_file_info", map[string]any{"path": "nope"}); !strings.Contains(msg, `"nope" (not found)`) {
		t.Errorf("missing: %s", msg)
	}
}

func TestReadFile(t *testing.T) {
	t.Parallel()
	root, _ := ftTree(t)
	toolstest.WriteFile(t, filepath.Join(root, "utf8.txt"), "héllo wörld") // é and ö are two bytes
	toolstest.WriteFile(t, filepath.Join(root, "nul.bin"), "text\x00more")
	toolstest.WriteFile(t, filepath.Join(root, "latin1.txt"), "caf\xe9 au lait")
	k := serveFiles(t, []string{root})

	r := readOK(t, k, map[string]any{"path": "app.log"})
	if r.Content != "line 1\nline 2\nerror: disk full\nline 4\n" || r.BytesRead != 38 || r.Size != 38 || !r.EOF || r.Encoding != "text" {
		t.Errorf("whole file: %+v", r)
	}
	r = readOK(t, k, map[string]any{"path": "app.log", "offset": 7, "limit": 7})
	if r.Content != "line 2\n" || r.Offset != 7 || r.EOF {
		t.Errorf("middle: %+v", r)
	}
	// The content is sent once, as the first text, exactly; a read that
	// stopped early says where to continue in a second text; the
	// structured result has no content.
	for _, tc := range []struct {
		args  map[string]any
		texts []string
	}{
		{map[string]any{"path": "app.log"}, []string{"line 1\nline 2\nerror: disk full\nline 4\n"}},
		{map[string]any{"path": "app.log", "offset": 7, "limit": 7}, []string{"line 2\n", "[app.log: read 7 bytes from offset 7 of 38; continue with offset 14]\n"}},
		{map[string]any{"path": "utf8.txt", "limit": 5}, []string{"héll", "[utf8.txt: read 5 bytes from offset 0 of 13; continue with offset 5]\n"}},
		{map[string]any{"path": "nul.bin", "encoding": "base64"}, []string{"dGV4dABtb3Jl"}},
	} {
		res := toolstest.Call(t, k, "read_file", tc.args)
		var texts []string
		for _, c := range res.Content {
			texts = append(texts, c.(mcp.TextContent).Text)
		}
		if !slices.Equal(texts, tc.texts) {
			t.Errorf("read_file %v: texts %q, want %q", tc.args, texts, tc.texts)
		}
		if b, _ := json.Marshal(res.StructuredContent); strings.Contains(string(b), `"content"`) {
			t.Errorf("read_file %v: the structured result carries the content again: %s", tc.args, b)
		}
	}
	r = readOK(t, k, map[string]any{"path": "app.log", "offset": 1000})
	if r.Content != "" || !r.EOF {
		t.Errorf("past the end: %+v", r)
	}

	// Limits that split a two-byte character stop before it; offsets that
	// split one start after it; the pieces join up.
	r = readOK(t, k, map[string]any{"path": "utf8.txt", "limit": 2})
	if r.Content != "h" || r.BytesRead != 1 || r.EOF {
		t.Errorf("limit splitting é: %+v", r)
	}
	r = readOK(t, k, map[string]any{"path": "utf8.txt", "offset": 2, "limit": 4})
	if r.Content != "llo" || r.Offset != 3 {
		t.Errorf("offset splitting é: %+v", r)
	}
	var joined string
	for off := int64(0); ; {
		r := readOK(t, k, map[string]any{"path": "utf8.txt", "offset": off, "limit": 3})
		joined += r.Content
		off = r.Offset + int64(r.BytesRead)
		if r.EOF {
			break
		}
	}
	if joined != "héllo wörld" {
		t.Errorf("paged read joined to %q", joined)
	}

	// Binary files are refused as text and readable as base64.
	for _, name := range []string{"nul.bin", "latin1.txt"} {
		msg := toolstest.Err(t, k, "read_file", map[string]any{"path": name})
		if !strings.Contains(msg, "base64") {
			t.Errorf("%s: %q does not point to base64", name, msg)
		}
		r := readOK(t, k, map[string]any{"path": name, "encoding": "base64"})
		raw, _ := os.ReadFile(filepath.Join(root, name))
		if dec, err := base64.StdEncoding.DecodeString(r.Content); err != nil || string(dec) != string(raw) || r.Encoding != "base64" {
			t.Errorf("%s as base64: %+v", name, r)
		}
	}

	// The file's head (its first 8 KiB) decides, whatever part of it a
	// read asks for: a NUL byte past the part read still refuses it, one
	// past the head does not.
	lateNUL := strings.Repeat("text ", 1000) + "\x00" + strings.Repeat("more ", 1000) // NUL at 5000
	toolstest.WriteFile(t, filepath.Join(root, "late-nul.bin"), lateNUL)
	toolstest.WriteFile(t, filepath.Join(root, "tail-nul.txt"), strings.Repeat("text ", 2000)+"\x00") // NUL at 10000
	for _, args := range []map[string]any{
		{"path": "late-nul.bin"},
		{"path": "late-nul.bin", "limit": 100},
		{"path": "late-nul.bin", "offset": 6000},
		{"path": "late-nul.bin", "offset": 6000, "limit": 10},
	} {
		if msg := toolstest.Err(t, k, "read_file", args); !strings.Contains(msg, "binary file") {
			t.Errorf("read_file %v: %q, want the binary file refused", args, msg)
		}
	}
	if r := readOK(t, k, map[string]any{"path": "tail-nul.txt", "limit": 9000}); r.BytesRead != 9000 {
		t.Errorf("a NUL past the head: read %d bytes", r.BytesRead)
	}

	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"path": "app.log", "limit": 0}, `invalid argument "limit"`},
		{map[string]any{"path": "app.log", "limit": readMaxLimit + 1}, `invalid argument "limit"`},
		{map[string]any{"path": "app.log", "offset": -1}, `invalid argument "offset"`},
		{map[string]any{"path": "app.log", "encoding": "utf16"}, `invalid argument "encoding"`},
		{map[string]any{"path": "sub"}, "is a directory"},
	} {
		if msg := toolstest.Err(t, k, "read_file", tc.args); !strings.Contains(msg, tc.want) {
			t.Errorf("%v: %q, want %q", tc.args, msg, tc.want)
		}
	}
}

func TestReadFileRefusesSpecialFiles(t *testing.T) {
	t.Parallel()
	root, _ := ftTree(t)
	if err := ftMkfifo(filepath.Join(root, "fifo")); err != nil {
		t.Fatal(err)
	}
	k := serveFiles(t, []string{root})
	for _, tool := range []string{"read_file", "tail_file"} {
		if msg := toolstest.Err(t, k, tool, map[string]any{"path": "fifo"}); !strings.Contains(msg, "not a regular file") {
			t.Errorf("%s on a FIFO: %q", tool, msg)
		}
	}
}

func TestTailFile(t *testing.T) {
	t.Parallel()
	root, _ := ftTree(t)
	toolstest.WriteFile(t, filepath.Join(root, "noeol.log"), "a\nb\nc")
	toolstest.WriteFile(t, filepath.Join(root, "empty.log"), "")
	k := serveFiles(t, []string{root})
	for _, tc := range []struct {
		path  string
		lines int
		want  string
	}{
		{"app.log", 2, "error: disk full\nline 4\n"},
		{"app.log", 100, "line 1\nline 2\nerror: disk full\nline 4\n"},
		{"app.log", 1, "line 4\n"},
		{"noeol.log", 2, "b\nc"},
		{"empty.log", 5, ""},
	} {
		r := tailOK(t, k, map[string]any{"path": tc.path, "lines": tc.lines})
		if r.Content != tc.want || r.Truncated {
			t.Errorf("tail -n %d %s: %q (truncated %v), want %q", tc.lines, tc.path, r.Content, r.Truncated, tc.want)
		}
	}
	if r := tailOK(t, k, map[string]any{"path": "app.log"}); r.Lines != 4 || r.Size != 38 {
		t.Errorf("default lines: %+v", r)
	}
	if msg := toolstest.Err(t, k, "tail_file", map[string]any{"path": "app.log", "lines": tailMaxLines + 1}); !strings.Contains(msg, `"lines"`) {
		t.Errorf("too many lines: %q", msg)
	}
}

// TestTailFileLargeSparse checks that tail_file reads only the end of a
// 200 MB file, by the bytes it counts rather than by timing.
func TestTailFileLargeSparse(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	name := filepath.Join(root, "big.log")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	var tail strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&tail, "log line %04d\n", i)
	}
	const size = 200 << 20
	if err := f.Truncate(size - int64(tail.Len())); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(tail.String()), size-int64(tail.Len())); err != nil {
		t.Fatal(err)
	}
	f.Close()

	ts := newFiles(t, []string{root})
	k := toolstest.New(t, []tools.Toolset{ts}, nil).Client(t)
	before := ts.bytesRead.Load()
	r := tailOK(t, k, map[string]any{"path": "big.log", "lines": 100})
	read := ts.bytesRead.Load() - before
	if r.Lines != 100 || !strings.HasPrefix(r.Content, "log line 0900\n") || !strings.HasSuffix(r.Content, "log line 0999\n") {
		t.Errorf("content: %d lines, starts %q", r.Lines, r.Content[:min(20, len(r.Content))])
	}
	if r.Size != size || read > 2*tailChunk || r.BytesRead != read {
		t.Errorf("size %d, read %d bytes (reported %d); want at most %d", r.Size, read, r.BytesRead, 2*tailChunk)
	}

	// Asking for more lines than the end holds runs into the hole, which
	// has no newline: tail_file stops at its byte cap and drops the cut
	// line (the NULs and the first log line).
	before = ts.bytesRead.Load()
	r = tailOK(t, k, map[string]any{"path": "big.log", "lines": 5000})
	if read := ts.bytesRead.Load() - before; !r.Truncated || r.Lines != 999 || read != tailMaxBytes {
		t.Errorf("deep tail: truncated %v, %d lines, after reading %d bytes", r.Truncated, r.Lines, read)
	}
}

// TestTailFileByteCap checks the 4 MiB cap on a file of one huge line
// followed by a few short ones.
func TestTailFileByteCap(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	toolstest.WriteFile(t, filepath.Join(root, "wide.log"), strings.Repeat("x", 6<<20)+"\nshort 1\nshort 2\n")
	toolstest.WriteFile(t, filepath.Join(root, "one.log"), strings.Repeat("y", 5<<20))
	k := serveFiles(t, []string{root})
	r := tailOK(t, k, map[string]any{"path": "wide.log", "lines": 10})
	if !r.Truncated || r.Content != "short 1\nshort 2\n" || r.BytesRead != tailMaxBytes {
		t.Errorf("wide: truncated %v, %d bytes read, content %q", r.Truncated, r.BytesRead, r.Content[:min(40, len(r.Content))])
	}
	r = tailOK(t, k, map[string]any{"path": "one.log", "lines": 1})
	if !r.Truncated || len(r.Content) != tailMaxBytes {
		t.Errorf("one line: truncated %v, %d bytes", r.Truncated, len(r.Content))
	}
	// The lines are the first text, exactly; the cap is said in a second.
	res := toolstest.Call(t, k, "tail_file", map[string]any{"path": "wide.log", "lines": 10})
	if len(res.Content) != 2 || res.Content[0].(mcp.TextContent).Text != "short 1\nshort 2\n" ||
		res.Content[1].(mcp.TextContent).Text != fmt.Sprintf("[wide.log: only 2 lines fit in the %d bytes tail_file reads]\n", tailMaxBytes) {
		t.Errorf("texts: %+v", res.Content)
	}
	if b, _ := json.Marshal(res.StructuredContent); strings.Contains(string(b), `"content"`) {
		t.Errorf("the structured result carries the lines again: %s", b)
	}
}

func ftMkfifo(name string) error { return unix.Mkfifo(name, 0o644) }

// TestReadFailed: a read that fails after the open says what failed and
// the kernel's reason (a log rotated away on NFS, a disk error), and never
// a host path carried by a wrapped error.
func TestReadFailed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{unix.EIO, `path "app.log" (cannot read: input/output error)`},
		{fmt.Errorf("reading: %w", unix.ESTALE), `path "app.log" (cannot read: stale file handle)`},
		{&os.PathError{Op: "read", Path: "/srv/secret/host/path", Err: unix.EIO}, `path "app.log" (cannot read: input/output error)`},
		{fmt.Errorf("reading /srv/secret/host/path: %w", io.ErrUnexpectedEOF), `path "app.log" (cannot read)`},
	} {
		if got := readFailed("app.log", "cannot read", tc.err).Error(); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.err, got, tc.want)
		}
	}
}

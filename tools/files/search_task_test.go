// SPDX-License-Identifier: Apache-2.0

package files

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/mcptest"
	"github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// slowRegex takes about two seconds per MiB on these machines (the NFA of
// fifty bounded repetitions on every line), and matches no line of
// bigTree: a content search of it runs until a bound or a cancel stops
// it.
const slowRegex = `(\w+\s*){1,50}END`

// bigTree writes dirs directories of files files, each of 10 KiB of text
// lines, under root; it returns how many files it wrote.
func bigTree(t testing.TB, root string, dirs, files int) int {
	t.Helper()
	line := strings.Repeat("lorem ipsum dolor sit amet ", 3) + "42\n"
	body := []byte(strings.Repeat(line, 10<<10/len(line)))
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range files {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.txt", f)), body, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dirs * files
}

// TestSearchFilesAsTask: search_files declares task support, and through
// a real server a search run as a task either completes (tasks/result
// hands back the whole result) or, cancelled with tasks/cancel while it
// reads a large tree, stops within seconds — well before the bound that
// would have ended it — with an audit record that says it was cancelled
// and how far it got.
func TestSearchFilesAsTask(t *testing.T) {
	root := t.TempDir()
	nfiles := bigTree(t, root, 80, 10) // 8 MiB: over ten seconds of slowRegex
	ts := newFiles(t, []string{root})
	for _, sp := range ts.Tools() {
		if sp.Name() == "search_files" && !sp.Task() {
			t.Fatal("search_files does not declare task support")
		}
	}
	srv := toolstest.New(t, []tools.Toolset{ts}, nil)
	for _, tc := range []struct {
		name   string
		args   map[string]any
		cancel bool
		// want is what the call's audit record says: its result, and
		// what its error contains.
		wantResult, wantError string
	}{
		{"completes", map[string]any{"path": ".", "name_glob": "*.txt", "max_results": 10000}, false, "success", ""},
		{"cancelled", map[string]any{"path": ".", "content_regex": slowRegex, "max_bytes": 1 << 30, "timeout_seconds": 60}, true,
			"error", "search_files was cancelled (directories read: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := srv.Legacy(t, auth.ScopeFileRead)
			res, msg := c.RPC(t, "tools/call", map[string]any{"name": "search_files", "arguments": tc.args, "task": map[string]any{"ttl": 120_000}})
			var started struct {
				Task struct {
					TaskID string `json:"taskId"`
				} `json:"task"`
			}
			if msg != "" || json.Unmarshal(res, &started) != nil || started.Task.TaskID == "" {
				t.Fatalf("search_files as a task: %s %s, want a task", res, msg)
			}
			id := started.Task.TaskID
			status := func() string {
				res, msg := c.RPC(t, "tasks/get", map[string]any{"taskId": id})
				var r struct {
					Status string `json:"status"`
				}
				json.Unmarshal(res, &r)
				return r.Status + msg
			}
			var cancelled time.Time
			if tc.cancel {
				time.Sleep(500 * time.Millisecond)
				if got := status(); got != "working" {
					t.Fatalf("the search before tasks/cancel: %q, want working", got)
				}
				cancelled = time.Now()
				if _, msg := c.RPC(t, "tasks/cancel", map[string]any{"taskId": id}); msg != "" {
					t.Fatalf("tasks/cancel: %s", msg)
				}
			} else {
				toolstest.WaitFor(t, "the task to complete", func() bool { return status() == "completed" })
				res, msg := c.RPC(t, "tasks/result", map[string]any{"taskId": id})
				var out struct {
					StructuredContent searchFilesResult `json:"structuredContent"`
					IsError           bool              `json:"isError"`
				}
				if msg != "" || json.Unmarshal(res, &out) != nil || out.IsError {
					t.Fatalf("tasks/result: %.300s %s", res, msg)
				}
				if r := out.StructuredContent; !r.Complete || len(r.Matches) != nfiles || r.DirsWalked != 81 {
					t.Errorf("tasks/result: complete %v, %d matches in %d directories; want the whole tree (%d files, 81 directories)",
						r.Complete, len(r.Matches), r.DirsWalked, nfiles)
				}
			}
			var rec map[string]any
			toolstest.WaitFor(t, "the call's audit record", func() bool {
				rec = nil
				for _, r := range srv.Records(t) {
					if r["event"] == "tool_call" && r["tool"] == "search_files" && r["result"] != nil {
						if args, _ := r["arguments"].(map[string]any); fmt.Sprint(args["content_regex"]) == fmt.Sprint(tc.args["content_regex"]) {
							rec = r
						}
					}
				}
				return rec != nil
			})
			if tc.cancel {
				if d := time.Since(cancelled); d > 3*time.Second {
					t.Errorf("the search ended %v after tasks/cancel, want promptly", d)
				}
				if got := status(); got != "cancelled" {
					t.Errorf("tasks/get after tasks/cancel: %q, want cancelled", got)
				}
			}
			if errText, _ := rec["error"].(string); rec["result"] != tc.wantResult || !strings.Contains(errText, tc.wantError) ||
				(tc.cancel && !strings.HasSuffix(errText, "context canceled")) {
				t.Errorf("audit record: result %v, error %q; want %s with %q", rec["result"], errText, tc.wantResult, tc.wantError)
			}
		})
	}
}

// TestSearchFilesReportsProgress: a search called with a progress token
// reports directories and files read, a count that only grows, and its
// last report counts everything the result says was read.
func TestSearchFilesReportsProgress(t *testing.T) {
	root := t.TempDir()
	bigTree(t, root, 20, 10)
	// mcp-go's bare server: these notifications must be the search's
	// alone (TailOps' approval gate has a stage of its own).
	h := directFiles(t, []string{root})
	spec := h.Spec(t, "search_files")
	srv, err := mcptest.NewServer(t, server.ServerTool{Tool: spec.Tool, Handler: spec.Handler})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c := srv.Client()
	notes := toolstest.RecordProgress(c)
	req := mcp.CallToolRequest{}
	req.Params.Name = "search_files"
	// Three seconds: under the race detector on a loaded machine one
	// file of the slow regex can take 300 ms, and reports need files.
	req.Params.Arguments = map[string]any{"path": ".", "content_regex": slowRegex, "timeout_seconds": 3}
	req.Params.Meta = &mcp.Meta{ProgressToken: "search-1"}
	res, err := c.CallTool(context.Background(), req)
	if err != nil || res.IsError {
		t.Fatalf("search_files: %v %v", err, res)
	}
	r := toolstest.Decode[searchFilesResult](t, h, "search_files", res)
	read := float64(r.DirsWalked + r.FilesScanned)
	toolstest.WaitFor(t, "the last report", func() bool {
		n := notes.Get()
		return len(n) > 0 && n[len(n)-1]["progress"] == read
	})
	got := notes.Get()
	if len(got) < 3 {
		t.Fatalf("%d progress reports in a three-second search, want several: %v", len(got), got)
	}
	last := 0.0
	for i, n := range got {
		p, _ := n["progress"].(float64)
		if p <= last || n["progressToken"] != "search-1" || !strings.HasPrefix(fmt.Sprint(n["message"]), "searched ") {
			t.Fatalf("report %d: %v after %v: want a growing count with the call's token and a message", i, n, last)
		}
		last = p
	}
}

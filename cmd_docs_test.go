// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

func TestFirstSentence(t *testing.T) {
	for _, tc := range []struct{ desc, want string }{
		{"Removes a container. A running one only with force.", "Removes a container."},
		{"Stops it (default: 10 s. or so) and starts it. More.", "Stops it (default: 10 s. or so) and starts it."},
		{"Pulls nginx:1.27 or ghcr.io/a/b; v1.2 included.", "Pulls nginx:1.27 or ghcr.io/a/b; v1.2 included."},
		{"No full stop", "No full stop"},
		{"Spread\n  over lines. Second.", "Spread over lines."},
	} {
		if got := firstSentence(tc.desc); got != tc.want {
			t.Errorf("firstSentence(%q) = %q, want %q", tc.desc, got, tc.want)
		}
	}
}

// TestToolTableCells: each column of a row comes from the declaration:
// the approval from the risk and ApprovalFor, the effect from the hints
// (and ", task" for a tool that runs as an MCP task), "any token" for the authenticated scope; a | in a description is
// escaped.
func TestToolTableCells(t *testing.T) {
	hints := func(readOnly, destructive bool) mcp.ToolAnnotation {
		return mcp.ToolAnnotation{ReadOnlyHint: &readOnly, DestructiveHint: &destructive}
	}
	spec := func(name, scope string, risk tools.Risk, a mcp.ToolAnnotation, desc string) tools.Spec {
		return tools.Spec{Tool: mcp.Tool{Name: name, Description: desc, Annotations: a}, Scope: auth.Scope(scope), Risk: risk}
	}
	some := spec("fetch", "network:diag", tools.RiskHigh, hints(false, false), "Fetches a|b. More.")
	some.ApprovalFor = func(any) bool { return true }
	lowered := spec("bounce", "system:admin", tools.RiskCritical, hints(false, true), "Bounces.")
	lowered.RiskFor = func(any) tools.Risk { return tools.RiskHigh }
	task := spec("search", "file:read", tools.RiskHigh, hints(true, false), "Searches.")
	task.Tool.Execution = &mcp.ToolExecution{TaskSupport: mcp.TaskSupportOptional}
	for _, tc := range []struct {
		spec tools.Spec
		want string
	}{
		{spec("ping", "authenticated", tools.RiskLow, hints(true, false), "Pings."),
			"| `ping` | test | any token | low | no | read-only | Pings. |"},
		{spec("start", "container:write", tools.RiskHigh, hints(false, false), "Starts."),
			"| `start` | test | container:write | high | no | writes | Starts. |"},
		{spec("remove", "container:admin", tools.RiskCritical, hints(false, true), "Removes."),
			"| `remove` | test | container:admin | critical | always | destructive | Removes. |"},
		{spec("unset", "container:admin", tools.RiskCritical, mcp.ToolAnnotation{}, "Unset hints."),
			"| `unset` | test | container:admin | critical | always | destructive | Unset hints. |"},
		{some, "| `fetch` | test | network:diag | high | some calls | writes | Fetches a\\|b. |"},
		{lowered, "| `bounce` | test | system:admin | critical | by default | destructive | Bounces. |"},
		{task, "| `search` | test | file:read | high | no | read-only, task | Searches. |"},
	} {
		table := toolTable([]tools.Toolset{testToolset{tc.spec}})
		rows := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
		if len(rows) != 3 || rows[2] != tc.want {
			t.Errorf("%s: table\n%s\nwant its row %s", tc.spec.Name(), table, tc.want)
		}
	}
}

func TestWithToolTable(t *testing.T) {
	sets := []tools.Toolset{testToolset{{Tool: mcp.Tool{Name: "x", Description: "X."}, Scope: "system:read", Risk: tools.RiskLow}}}
	table := toolTable(sets)
	for _, tc := range []struct {
		name, doc, want, err string
	}{
		{"replaces between the markers", "a\n" + toolTableStart + "old\n" + toolTableEnd + "b\n",
			"a\n" + toolTableStart + table + toolTableEnd + "b\n", ""},
		{"already generated", "a\n" + toolTableStart + table + toolTableEnd,
			"a\n" + toolTableStart + table + toolTableEnd, ""},
		{"no markers", "a\n", "", "no line"},
		{"no end marker", toolTableStart + "old\n", "", "no line"},
		{"two tables", toolTableStart + toolTableEnd + toolTableStart + toolTableEnd, "", "more than one"},
	} {
		got, err := withToolTable(tc.doc, sets)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestDocsCommand: `tailops docs --readme FILE` rewrites FILE's table
// from the registry, keeps the rest, and leaves a current file alone.
func TestDocsCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "README.md")
	doc := "# Title\n\n" + toolTableStart + "| stale |\n" + toolTableEnd + "\nAfter.\n"
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"docs", "--readme", file}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("docs: %v\n%s", err, stderr.String())
	}
	b, _ := os.ReadFile(file)
	want, _ := withToolTable(doc, docToolsets())
	if string(b) != want || !strings.Contains(string(b), "| `health_check` | host | any token |") {
		t.Errorf("docs wrote\n%s\nwant\n%s", b, want)
	}
	if !strings.Contains(stdout.String(), "rewrote") {
		t.Errorf("docs said %q, want that it rewrote the table", stdout.String())
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"docs", "--readme", file}, nil, &stdout, &stderr); err != nil || stdout.Len() != 0 {
		t.Errorf("docs on a current file: %v, said %q; want nothing", err, stdout.String())
	}
	if err := run(context.Background(), []string{"docs", "extra"}, nil, &stdout, &stderr); err == nil {
		t.Error("docs with an argument: no error")
	}
}

// testToolset is a toolset named "test" declaring the given specs.
type testToolset []tools.Spec

func (testToolset) Name() string           { return "test" }
func (ts testToolset) Tools() []tools.Spec { return ts }

// SPDX-License-Identifier: Apache-2.0

package toolstest

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/tools"
)

// Handlers calls tools' handlers directly, as the server does once a call
// is authorized, its arguments valid and any approval given: for tests
// that reach past the server (a context a client cannot send, a critical
// tool without an approval gate, tools built without their toolset's
// New). Prefer a Server's Client everywhere else.
type Handlers struct {
	specs map[string]tools.Spec
	mu    sync.Mutex
	vs    map[string]*tools.InputValidator
}

// Direct returns Handlers calling specs.
func Direct(specs []tools.Spec) *Handlers {
	h := &Handlers{specs: map[string]tools.Spec{}, vs: map[string]*tools.InputValidator{}}
	for _, s := range specs {
		h.specs[s.Name()] = s
	}
	return h
}

// Spec returns the spec of tool.
func (h *Handlers) Spec(t testing.TB, tool string) tools.Spec {
	t.Helper()
	return h.spec(t, tool)
}

func (h *Handlers) spec(t testing.TB, tool string) tools.Spec {
	t.Helper()
	s, ok := h.specs[tool]
	if !ok {
		t.Fatalf("no tool %s", tool)
	}
	return s
}

// callTool validates args against the tool's input schema, answering an
// invalid argument with the tool error the server gives, and runs the
// handler; a Go error or no result fails the test.
func (h *Handlers) callTool(t testing.TB, ctx context.Context, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	s := h.spec(t, tool)
	h.mu.Lock()
	v, ok := h.vs[tool]
	if !ok {
		var err error
		if v, err = tools.NewInputValidator(&s); err != nil {
			h.mu.Unlock()
			t.Fatal(err)
		}
		h.vs[tool] = v
	}
	h.mu.Unlock()
	if err := v.Check(args); err != nil {
		return mcp.NewToolResultError(err.Error())
	}
	res, err := s.Handler(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: args}})
	if err != nil {
		t.Fatalf("%s returned a Go error: %v", tool, err)
	}
	if res == nil {
		t.Fatalf("%s returned no result", tool)
	}
	return res
}

// LogBuffer is a buffer a toolset may log to from several goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

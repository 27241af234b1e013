// SPDX-License-Identifier: Apache-2.0

package toolstest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// ProgressNotes are the notifications/progress an MCP client received,
// each as its parameters.
type ProgressNotes struct {
	mu    sync.Mutex
	notes []map[string]any
}

// RecordProgress records the progress notifications c receives from now
// on.
func RecordProgress(c *client.Client) *ProgressNotes {
	p := &ProgressNotes{}
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == "notifications/progress" {
			p.mu.Lock()
			p.notes = append(p.notes, n.Params.AdditionalFields)
			p.mu.Unlock()
		}
	})
	return p
}

// Get returns the notifications so far.
func (p *ProgressNotes) Get() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.notes)
}

// Reset forgets them.
func (p *ProgressNotes) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notes = nil
}

// WaitFor polls cond until it holds, failing the test when 20 s pass
// first.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

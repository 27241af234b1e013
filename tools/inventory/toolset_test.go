// SPDX-License-Identifier: Apache-2.0

package inventory

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// TestInventoryParts: every part is read in parallel and bounded in time;
// a part that fails, hangs past the timeout, panics or is absent is marked
// as such with why, and the others are still returned, in the parts'
// order; parts narrows the call; an unknown part is an argument error
// naming the parts; the tool needs the union of its parts' needs.
func TestInventoryParts(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	parts := []tools.InventoryPart{
		{Name: "system", Needs: sandbox.Needs{Read: []string{"/proc"}}, Get: func(context.Context) (any, error) { return map[string]string{"hostname": "box"}, nil }},
		{Name: "services", Needs: sandbox.Needs{Sockets: []string{"/run/dbus/system_bus_socket"}}, Get: func(context.Context) (any, error) {
			return nil, errors.New("connecting to the system bus: no such file")
		}},
		{Name: "containers", Needs: sandbox.Needs{Read: []string{"/proc"}, Sockets: []string{"/run/docker.sock"}}, Get: func(ctx context.Context) (any, error) {
			select { // hangs, whatever its context says
			case <-release:
			case <-time.After(time.Minute):
			}
			return nil, nil
		}},
		{Name: "packages", Get: func(context.Context) (any, error) { panic("bad status file") }},
	}
	ts, err := New(Config{Parts: parts, Absent: map[string]string{"stacks": "the stacks toolset is left out (--toolsets)"},
		Self: func() Self { return Self{Version: "1.2.3", Tools: 7} }, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sp := ts.Tools()[0]
	if want := []string{"/run/dbus/system_bus_socket", "/run/docker.sock"}; strings.Join(sp.Needs.Sockets, " ") != strings.Join(want, " ") ||
		strings.Join(sp.Needs.Read, " ") != "/proc" {
		t.Errorf("needs %+v, want the union of the parts'", sp.Needs)
	}
	c := toolstest.New(t, []tools.Toolset{ts}, nil).Client(t)

	start := time.Now()
	inv := toolstest.OK[Inventory](t, c, "get_inventory", nil)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s: a hung part must not hold the call past its timeout", d)
	}
	want := []struct{ name, status, err string }{
		{"system", StatusOK, ""},
		{"services", StatusError, "system bus"},
		{"containers", StatusTimeout, "not read within 300ms"},
		{"packages", StatusError, "internal error reading the packages part"},
		{"stacks", StatusUnavailable, "left out"},
	}
	if len(inv.Parts) != len(want) {
		t.Fatalf("parts %+v, want %d", inv.Parts, len(want))
	}
	for i, w := range want {
		p := inv.Parts[i]
		if p.Name != w.name || p.Status != w.status || !strings.Contains(p.Error, w.err) {
			t.Errorf("part %d: %+v, want %s %s %q", i, p, w.name, w.status, w.err)
		}
	}
	if inv.TailOps == nil || inv.TailOps.Version != "1.2.3" || inv.TailOps.Tools != 7 {
		t.Errorf("tailops: %+v", inv.TailOps)
	}

	only := toolstest.OK[Inventory](t, c, "get_inventory", map[string]any{"parts": []string{"system", "stacks"}})
	if len(only.Parts) != 2 || only.Parts[0].Name != "system" || only.Parts[1].Name != "stacks" {
		t.Errorf("parts [system stacks]: %+v", only.Parts)
	}
	if msg := toolstest.Err(t, c, "get_inventory", map[string]any{"parts": []string{"kernel"}}); !strings.Contains(msg, `no part "kernel"`) ||
		!strings.Contains(msg, "containers, packages, services, stacks, system") {
		t.Errorf("unknown part: %q", msg)
	}
}

// things is a toolset of one listing tool, list_things, which needs
// container:read.
type things struct{}

func (things) Name() string { return "things" }

func (things) Tools() []tools.Spec {
	return []tools.Spec{tools.TypedSpec[struct{}, struct{}]{
		Name: "list_things", Title: "List things", Description: "Lists things.",
		Scope: auth.ScopeContainerRead, Risk: tools.RiskLow, Hints: tools.ReadHints,
		Run: func(context.Context, struct{}) (struct{}, error) { return struct{}{}, nil },
	}.Spec()}
}

// TestInventoryPartsFollowTheirToolsScopes: a part that repeats another
// tool's listing is served only to a caller who may call that tool; to
// another it is unavailable, saying why, and its data is not read.
func TestInventoryPartsFollowTheirToolsScopes(t *testing.T) {
	t.Parallel()
	parts := []tools.InventoryPart{
		{Name: "system", Get: func(context.Context) (any, error) { return "box", nil }},
		{Name: "containers", Tool: "list_things", Get: func(context.Context) (any, error) { return "secret-project-db", nil }},
	}
	ts, err := New(Config{Parts: parts})
	if err != nil {
		t.Fatal(err)
	}
	srv := toolstest.New(t, []tools.Toolset{ts, things{}}, nil)
	for _, tc := range []struct {
		name   string
		scopes []auth.Scope
		served bool
	}{
		{"system:read alone", []auth.Scope{auth.ScopeSystemRead}, false},
		{"with container:read", []auth.Scope{auth.ScopeSystemRead, auth.ScopeContainerRead}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := toolstest.OK[Inventory](t, srv.Client(t, tc.scopes...), "get_inventory", nil)
			if len(inv.Parts) != 2 || inv.Parts[0].Status != StatusOK {
				t.Fatalf("parts %+v", inv.Parts)
			}
			c := inv.Parts[1]
			switch {
			case tc.served && (c.Status != StatusOK || c.Data != "secret-project-db"):
				t.Errorf("containers: %+v, want it read", c)
			case !tc.served && (c.Status != StatusUnavailable || c.Data != nil || !strings.Contains(c.Error, "list_things")):
				t.Errorf("containers: %+v, want it unavailable, naming list_things", c)
			}
		})
	}
}

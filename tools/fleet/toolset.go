// SPDX-License-Identifier: Apache-2.0

// Package fleet is the toolset of a fleet entry node (--fleet tag:NAME):
// list_hosts lists the TailOps nodes of the tailnet that carry a fleet
// tag, and fleet_status asks each of them for its essentials at once.
// Every question to a member goes with the caller's own credentials
// (package fleet), so a member answers only what it would answer the
// caller directly.
package fleet

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/fleet"
	"github.com/tailops/tailops/redact"
	"github.com/tailops/tailops/tools"
)

// Limits of fleet_status.
const (
	// DefaultTimeout is how long fleet_status waits for a member.
	DefaultTimeout = 10 * time.Second
	// ListTimeout is how long list_hosts waits for a member's tool list.
	ListTimeout = 5 * time.Second
	// MaxTimeout is the longest timeout_seconds may ask for.
	MaxTimeout = 60 * time.Second
	// concurrency bounds the members asked at once.
	concurrency = 8
)

// Config configures the fleet tools. The zero value has no fleet: every
// call says how to make this node an entry point.
type Config struct {
	// Fleet finds the members and forwards to them; nil means none.
	Fleet *fleet.Fleet
}

// Toolset is the fleet toolset, built by New.
type Toolset struct {
	cfg   Config
	specs []tools.Spec
}

var _ tools.Toolset = (*Toolset)(nil)

// New declares the fleet tools; it opens nothing.
func New(cfg Config) (*Toolset, error) {
	t := &Toolset{cfg: cfg}
	t.specs = t.declare()
	return t, nil
}

// Name returns "fleet".
func (t *Toolset) Name() string { return "fleet" }

// Tools returns the fleet tools.
func (t *Toolset) Tools() []tools.Spec { return slices.Clone(t.specs) }

// errNoFleet is every call's error on a node that is not an entry point.
var errNoFleet = errors.New("this node is not a fleet entry point: start it with --fleet tag:NAME (the tag its fleet's members carry)")

// ListArgs is list_hosts' input.
type ListArgs struct {
	TimeoutSeconds int `json:"timeout_seconds,omitempty" jsonschema_description:"how long to wait for each member's tool list (default 5, at most 60)"`
}

// Host is one member in list_hosts.
type Host struct {
	fleet.Member
	Toolsets      []string `json:"toolsets" jsonschema_description:"the toolsets of which the member offers you at least one tool (asked with your credentials)"`
	ToolsetsError string   `json:"toolsets_error,omitempty" jsonschema_description:"why the member did not say, when it did not"`
}

// HostList is list_hosts' output.
type HostList struct {
	Tags  []string `json:"tags" jsonschema_description:"the tags that make a node a member (--fleet)"`
	Count int      `json:"count"`
	Hosts []Host   `json:"hosts"`
}

// listHosts lists the members and asks each online one which tools it
// offers the caller.
func (t *Toolset) listHosts(ctx context.Context, in ListArgs) (HostList, error) {
	f := t.cfg.Fleet
	if f == nil {
		return HostList{}, errNoFleet
	}
	if err := fleet.Onward(ctx, "this node's members"); err != nil {
		return HostList{}, err
	}
	timeout, err := timeoutArg(in.TimeoutSeconds, ListTimeout)
	if err != nil {
		return HostList{}, err
	}
	ms, err := f.Members(ctx)
	if err != nil {
		return HostList{}, err
	}
	out := HostList{Tags: f.Tags(), Count: len(ms), Hosts: make([]Host, len(ms))}
	each(ctx, len(ms), func(i int) {
		h := Host{Member: ms[i], Toolsets: []string{}}
		defer func() { out.Hosts[i] = h }()
		if !h.Reachable() {
			h.ToolsetsError = cmp.Or(h.Problem, "not reachable")
			return
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		ts, err := f.ListTools(ctx, h.Member)
		if err != nil && ctx.Err() != nil {
			h.ToolsetsError = fmt.Sprintf("no answer within %s", timeout)
			return
		} else if err != nil {
			h.ToolsetsError = redact.Text(err.Error())
			return
		}
		for _, tool := range ts {
			if tool.Meta == nil {
				continue
			}
			if name, ok := tool.Meta.AdditionalFields[tools.ToolsetMeta].(string); ok && !slices.Contains(h.Toolsets, name) {
				h.Toolsets = append(h.Toolsets, name)
			}
		}
		slices.Sort(h.Toolsets)
	})
	return out, nil
}

// StatusArgs is fleet_status' input.
type StatusArgs struct {
	TimeoutSeconds int `json:"timeout_seconds,omitempty" jsonschema_description:"how long to wait for each member (default 10, at most 60)"`
}

// Disk is one file system's use.
type Disk struct {
	Mountpoint  string  `json:"mountpoint"`
	UsedPercent float64 `json:"used_percent"`
}

// Updates are a member's pending package updates.
type Updates struct {
	Upgradable int `json:"upgradable"`
	Security   int `json:"security"`
}

// HostStatus is one member's essentials in fleet_status.
type HostStatus struct {
	Name string `json:"name"`
	// Answered reports whether the member answered at all.
	Answered            bool      `json:"answered"`
	Error               string    `json:"error,omitempty" jsonschema_description:"why the member gave nothing: offline, not TailOps, no answer in time"`
	Load                []float64 `json:"load,omitempty" jsonschema_description:"1, 5 and 15 minute load averages"`
	MemoryUsedPercent   *float64  `json:"memory_used_percent,omitempty"`
	Disks               []Disk    `json:"disks,omitempty"`
	FailedServices      []string  `json:"failed_services,omitempty"`
	UnhealthyContainers []string  `json:"unhealthy_containers,omitempty" jsonschema_description:"containers whose health check fails, restarting or dead"`
	PendingUpdates      *Updates  `json:"pending_updates,omitempty"`
	Problems            []string  `json:"problems,omitempty" jsonschema_description:"the parts the member did not give, each with why (a scope you lack there, a toolset it does not run)"`
	Seconds             float64   `json:"seconds" jsonschema_description:"how long the member took"`
}

// Status is fleet_status' output.
type Status struct {
	Count   int          `json:"count"`
	Hosts   []HostStatus `json:"hosts"`
	Seconds float64      `json:"seconds" jsonschema_description:"how long the whole call took"`
}

// part is one question fleet_status asks each member: a tool, its
// arguments, the fields of its structured result it reads (dotted paths,
// "[]" for an array's items; Reads checks them against the tools'
// declarations), and how they fill the status.
type part struct {
	name  string
	tool  string
	args  map[string]any
	reads []string
	fill  func(h *HostStatus, raw []byte) error
}

// parts are fleet_status' questions.
var parts = []part{
	{"load, memory and disks", "get_system_status", map[string]any{},
		[]string{"load", "memory.used_percent", "disks[].mountpoint", "disks[].used_percent"}, fillSystem},
	{"failed services", "list_services", map[string]any{"state": "failed"}, []string{"services[].name"}, fillServices},
	{"unhealthy containers", "list_containers", map[string]any{"all": true},
		[]string{"containers[].name", "containers[].state", "containers[].status"}, fillContainers},
	{"pending updates", "check_updates", map[string]any{"limit": 1}, []string{"upgradable", "security"}, fillUpdates},
}

// Reads returns, by tool, the fields of other toolsets' results that
// fleet_status reads from members: the toolsets do not import each other,
// so a test holds these to the tools' declared output schemas.
func Reads() map[string][]string {
	out := map[string][]string{}
	for _, p := range parts {
		out[p.tool] = slices.Clone(p.reads)
	}
	return out
}

// timeoutArg is the timeout timeout_seconds asks for: def when 0, else
// 1 s to MaxTimeout.
func timeoutArg(seconds int, def time.Duration) (time.Duration, error) {
	if seconds == 0 {
		return def, nil
	}
	if d := time.Duration(seconds) * time.Second; d >= time.Second && d <= MaxTimeout {
		return d, nil
	}
	return 0, tools.ArgErrorf("timeout_seconds", "must be 1 to %d, got %d", int(MaxTimeout.Seconds()), seconds)
}

// status asks every member for its essentials, at most concurrency
// members at once, each within the timeout.
func (t *Toolset) status(ctx context.Context, in StatusArgs) (Status, error) {
	f := t.cfg.Fleet
	if f == nil {
		return Status{}, errNoFleet
	}
	if err := fleet.Onward(ctx, "this node's members"); err != nil {
		return Status{}, err
	}
	timeout, err := timeoutArg(in.TimeoutSeconds, DefaultTimeout)
	if err != nil {
		return Status{}, err
	}
	start := time.Now()
	ms, err := f.Members(ctx)
	if err != nil {
		return Status{}, err
	}
	out := Status{Count: len(ms), Hosts: make([]HostStatus, len(ms))}
	each(ctx, len(ms), func(i int) {
		h := &out.Hosts[i]
		h.Name = ms[i].Name
		if !ms[i].Reachable() {
			h.Error = cmp.Or(ms[i].Problem, "not reachable")
			return
		}
		t.ask(ctx, f, ms[i], h, timeout)
	})
	out.Seconds = time.Since(start).Seconds()
	return out, nil
}

// ask fills h from member m's answers to every part, asked at once.
func (t *Toolset) ask(ctx context.Context, f *fleet.Fleet, m fleet.Member, h *HostStatus, timeout time.Duration) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex // guards h and answered while the parts come in
	answered := false
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := f.CallMember(ctx, m, p.tool, p.args)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				h.Problems = append(h.Problems, redact.Text(fmt.Sprintf("%s: %v", p.name, err)))
				return
			}
			answered = true
			if res.IsError {
				h.Problems = append(h.Problems, redact.Text(fmt.Sprintf("%s: %s refused or failed: %s", p.name, p.tool, resultText(res))))
				return
			}
			raw, err := json.Marshal(res.StructuredContent)
			if err == nil {
				err = p.fill(h, raw)
			}
			if err != nil {
				h.Problems = append(h.Problems, redact.Text(fmt.Sprintf("%s: %s answered something unexpected: %v", p.name, p.tool, err)))
			}
		}()
	}
	wg.Wait()
	h.Answered = answered
	h.Seconds = time.Since(start).Seconds()
	slices.Sort(h.Problems)
	if ctx.Err() != nil && !answered {
		h.Error = fmt.Sprintf("no answer within %s", timeout)
	} else if ctx.Err() != nil {
		h.Problems = append(h.Problems, fmt.Sprintf("some parts did not come within %s", timeout))
	}
}

// resultText is a tool error's text.
func resultText(res *mcp.CallToolResult) string {
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			return tc.Text
		}
	}
	return "no message"
}

func fillSystem(h *HostStatus, raw []byte) error {
	var s struct {
		Load   []float64 `json:"load"`
		Memory struct {
			UsedPercent float64 `json:"used_percent"`
		} `json:"memory"`
		Disks []Disk `json:"disks"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	h.Load, h.MemoryUsedPercent, h.Disks = s.Load, &s.Memory.UsedPercent, s.Disks
	return nil
}

func fillServices(h *HostStatus, raw []byte) error {
	var s struct {
		Services []struct {
			Name string `json:"name"`
		} `json:"services"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	h.FailedServices = []string{}
	for _, u := range s.Services {
		h.FailedServices = append(h.FailedServices, u.Name)
	}
	return nil
}

func fillContainers(h *HostStatus, raw []byte) error {
	var s struct {
		Containers []struct {
			Name   string `json:"name"`
			State  string `json:"state"`
			Status string `json:"status"`
		} `json:"containers"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	h.UnhealthyContainers = []string{}
	for _, c := range s.Containers {
		if c.State == "restarting" || c.State == "dead" || strings.Contains(c.Status, "(unhealthy)") {
			h.UnhealthyContainers = append(h.UnhealthyContainers, c.Name)
		}
	}
	return nil
}

func fillUpdates(h *HostStatus, raw []byte) error {
	var u Updates
	if err := json.Unmarshal(raw, &u); err != nil {
		return err
	}
	h.PendingUpdates = &u
	return nil
}

// each runs do(i) for i in [0, n), at most concurrency at once.
func each(ctx context.Context, n int, do func(i int)) {
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			do(i)
		}()
	}
}

// declare declares the fleet tools.
func (t *Toolset) declare() []tools.Spec {
	return []tools.Spec{
		tools.TypedSpec[ListArgs, HostList]{
			Name: "list_hosts", Title: "Fleet members",
			Description: "The TailOps nodes of the tailnet that carry a fleet tag (this node's --fleet), online or not: name, tailnet addresses, OS, " +
				"TailOps version, last seen, and the toolsets each offers you (each member asked within a timeout, default 5 s). Pass a member's name as any tool's node argument to run the tool there.",
			Scope: auth.ScopeSystemRead, Risk: tools.RiskLow, Hints: tools.ReadHints,
			Run: t.listHosts,
		}.Spec(),
		tools.TypedSpec[StatusArgs, Status]{
			Name: "fleet_status", Title: "Fleet status",
			Description: "Every fleet member's essentials at once — load, memory, disks, failed services, unhealthy containers, pending updates — " +
				"asked with your credentials, each member within a timeout (default 10 s): a member that does not answer is reported as such.",
			Scope: auth.ScopeSystemRead, Risk: tools.RiskLow, Hints: tools.ReadHints,
			Run: t.status,
		}.Spec(),
	}
}

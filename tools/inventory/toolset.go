// SPDX-License-Identifier: Apache-2.0

// Package inventory is the toolset of get_inventory: one view of what
// runs on the host — the system and its hardware, packages, services,
// containers, listening sockets, and TailOps itself — assembled from the
// parts the other toolsets serve (tools.InventoryPart), each read in
// parallel and bounded in time. A part that cannot be read is marked as
// such; it never fails the whole call.
package inventory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
)

// DefaultTimeout bounds each part.
const DefaultTimeout = 5 * time.Second

// Config configures the inventory toolset.
type Config struct {
	// Parts are the parts the enabled toolsets serve, in order.
	Parts []tools.InventoryPart
	// Absent are parts this server does not read, by name, each with why
	// (its toolset is left out, or not usable); they are listed as
	// unavailable.
	Absent map[string]string
	// Self describes TailOps itself when called; nil leaves it out.
	Self func() Self
	// Timeout bounds each part; zero means DefaultTimeout.
	Timeout time.Duration
}

// Self is TailOps' own part of the inventory.
type Self struct {
	Version  string       `json:"version"`
	Sandbox  SandboxState `json:"sandbox"`
	Toolsets []string     `json:"toolsets" jsonschema_description:"the toolsets that serve at least one tool"`
	Tools    int          `json:"tools" jsonschema_description:"how many tools this server serves"`
}

// SandboxState is the kernel sandbox as TailOps applied it at start.
type SandboxState struct {
	Mode         string `json:"mode" jsonschema_description:"enforce, best-effort or off"`
	Landlock     bool   `json:"landlock"`
	LandlockABI  int    `json:"landlock_abi"`
	Seccomp      bool   `json:"seccomp"`
	SkippedRules int    `json:"skipped_rules" jsonschema_description:"rules the kernel could not apply (best-effort)"`
}

// Args is get_inventory's input.
type Args struct {
	Parts []string `json:"parts,omitempty" jsonschema_description:"only these parts (default: all), e.g. [\"packages\", \"containers\"]"`
}

// Part is one part of the inventory.
type Part struct {
	Name   string `json:"name"`
	Status string `json:"status" jsonschema:"enum=ok,enum=unavailable,enum=error,enum=timeout"`
	Data   any    `json:"data,omitempty" jsonschema_description:"the part, when status is ok"`
	Error  string `json:"error,omitempty" jsonschema_description:"why the part is missing, when it is"`
	TookMS int64  `json:"took_ms"`
}

// Inventory is get_inventory's output.
type Inventory struct {
	TailOps *Self  `json:"tailops,omitempty"`
	Parts   []Part `json:"parts"`
}

// Part statuses.
const (
	StatusOK          = "ok"
	StatusUnavailable = "unavailable"
	StatusError       = "error"
	StatusTimeout     = "timeout"
)

// Toolset is the inventory toolset, built by New.
type Toolset struct {
	cfg   Config
	specs []tools.Spec
}

var _ tools.Toolset = (*Toolset)(nil)

// New declares get_inventory over cfg's parts.
func New(cfg Config) (*Toolset, error) {
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	t := &Toolset{cfg: cfg}
	var needs sandbox.Needs
	for _, p := range cfg.Parts {
		needs = needs.Merge(p.Needs)
	}
	t.specs = []tools.Spec{tools.TypedSpec[Args, Inventory]{
		Name: "get_inventory", Title: "Host inventory",
		Description: "One view of what runs on the host: the system and its hardware, packages (installed, upgradable, security), " +
			"services (failed, enabled), containers (images, versions, compose project, state), listening sockets with their process, " +
			"and TailOps' own version and sandbox. Each part is read in parallel and bounded in time; a part that cannot be read is " +
			"marked unavailable, error or timeout with why, and the rest is still returned.",
		Scope: auth.ScopeSystemRead, Risk: tools.RiskLow, Hints: tools.ReadHints, Needs: needs,
		Run: t.inventory,
	}.Spec()}
	return t, nil
}

// Name returns "inventory".
func (t *Toolset) Name() string { return "inventory" }

// Tools returns get_inventory.
func (t *Toolset) Tools() []tools.Spec { return slices.Clone(t.specs) }

// names returns every part's name, served or absent, sorted.
func (t *Toolset) names() []string {
	var out []string
	for _, p := range t.cfg.Parts {
		out = append(out, p.Name)
	}
	for n := range t.cfg.Absent {
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// inventory reads the parts asked for, in parallel.
func (t *Toolset) inventory(ctx context.Context, in Args) (Inventory, error) {
	known := t.names()
	for _, n := range in.Parts {
		if !slices.Contains(known, n) {
			return Inventory{}, tools.ArgErrorf("parts", "no part %q; the parts are %s", n, strings.Join(known, ", "))
		}
	}
	want := func(n string) bool { return len(in.Parts) == 0 || slices.Contains(in.Parts, n) }
	var out Inventory
	if t.cfg.Self != nil {
		s := t.cfg.Self()
		out.TailOps = &s
	}
	out.Parts = []Part{}
	for n, why := range t.cfg.Absent {
		if want(n) {
			out.Parts = append(out.Parts, Part{Name: n, Status: StatusUnavailable, Error: why})
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range t.cfg.Parts {
		if !want(p.Name) {
			continue
		}
		if p.Tool != "" {
			if ok, why := tools.Callable(ctx, p.Tool); !ok {
				mu.Lock() // parts read before this one may be done already
				out.Parts = append(out.Parts, Part{Name: p.Name, Status: StatusUnavailable,
					Error: fmt.Sprintf("it repeats what %s lists, which this caller may not call: %s", p.Tool, why)})
				mu.Unlock()
				continue
			}
		}
		wg.Go(func() {
			r := t.read(ctx, p)
			mu.Lock()
			out.Parts = append(out.Parts, r)
			mu.Unlock()
		})
	}
	wg.Wait()
	order := func(n string) int { // served parts in order, then the absent ones
		if i := slices.IndexFunc(t.cfg.Parts, func(p tools.InventoryPart) bool { return p.Name == n }); i >= 0 {
			return i
		}
		return len(t.cfg.Parts)
	}
	slices.SortStableFunc(out.Parts, func(a, b Part) int {
		return cmp.Or(cmp.Compare(order(a.Name), order(b.Name)), strings.Compare(a.Name, b.Name))
	})
	return out, nil
}

// read reads one part within the timeout. A part that overruns it is
// reported as a timeout at the deadline, even if its Get has not
// returned yet (it is left to finish on its own: its context is done).
func (t *Toolset) read(ctx context.Context, p tools.InventoryPart) Part {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	type result struct {
		v   any
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("internal error reading the %s part", p.Name)}
			}
		}()
		v, err := p.Get(ctx)
		done <- result{v, err}
	}()
	r := Part{Name: p.Name}
	select {
	case res := <-done:
		switch {
		case res.err == nil:
			r.Status, r.Data = StatusOK, res.v
		case errors.Is(res.err, context.DeadlineExceeded):
			r.Status, r.Error = StatusTimeout, fmt.Sprintf("not read within %s", t.cfg.Timeout)
		default:
			r.Status, r.Error = StatusError, res.err.Error()
		}
	case <-ctx.Done():
		r.Status, r.Error = StatusTimeout, fmt.Sprintf("not read within %s", t.cfg.Timeout)
		if ctx.Err() == context.Canceled {
			r.Error = "the call was cancelled"
		}
	}
	r.TookMS = time.Since(start).Milliseconds()
	return r
}

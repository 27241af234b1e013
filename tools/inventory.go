// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"context"

	"github.com/tailops/tailops/sandbox"
)

// InventoryPart is one part of get_inventory's view of the host (the
// packages, the services, the containers…), served by the toolset that
// reads that domain anyway, from the same code as its tools.
type InventoryPart struct {
	// Name names the part in get_inventory's result: one lower-case word.
	Name string
	// Tool is the tool whose listing the part repeats (list_containers for
	// the containers): a caller who may not call it gets the part as
	// unavailable. "" for a part get_inventory's own scope covers.
	Tool string
	// Needs is what Get needs of the kernel sandbox (the toolset's own
	// tools' needs, or fewer).
	Needs sandbox.Needs
	// Get reads the part; the value is encoded as JSON. It must return
	// once ctx is done.
	Get func(ctx context.Context) (any, error)
}

// InventoryProvider is a toolset that contributes parts to get_inventory.
type InventoryProvider interface {
	InventoryParts() []InventoryPart
}

// InventoryParts returns the inventory parts of sets, in order.
func InventoryParts(sets []Toolset) []InventoryPart {
	return provided(sets, InventoryProvider.InventoryParts)
}

// callableKey is the context key of a call's Callable check.
type callableKey struct{}

// WithCallable returns ctx carrying may, which reports whether the call's
// caller may call a tool, and why not: the server sets it on every tool
// call, for tools that repeat what others list (get_inventory).
func WithCallable(ctx context.Context, may func(tool string) (ok bool, why string)) context.Context {
	return context.WithValue(ctx, callableKey{}, may)
}

// Callable reports whether the caller of ctx may call tool, and why not.
// Without WithCallable's check in ctx nothing is callable.
func Callable(ctx context.Context, tool string) (bool, string) {
	may, _ := ctx.Value(callableKey{}).(func(string) (bool, string))
	if may == nil {
		return false, "the server did not say who is calling"
	}
	return may(tool)
}

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

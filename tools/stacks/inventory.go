// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"

	"github.com/tailops/tailops/tools"
)

// InventoryParts returns the stacks part of get_inventory: list_stacks'
// answer (every compose project, managed or external, and the stacks in
// the stack roots not deployed).
func (t *Toolset) InventoryParts() []tools.InventoryPart {
	return []tools.InventoryPart{{Name: "stacks", Tool: "list_stacks", Needs: t.needs(false), Get: func(ctx context.Context) (any, error) {
		return t.listStacks(ctx, tools.NoArgs{})
	}}}
}

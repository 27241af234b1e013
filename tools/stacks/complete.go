// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"

	"github.com/tailops/tailops/tools"
)

// Completions completes prompt arguments that name a stack with every
// stack's name, as list_stacks lists them.
func (t *Toolset) Completions() []tools.Completion {
	return []tools.Completion{{Kind: "stack", Tool: "list_stacks", Values: func(ctx context.Context) ([]string, error) {
		l, err := t.listStacks(ctx, tools.NoArgs{})
		if err != nil {
			return nil, err
		}
		return tools.NamesOf(l.Stacks, func(x StackSummary) string { return x.Name }), nil
	}}}
}

// SPDX-License-Identifier: Apache-2.0

package systemd

import (
	"context"

	"github.com/tailops/tailops/tools"
)

// Completions completes prompt arguments that name a unit with every
// service's name, as list_services lists them.
func (t *Toolset) Completions() []tools.Completion {
	return []tools.Completion{{Kind: "unit", Tool: "list_services", Values: func(ctx context.Context) ([]string, error) {
		l, err := t.listServices(ctx, ListArgs{})
		if err != nil {
			return nil, err
		}
		return tools.NamesOf(l.Services, func(x Service) string { return x.Name }), nil
	}}}
}

// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"context"

	"github.com/tailops/tailops/tools"
)

// Completions completes prompt arguments that name a container with
// every container's name, as list_containers lists them.
func (t *Toolset) Completions() []tools.Completion {
	return []tools.Completion{{Kind: "container", Tool: "list_containers", Values: func(ctx context.Context) ([]string, error) {
		l, err := t.listContainers(ctx, ListContainersArgs{All: true})
		if err != nil {
			return nil, err
		}
		return tools.NamesOf(l.Containers, func(x ContainerSummary) string { return x.Name }), nil
	}}}
}

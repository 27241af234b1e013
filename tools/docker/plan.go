// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"context"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/tailops/tailops/tools"
)

// ContainerPlan is what the approver of a critical call on one container
// sees: the container the name resolved to when approval was asked.
type ContainerPlan struct {
	Container string `json:"container"`
	ID        string `json:"id"`
	Image     string `json:"image"`
	State     string `json:"state"`
}

// planContainer resolves ref for an approval request: the request shows
// the container, and the approval binds its id, so a container recreated
// or renamed under that name since is not the one acted on (the call then
// fails, naming the id it was approved for).
func (e *engine) planContainer(ctx context.Context, ref string) (tools.Plan, error) {
	cli, err := e.client()
	if err != nil {
		return tools.Plan{}, err
	}
	c, err := e.resolve(ctx, cli, ref)
	if err != nil {
		return tools.Plan{}, err
	}
	p := ContainerPlan{Container: strings.TrimPrefix(c.Name, "/"), ID: c.ID}
	if c.Config != nil {
		p.Image = c.Config.Image
	}
	if c.State != nil {
		p.State = c.State.Status
	}
	return tools.Plan{Detail: p, Bind: "container " + c.ID, Value: c.ID}, nil
}

// target resolves the container a critical call acts on: the one its
// approval named (by id), else ref.
func (e *engine) target(ctx context.Context, cli *client.Client, ref string) (container.InspectResponse, error) {
	if p, ok := tools.PlanFrom(ctx); ok {
		if id, ok := p.Value.(string); ok && id != "" {
			c, err := cli.ContainerInspect(ctx, id)
			if err != nil {
				return c, e.fail(err, "inspecting the container approved ("+id[:min(12, len(id))]+"), which is no longer there: "+
					"the call did nothing; call again to ask approval for the container that has the name now")
			}
			return c, nil
		}
	}
	return e.resolve(ctx, cli, ref)
}

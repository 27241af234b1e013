// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
)

// explainHealth adds to err, a failed deploy of project, why it failed
// when the engine is Podman and some containers' health checks never
// ran: Podman runs them from systemd timers, which a podman system
// service outside systemd does not have, so compose waits for a health
// that never comes. Otherwise it returns err.
func (t *Toolset) explainHealth(ctx context.Context, project string, err error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	cli, cerr := t.eng.client()
	if cerr != nil {
		return err
	}
	v, verr := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if verr != nil || !slices.ContainsFunc(v.Components, func(c system.ComponentVersion) bool { return strings.Contains(c.Name, "Podman") }) {
		return err
	}
	projects, perr := t.projectContainers(ctx, project)
	if perr != nil {
		return err
	}
	var never []string
	for _, c := range projects[project] {
		ins, ierr := cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if ierr != nil || ins.Container.State == nil || ins.Container.State.Health == nil {
			continue
		}
		if h := ins.Container.State.Health; h.Status == "starting" && len(h.Log) == 0 {
			never = append(never, c.Labels[api.ServiceLabel])
		}
	}
	if len(never) == 0 {
		return err
	}
	slices.Sort(never)
	return fmt.Errorf("%w; the engine is Podman, and the health checks of %s never ran: Podman runs health checks from systemd timers, "+
		"which this podman service does not have (it does not run under systemd); run the podman service under systemd, "+
		"or give those services no healthcheck (healthcheck: {disable: true})", err, strings.Join(slices.Compact(never), ", "))
}

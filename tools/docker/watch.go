// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/tailops/tailops/tools"
)

// stateActions are the container events that change what a container's
// resources show: its status, health, exit code or restart count.
var stateActions = []events.Action{events.ActionCreate, events.ActionStart, events.ActionDie, events.ActionStop,
	events.ActionKill, events.ActionPause, events.ActionUnPause, events.ActionRestart, events.ActionOOM,
	events.ActionDestroy, events.ActionRename, events.ActionHealthStatus}

// Watchers returns the "container" watcher (Watch), which
// tailops://containers/{id}/… resources are subscribed through; none when
// the endpoint cannot be used.
func (t *Toolset) Watchers() map[string]tools.Watcher {
	if t.ep.Socket == "" && t.ep.TCPPort == 0 {
		return nil
	}
	return map[string]tools.Watcher{"container": t.Watch}
}

// Watch is a tools.Watcher of containers: it follows the Engine's event
// stream and calls changed with a container's id and name on each state
// change, until ctx ends (nil) or the stream fails (its error; the
// caller reconnects).
func (t *Toolset) Watch(ctx context.Context, changed func(keys ...string)) error {
	cli, err := t.client()
	if err != nil {
		return err
	}
	f := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)))
	for _, a := range stateActions {
		f.Add("event", string(a))
	}
	msgs, errs := cli.Events(ctx, events.ListOptions{Filters: f})
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errs:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("following the Docker event stream at %s: %w", t.endpoint(), err)
		case m := <-msgs:
			changed(m.Actor.ID, m.Actor.Attributes["name"])
		}
	}
}

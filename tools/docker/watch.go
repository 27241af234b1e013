// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"context"
	"fmt"
	"time"

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
// caller reconnects). With a non-zero since (the previous stream failed
// then), the Engine replays the events since then it still holds (a
// restarted daemon holds only its own), and once the Engine answers,
// changed is called with no keys: what happened while the stream was
// down, such as the containers a daemon restart stopped, is not in it.
func (t *Toolset) Watch(ctx context.Context, since time.Time, changed func(keys ...string)) error {
	cli, err := t.client()
	if err != nil {
		return err
	}
	f := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)))
	for _, a := range stateActions {
		f.Add("event", string(a))
	}
	opts := events.ListOptions{Filters: f}
	if !since.IsZero() {
		opts.Since = fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond())
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs, errs := cli.Events(ctx, opts)
	if !since.IsZero() {
		if _, err := cli.Ping(ctx); err != nil {
			return fmt.Errorf("reaching the Docker Engine at %s again: %w", t.endpoint(), err)
		}
		changed()
	}
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

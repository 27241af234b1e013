// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// Polling intervals of waitReady: a safety net while the engine's event
// stream runs (an event it does not send must not hang the wait), and
// compose's own interval once that stream failed.
var (
	waitSafetyPoll = 2 * time.Second
	waitPoll       = 500 * time.Millisecond
)

// waitSettle is how long a container without a health check must have
// run to count as running: compose's --wait looks first 500 ms after Up,
// so a container that dies at start is seen exited, not running; without
// it a container that exits within milliseconds could be seen running
// and a failed deploy reported done.
const waitSettle = 500 * time.Millisecond

// waitReady waits, for at most waitTimeout, until p's containers are
// ready as compose's --wait (Up's Wait option, v5.6.0) defines it, and
// with its error messages: every container of a service runs, and is
// healthy when it has a health check; a service another one depends on
// with service_completed_successfully has exited 0 instead; an exited
// container, an unhealthy one or a one-shot that failed end the wait
// with an error. Unlike compose, which inspects every 500 ms from the
// first tick on, it checks at once (the containers Up just started
// usually run already) and then again on each of the project's
// container events (start, die, health_status...), subscribed to before
// that first check so none is missed, and once the last container without
// a health check has run for waitSettle. A cancelled ctx returns an error.
func (t *Toolset) waitReady(ctx context.Context, p *types.Project) error {
	cli, err := t.eng.client()
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	since := time.Now()
	ev := cli.Events(wctx, client.EventsListOptions{
		Since:   fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()),
		Filters: make(client.Filters).Add("type", string(events.ContainerEventType)).Add("label", api.ProjectLabel+"="+p.Name),
	})
	msgs, errs := ev.Messages, ev.Err
	poll := time.NewTicker(waitSafetyPoll)
	defer poll.Stop()
	settle := time.NewTimer(time.Hour)
	defer settle.Stop()
	for {
		done, settling, err := projectReady(wctx, cli, p)
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("cancelled while waiting for the containers to run and be healthy: %w", ctx.Err())
		case wctx.Err() != nil:
			return fmt.Errorf("application not healthy after %s", waitTimeout)
		case err != nil || done:
			return err
		}
		if settling > 0 {
			settle.Reset(settling)
		}
		select {
		case <-wctx.Done():
		case <-poll.C:
		case <-settle.C:
		case _, ok := <-msgs:
			// One check covers every event already queued.
			for ok {
				select {
				case _, ok = <-msgs:
				default:
					ok = false
				}
			}
		case <-errs:
			// The stream ended: poll as compose does.
			msgs, errs = nil, nil
			poll.Reset(waitPoll)
		}
	}
}

// projectReady inspects p's containers and says whether all are ready
// (see waitReady), and how long until the last running one without a
// health check has run for waitSettle (0: none is settling); an error
// means one never will be.
func projectReady(ctx context.Context, cli client.APIClient, p *types.Project) (bool, time.Duration, error) {
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).
		Add("label", api.ProjectLabel+"="+p.Name).Add("label", api.ConfigHashLabel).Add("label", api.OneoffLabel+"=False")})
	if err != nil {
		return false, 0, fmt.Errorf("listing the containers of stack %s: %w", p.Name, err)
	}
	names := p.ServiceNames()
	slices.Sort(names)
	ready, settling := true, time.Duration(0)
	for _, name := range names {
		s := p.Services[name]
		if s.GetScale() == 0 || s.Provider != nil {
			continue // compose does not wait for these
		}
		var ids []string
		for _, c := range res.Items {
			if c.Labels[api.ServiceLabel] == name && c.Labels[api.HookLabel] == "" {
				ids = append(ids, c.ID)
			}
		}
		if len(ids) == 0 {
			return false, 0, fmt.Errorf("%s is missing dependency %s", p.Name, name)
		}
		var ok bool
		var left time.Duration
		if completes(p, name) {
			ok, err = completed(ctx, cli, name, ids)
		} else {
			ok, left, err = runningOrHealthy(ctx, cli, ids)
		}
		if err != nil {
			return false, 0, err
		}
		ready, settling = ready && ok, max(settling, left)
	}
	return ready, settling, nil
}

// completes says whether another service of p depends on service with
// service_completed_successfully: compose's wait then expects it to exit 0
// rather than run.
func completes(p *types.Project, service string) bool {
	for _, s := range p.Services {
		if d, ok := s.DependsOn[service]; ok && d.Condition == types.ServiceConditionCompletedSuccessfully {
			return true
		}
	}
	return false
}

// runningOrHealthy says whether the containers ids all run, healthy when
// they have a health check, and without one for waitSettle (what is left
// of that for the last one still settling); an exited or unhealthy one is
// an error.
func runningOrHealthy(ctx context.Context, cli client.APIClient, ids []string) (bool, time.Duration, error) {
	ready, settling := true, time.Duration(0)
	for _, id := range ids {
		ins, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return false, 0, err
		}
		c := ins.Container
		name := c.Name[min(1, len(c.Name)):]
		if c.State == nil {
			return false, 0, nil
		}
		if c.State.Status == container.StateExited {
			return false, 0, fmt.Errorf("container %s exited (%d)", name, c.State.ExitCode)
		}
		var hc *container.HealthConfig
		if c.Config != nil {
			hc = c.Config.Healthcheck
		}
		if hc == nil || (len(hc.Test) > 0 && hc.Test[0] == "NONE") {
			if c.State.Status != container.StateRunning {
				return false, 0, nil
			}
			started, err := time.Parse(time.RFC3339Nano, c.State.StartedAt)
			if err != nil {
				return false, 0, fmt.Errorf("container %s: start time %q: %w", name, c.State.StartedAt, err)
			}
			if left := waitSettle - time.Since(started); left > 0 {
				ready, settling = false, max(settling, left)
			}
			continue
		}
		if c.State.Health == nil {
			return false, 0, fmt.Errorf("container %s has no healthcheck configured", name)
		}
		switch c.State.Health.Status {
		case container.Healthy:
		case container.Unhealthy:
			return false, 0, fmt.Errorf("container %s is unhealthy", name)
		case container.Starting:
			return false, 0, nil
		default:
			return false, 0, fmt.Errorf("container %s had unexpected health status %q", name, c.State.Health.Status)
		}
	}
	return ready, settling, nil
}

// completed says whether one of service's containers ids has exited, and
// is an error when it exited with another code than 0.
func completed(ctx context.Context, cli client.APIClient, service string, ids []string) (bool, error) {
	for _, id := range ids {
		ins, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return false, err
		}
		if st := ins.Container.State; st != nil && st.Status == container.StateExited {
			if st.ExitCode != 0 {
				return false, fmt.Errorf("service %q didn't complete successfully: exit %d", service, st.ExitCode)
			}
			return true, nil
		}
	}
	return false, nil
}

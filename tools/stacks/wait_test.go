// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// TestWaitReady: a deploy returns once every container runs, and is
// healthy where it has a health check, with compose --wait's semantics
// and messages: an unhealthy or exited container fails it (a one-shot
// too, unless a service depends on it with service_completed_successfully),
// a health that never comes times out, a cancelled context is an error.
// A container without a health check is ready once it has run for
// waitSettle, so one that exits at once fails the deploy (crash-at-start),
// as compose's first --wait check 500 ms in would see.
// The safety poll is off: only the engine's events can end the wait, so
// a case that passes proves they are subscribed to and acted upon.
func TestWaitReady(t *testing.T) {
	k := newStacksLab(t, true)
	defer func(d, p time.Duration) { waitTimeout, waitSafetyPoll = d, p }(waitTimeout, waitSafetyPoll)
	waitSafetyPoll = time.Hour
	const sleeper = "    image: local/busybox:latest\n    command: [sleep, '3600']\n"
	cases := []struct {
		name    string
		compose string
		timeout time.Duration
		cancel  bool   // cancel the context once web runs
		want    string // in the error; "" for success
		healthy string // a container that must be healthy on success
	}{
		{name: "healthy-later", healthy: "healthy-later-web-1", compose: "services:\n  web:\n    image: local/busybox:latest\n" +
			"    command: [sh, -c, 'sleep 2; touch /tmp/ok; exec sleep 3600']\n" +
			"    healthcheck: {test: [CMD, test, -f, /tmp/ok], interval: 1s, retries: 30}\n  db:\n" + sleeper},
		{name: "unhealthy", want: "container unhealthy-web-1 is unhealthy", compose: "services:\n  web:\n" + sleeper +
			"    healthcheck: {test: [CMD, 'false'], interval: 1s, retries: 1}\n"},
		{name: "oneshot", want: "container oneshot-init-1 exited (0)", compose: "services:\n  init:\n    image: local/busybox:latest\n" +
			"    command: ['true']\n    restart: \"no\"\n  web:\n" + sleeper},
		{name: "oneshot-dep", compose: "services:\n  init:\n    image: local/busybox:latest\n    command: ['true']\n    restart: \"no\"\n" +
			"  web:\n" + sleeper + "    depends_on: {init: {condition: service_completed_successfully}}\n"},
		{name: "crash", want: "container crash-web-1 exited (3)", compose: "services:\n  web:\n    image: local/busybox:latest\n" +
			"    command: [sh, -c, 'sleep 1; exit 3']\n    healthcheck: {test: [CMD, 'true'], interval: 1h, start_period: 1h}\n"},
		{name: "crash-at-start", want: "container crash-at-start-web-1 exited (1)", compose: "services:\n  web:\n" +
			"    image: local/busybox:latest\n    command: ['false']\n  db:\n" + sleeper},
		{name: "never-healthy", timeout: 3 * time.Second, want: "application not healthy after 3s", compose: "services:\n  web:\n" + sleeper +
			"    healthcheck: {test: [CMD, 'true'], interval: 1h, start_period: 1h}\n"},
		{name: "cancelled", cancel: true, want: "cancelled while waiting for the containers to run and be healthy: context canceled",
			compose: "services:\n  web:\n" + sleeper + "    healthcheck: {test: [CMD, 'true'], interval: 1h, start_period: 1h}\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k.cleanup(t, c.name)
			writeStack(t, k.root, c.name, c.compose, "")
			waitTimeout = 60 * time.Second
			if c.timeout > 0 {
				waitTimeout = c.timeout
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if c.cancel {
				go func() { untilRunning(ctx, k, c.name+"-web-1", ""); cancel() }()
			}
			_, p, err := k.ts.prepare(ctx, c.name, nil)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			err = k.ts.up(ctx, p)
			took := time.Since(t0)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("up: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("up: %v, want %q in it", err, c.want)
			case took > 40*time.Second:
				t.Errorf("up took %s", took)
			}
			if c.healthy != "" {
				ins, err := k.d.Client().ContainerInspect(context.Background(), c.healthy)
				if err != nil || ins.State.Health == nil || ins.State.Health.Status != "healthy" {
					t.Errorf("%s after up: %+v, %v", c.healthy, ins.State, err)
				}
			}
		})
	}
}

// TestInterruptedUpdateAndRollback: an update_stack or rollback_stack
// the server cancels to shut down (its shutdown channel closed, its
// context cancelled) while compose waits for the new containers is
// recorded as interrupted, saying so and in what state it left the
// stack: the update still rolls back to the last good deployment
// (within tools.CleanupTimeout), whose container runs again; a rollback
// leaves the containers as compose left them, and says so.
func TestInterruptedUpdateAndRollback(t *testing.T) {
	k := newStacksLab(t, true)
	defer func(d time.Duration) { waitTimeout = d }(waitTimeout)
	waitTimeout = time.Minute
	const name = "intrstack"
	k.cleanup(t, name)
	k.d.Docker(t, "tag", "local/busybox:latest", "local/intr:v1")
	t.Cleanup(func() { k.d.DockerCmd("rmi", "local/intr:v1").Run() })
	base := "services:\n  app:\n    image: local/intr:v1\n    pull_policy: missing\n" +
		"    command: [sh, -c, \"trap 'exit 0' TERM; sleep 3600 & wait\"]\n"
	writeStack(t, k.root, name, base+"    environment: [LEVEL=1]\n", "")
	good := toolstest.OK[DeployResult](t, k.c, "deploy_stack", map[string]any{"name": name})
	// A health check that never runs: the wait only ends when cancelled.
	writeStack(t, k.root, name, base+"    environment: [LEVEL=2]\n    healthcheck: {test: [CMD, 'true'], interval: 1h, start_period: 1h}\n", "")
	var stuck string // the interrupted update's deployment
	cases := []struct {
		name string
		call func(context.Context) (string, error) // the deployment id
		want []string                              // in the error and the history entry
		env  string                                // in the container's environment afterwards
	}{
		{name: "update", env: "LEVEL=1", call: func(ctx context.Context) (string, error) {
			out, err := k.ts.updateStack(ctx, UpdateArgs{Name: name})
			if out.RolledBack != good.Deployment {
				t.Errorf("update_stack: rolled back to %q, want %s", out.RolledBack, good.Deployment)
			}
			stuck = out.Deployment
			return out.Deployment, err
		}, want: []string{"the server is shutting down", "the update was cancelled before compose finished it",
			"it was rolled back to deployment " + good.Deployment + ", which runs again", "cancelled while waiting"}},
		{name: "rollback", env: "LEVEL=2", call: func(ctx context.Context) (string, error) {
			out, err := k.ts.rollbackStack(ctx, RollbackArgs{Name: name, Deployment: stuck})
			return out.Deployment, err
		}, want: []string{"the server is shutting down", "the rollback was cancelled before compose finished it",
			"the stack's containers are as compose left them, partly deployment ", "cancelled while waiting"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// Shut down once the new container (LEVEL=2) runs: compose
			// has made it, and the wait for its health has begun.
			stop := make(chan struct{})
			go func() {
				untilRunning(ctx, k, name+"-app-1", "LEVEL=2")
				close(stop)
				cancel()
			}()
			id, err := c.call(tools.WithShutdown(ctx, stop))
			if err == nil {
				t.Fatalf("%s cut short by a shutdown: no error", c.name)
			}
			ds, herr := k.ts.hist.list(name)
			if herr != nil || len(ds) == 0 {
				t.Fatalf("history: %v, %v", ds, herr)
			}
			d := ds[len(ds)-1]
			if d.ID != id || d.Action != c.name || d.Result != resultInterrupted {
				t.Errorf("history entry: %s %s %s, want %s %s interrupted", d.ID, d.Action, d.Result, id, c.name)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) || !strings.Contains(d.Error, w) {
					t.Errorf("error %q and history entry's %q: want %q in both", err, d.Error, w)
				}
			}
			ins, ierr := k.d.Client().ContainerInspect(context.Background(), name+"-app-1")
			if ierr != nil || !ins.State.Running || !slices.Contains(ins.Config.Env, c.env) {
				t.Errorf("container after the %s: %v %+v, want it running with %s", c.name, ierr, ins.Config, c.env)
			}
		})
	}
}

// untilRunning returns once container name runs, with env in its
// environment unless env is empty, and half a second more (compose is
// done with it, the wait has begun), or when ctx ends.
func untilRunning(ctx context.Context, k *stacksLab, name, env string) {
	for ctx.Err() == nil {
		ins, err := k.d.Client().ContainerInspect(ctx, name)
		if err == nil && ins.State.Running && (env == "" || slices.Contains(ins.Config.Env, env)) {
			time.Sleep(500 * time.Millisecond)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

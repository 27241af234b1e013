// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestWaitReady: a deploy returns once every container runs, and is
// healthy where it has a health check, with compose --wait's semantics
// and messages: an unhealthy or exited container fails it (a one-shot
// too, unless a service depends on it with service_completed_successfully),
// a health that never comes times out, a cancelled context is an error.
// (A container without a health check is ready once seen running, as
// with compose: crash waits on a health check so that its exit is seen.)
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
		cancel  time.Duration // cancel the context after this long
		want    string        // in the error; "" for success
		healthy string        // a container that must be healthy on success
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
		{name: "never-healthy", timeout: 3 * time.Second, want: "application not healthy after 3s", compose: "services:\n  web:\n" + sleeper +
			"    healthcheck: {test: [CMD, 'true'], interval: 1h, start_period: 1h}\n"},
		{name: "cancelled", cancel: 2 * time.Second, want: "cancelled while waiting for the containers to run and be healthy: context canceled",
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
			if c.cancel > 0 {
				time.AfterFunc(c.cancel, cancel)
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

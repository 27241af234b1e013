// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// changes collects what a Watcher reports: each call's keys, joined.
type changes struct {
	mu    sync.Mutex
	calls []string
}

func (c *changes) changed(keys ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, strings.Join(keys, " "))
}

func (c *changes) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// TestWatch: against the real daemon, Watch reports a container's state
// changes with its id and name; from a zero since only what happens after
// it starts, with no "anything changed" call; from a since in the past,
// first a call with no keys, then the events since then the daemon holds
// (a container stopped before Watch was called); and it ends with an
// error naming the endpoint when the daemon cannot be reached.
func TestWatch(t *testing.T) {
	k := newDockerLab(t)
	before := time.Now()
	id := k.d.Run(t, "--name", "watch-web", busyboxRef, "sleep", "3600")
	k.d.Docker(t, "stop", "-t", "1", "watch-web")
	for _, tc := range []struct {
		name  string
		since time.Time
		act   func(t *testing.T) // after Watch started
		want  []string           // calls, in order, that must come first
	}{
		{"from now", time.Time{}, func(t *testing.T) { k.d.Docker(t, "start", "watch-web") }, []string{id + " watch-web"}},
		{"replayed since a failure", before, func(*testing.T) {}, []string{"", id + " watch-web"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := watchFor(t, k.ts, tc.since, tc.act, len(tc.want)); !slices.Equal(got, tc.want) {
				t.Errorf("reported %q, want first %q", got, tc.want)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		gone := newDockerLabFor(t, nil, "unix://"+t.TempDir()+"/docker.sock")
		c := &changes{}
		err := gone.ts.Watch(t.Context(), before, c.changed)
		if err == nil || !strings.Contains(err.Error(), "docker.sock") {
			t.Errorf("Watch of an unreachable daemon: %v, want an error naming its socket", err)
		}
		if got := c.got(); len(got) != 0 {
			t.Errorf("an unreachable daemon reported %q", got)
		}
	})
}

// watchFor runs ts.Watch from since, calls act once the stream is open,
// and returns the first n calls it reports (fewer if they do not come
// within ten seconds); Watch must end with nil when its context does.
func watchFor(t *testing.T, ts *Toolset, since time.Time, act func(t *testing.T), n int) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	c := &changes{}
	done := make(chan error, 1)
	go func() { done <- ts.Watch(ctx, since, c.changed) }()
	time.Sleep(300 * time.Millisecond) // the stream is open
	act(t)
	for deadline := time.Now().Add(10 * time.Second); len(c.got()) < n && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch ended with %v, want nil when its context ends", err)
	}
	return c.got()[:min(n, len(c.got()))]
}

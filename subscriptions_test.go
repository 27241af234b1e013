// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/labtest"
)

// updates collects the notifications/resources/updated a client receives.
type updates struct {
	mu   sync.Mutex
	uris []string
}

func (u *updates) add(_ context.Context, req *sdk.ResourceUpdatedNotificationRequest) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.uris = append(u.uris, req.Params.URI)
}

func (u *updates) got() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.uris)
}

// waitFor reports whether uri arrives within ten seconds.
func (u *updates) waitFor(uri string) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if slices.Contains(u.got(), uri) {
			return true
		}
	}
	return false
}

// waitPast reports whether more than n updates arrive within timeout.
func (u *updates) waitPast(n int, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if len(u.got()) > n {
			return true
		}
	}
	return false
}

// waitSubscriptions waits until the in-process server holds uris
// subscribed URIs and runs watchers watchers.
func waitSubscriptions(t *testing.T, s *testServer, uris, watchers int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		u, w := s.in.srv.Subscriptions()
		if u == uris && w == watchers {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d URIs subscribed and %d watchers running, want %d and %d", u, w, uris, watchers)
		}
	}
}

// subscriber connects the official Go SDK client with its standalone
// event stream open (where notifications outside a request arrive) and
// collects the resource updates it receives.
func subscriber(t *testing.T, url, tok string) (*sdk.ClientSession, *updates) {
	t.Helper()
	u := &updates{}
	c := sdk.NewClient(&sdk.Implementation{Name: "go-sdk-subscriber", Version: "1"}, &sdk.ClientOptions{ResourceUpdatedHandler: u.add})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url + "/mcp",
		HTTPClient: &http.Client{Transport: bearer{tok, http.DefaultTransport}}}, nil)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs, u
}

// TestContainerSubscriptions: through the official Go SDK client, against
// the server in-process and the binary under --sandbox enforce, each
// beside a real dockerd: a session subscribed to a container's logs URI
// is told when that container stops and starts, and of nothing else; a
// second session that did not subscribe is told nothing; a caller
// without container:read is refused and the refusal audited; after
// unsubscribing nothing more arrives, and the same client can subscribe
// again and is told again; and in-process, the subscriptions and the
// Docker event watcher are gone once the session ends.
func TestContainerSubscriptions(t *testing.T) {
	d := labtest.StartDockerd(t)
	image := d.BusyboxImage(t, "local/busybox:latest")
	d.Run(t, "--name", "subs-web", image, "sleep", "3600")
	d.Run(t, "--name", "subs-other", image, "sleep", "3600")
	t.Setenv("DOCKER_HOST", d.Host)
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) (url string, token func(scopes ...auth.Scope) string, audit func() []map[string]any, s *testServer)
	}{
		{"in-process", func(t *testing.T) (string, func(...auth.Scope) string, func() []map[string]any, *testServer) {
			s := startServer(t)
			return s.URL, func(sc ...auth.Scope) string { return s.token(t, "subscriber", sc...) }, func() []map[string]any { return s.auditRecords(t) }, s
		}},
		{"binary-sandbox-enforce", func(t *testing.T) (string, func(...auth.Scope) string, func() []map[string]any, *testServer) {
			p := runBinaryEnv(t, []string{"DOCKER_HOST=" + d.Host}, binPath, "--sandbox", "enforce")
			if !p.waitLog("sandbox") {
				t.Logf("stderr: %s", p.Stderr)
			}
			return p.URL, func(sc ...auth.Scope) string {
					var names []string
					for _, s := range sc {
						names = append(names, string(s))
					}
					return p.token(t, strings.Join(names, ","))
				}, func() []map[string]any {
					return readAuditLog(t, p.State+"/audit/audit.log")
				}, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, token, records, s := tc.start(t)
			ctx := context.Background()
			const web, other = "tailops://containers/subs-web/logs", "tailops://containers/subs-other/logs"
			sub, subUpdates := subscriber(t, url, token(auth.ScopeContainerRead))
			_, idleUpdates := subscriber(t, url, token(auth.ScopeContainerRead))
			outsider, outsiderUpdates := subscriber(t, url, token(auth.ScopeSystemRead))
			if init := sub.InitializeResult(); init.Capabilities.Resources == nil || !init.Capabilities.Resources.Subscribe {
				t.Fatalf("resources capability without subscribe: %+v", init.Capabilities.Resources)
			}
			if err := sub.Subscribe(ctx, &sdk.SubscribeParams{URI: web}); err != nil {
				t.Fatalf("subscribe %s: %v", web, err)
			}
			// The Go SDK's Subscribe on 2026-07-28 opens its
			// subscriptions/listen stream in the background and does not
			// report the server's refusal: the refusals are checked in the
			// audit log and by what arrives.
			for _, refused := range []struct {
				cs  *sdk.ClientSession
				uri string
			}{
				{outsider, web},                 // no container:read
				{sub, "tailops://host/status"},  // sends no updates
				{sub, "tailops://nothing/here"}, // unknown
			} {
				refused.cs.Subscribe(ctx, &sdk.SubscribeParams{URI: refused.uri})
			}
			cli := d.Client()
			timeout := 1
			if err := cli.ContainerStop(ctx, "subs-web", container.StopOptions{Timeout: &timeout}); err != nil {
				t.Fatal(err)
			}
			if err := cli.ContainerRestart(ctx, "subs-other", container.StopOptions{Timeout: &timeout}); err != nil {
				t.Fatal(err)
			}
			if !subUpdates.waitFor(web) {
				t.Fatalf("no update for %s after docker stop; got %v", web, subUpdates.got())
			}
			if err := cli.ContainerStart(ctx, "subs-web", container.StartOptions{}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second) // the start's events, and subs-other's
			if got := subUpdates.got(); slices.Contains(got, other) || len(got) < 2 {
				t.Errorf("the subscriber got %v: want several updates of %s (stop and start) and none of %s", got, web, other)
			}
			if got := idleUpdates.got(); len(got) != 0 {
				t.Errorf("a session that did not subscribe got %v", got)
			}
			if got := outsiderUpdates.got(); len(got) != 0 {
				t.Errorf("a caller refused for want of container:read got %v", got)
			}
			if err := sub.Unsubscribe(ctx, &sdk.UnsubscribeParams{URI: web}); err != nil {
				t.Fatal(err)
			}
			before := len(subUpdates.got())
			if err := cli.ContainerRestart(ctx, "subs-web", container.StopOptions{Timeout: &timeout}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			if got := subUpdates.got(); len(got) != before {
				t.Errorf("updates after unsubscribing: %v", got[before:])
			}
			// The same client subscribes again and is told again: its
			// Unsubscribe left its connection working (server.TestModernCancelIsNotForwarded).
			if s != nil {
				waitSubscriptions(t, s, 0, 0)
			}
			if err := sub.Subscribe(ctx, &sdk.SubscribeParams{URI: web}); err != nil {
				t.Fatalf("subscribe again: %v", err)
			}
			if s != nil {
				waitSubscriptions(t, s, 1, 1)
			} else {
				time.Sleep(500 * time.Millisecond) // the listen stream opens in the background
			}
			if err := cli.ContainerRestart(ctx, "subs-web", container.StopOptions{Timeout: &timeout}); err != nil {
				t.Fatal(err)
			}
			if !subUpdates.waitPast(before, 10*time.Second) {
				t.Errorf("no update after subscribing again on the same client")
			}
			if err := sub.Unsubscribe(ctx, &sdk.UnsubscribeParams{URI: web}); err != nil {
				t.Fatal(err)
			}
			if _, err := sub.ListTools(ctx, nil); err != nil {
				t.Errorf("the client after its second Unsubscribe: %v", err)
			}
			var decisions []string
			for _, r := range records() {
				if r["event"] == "resource_subscribe" {
					caller, _ := r["caller"].(map[string]any)
					decisions = append(decisions, r["resource"].(string)+" "+r["result"].(string)+" "+caller["agent"].(string))
				}
			}
			slices.Sort(decisions)
			want := []string{web + " denied", web + " success", web + " success", "tailops://host/status denied", "tailops://nothing/here denied"}
			for i := range decisions {
				decisions[i] = decisions[i][:strings.LastIndexByte(decisions[i], ' ')] // the agent differs per server
			}
			if !slices.Equal(decisions, want) {
				t.Errorf("resource_subscribe records: %q, want %q", decisions, want)
			}
			if s == nil {
				return
			}
			// A session's subscriptions end with it, and the watcher with
			// the last of them.
			waitSubscriptions(t, s, 0, 0)
			again, _ := subscriber(t, url, token(auth.ScopeContainerRead))
			if err := again.Subscribe(ctx, &sdk.SubscribeParams{URI: web}); err != nil {
				t.Fatal(err)
			}
			waitSubscriptions(t, s, 1, 1)
			again.Close()
			waitSubscriptions(t, s, 0, 0)
		})
	}
}

// readState reads a container's state resource as JSON.
func readState(t *testing.T, cs *sdk.ClientSession, uri string) (map[string]any, string) {
	t.Helper()
	res, err := cs.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: uri})
	if err != nil {
		t.Fatalf("read %s: %v", uri, err)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(res.Contents[0].Text), &st); err != nil {
		t.Fatalf("read %s: %v in %q", uri, err, res.Contents[0].Text)
	}
	return st, res.Contents[0].Text
}

// stateField returns a field of a state resource's "state" object.
func stateField(st map[string]any, name string) any {
	inner, _ := st["state"].(map[string]any)
	return inner[name]
}

// TestContainerStateResource: through the official Go SDK client against
// the in-process server beside a real dockerd,
// tailops://containers/{id}/state is offered as a template whose {id}
// completes with container names; a read is the container's state
// (status, health) from inspect_container and nothing else of its
// result (no environment, so no secret in it); a subscriber is told when
// the container stops and when its health changes (a failing health
// check that starts passing), and nothing while it does not change.
func TestContainerStateResource(t *testing.T) {
	d := labtest.StartDockerd(t)
	image := d.BusyboxImage(t, "local/busybox:latest")
	d.Run(t, "--name", "state-web", "-e", "PASSWORD=hunter2", image, "sleep", "3600")
	d.Run(t, "--name", "state-health", "--health-cmd", "test -e /tmp/ok", "--health-interval", "1s", "--health-retries", "1", image, "sleep", "3600")
	t.Setenv("DOCKER_HOST", d.Host)
	s := startServer(t)
	ctx := context.Background()
	cs, updates := subscriber(t, s.URL, s.token(t, "stater", auth.ScopeContainerRead))
	const web, health = "tailops://containers/state-web/state", "tailops://containers/state-health/state"

	ts, err := cs.ListResourceTemplates(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ts.ResourceTemplates, func(x *sdk.ResourceTemplate) bool {
		return x.URITemplate == "tailops://containers/{id}/state" && x.MIMEType == "application/json"
	}) {
		t.Errorf("templates lack tailops://containers/{id}/state (application/json): %+v", ts.ResourceTemplates)
	}
	c, err := cs.Complete(ctx, &sdk.CompleteParams{Ref: &sdk.CompleteReference{Type: "ref/resource", URI: "tailops://containers/{id}/state"},
		Argument: sdk.CompleteParamsArgument{Name: "id", Value: "state-"}})
	if err != nil || !slices.Equal(c.Completion.Values, []string{"state-health", "state-web"}) {
		t.Errorf("completing {id} of the state template with %q: %+v, %v", "state-", c, err)
	}

	st, text := readState(t, cs, web)
	if st["name"] != "state-web" || stateField(st, "status") != "running" || stateField(st, "running") != true {
		t.Errorf("state of a running container: %s", text)
	}
	for k := range st {
		if !slices.Contains([]string{"id", "name", "state", "restart_count"}, k) {
			t.Errorf("the state resource shows %q of inspect_container's result: %s", k, text)
		}
	}
	if strings.Contains(text, "hunter2") || strings.Contains(text, "PASSWORD") {
		t.Errorf("the state resource shows the environment: %s", text)
	}

	// Wait for the failing check to settle, so that the only health
	// change after subscribing is the one this test causes.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if st, _ := readState(t, cs, health); stateField(st, "health") == "unhealthy" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("state-health is not unhealthy: %v", st)
		}
	}
	for _, uri := range []string{web, health} {
		if err := cs.Subscribe(ctx, &sdk.SubscribeParams{URI: uri}); err != nil {
			t.Fatalf("subscribe %s: %v", uri, err)
		}
	}
	waitSubscriptions(t, s, 2, 1)
	time.Sleep(1500 * time.Millisecond) // a health check or so
	if got := updates.got(); len(got) != 0 {
		t.Errorf("updates while nothing changed: %v", got)
	}
	timeout := 1
	if err := d.Client().ContainerStop(ctx, "state-web", container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	if !updates.waitFor(web) {
		t.Fatalf("no update for %s after docker stop; got %v", web, updates.got())
	}
	if st, text := readState(t, cs, web); stateField(st, "status") != "exited" || stateField(st, "running") != false {
		t.Errorf("state after docker stop: %s", text)
	}
	if slices.Contains(updates.got(), health) {
		t.Fatalf("an update for %s before its health changed: %v", health, updates.got())
	}
	d.Docker(t, "exec", "state-health", "touch", "/tmp/ok") // exec events are not state changes
	if !updates.waitFor(health) {
		t.Fatalf("no update for %s after its health check started passing; got %v", health, updates.got())
	}
	if st, text := readState(t, cs, health); stateField(st, "health") != "healthy" {
		t.Errorf("state after the health check passed: %s", text)
	}
}

// TestContainerSubscriptionsSurviveDockerdRestart: the Docker event stream
// the watcher follows breaks when dockerd stops; while it is down the
// watcher retries (logged) and the subscriber is told nothing; once
// dockerd is back the subscriber is told its container may have changed
// (the daemon's shutdown stopped it, which no event said) and reads it
// exited; and a change after that is reported too, by the same watcher
// of the same subscription. In-process server, official Go SDK client,
// real dockerd restarted in its namespace.
func TestContainerSubscriptionsSurviveDockerdRestart(t *testing.T) {
	d := labtest.StartDockerd(t)
	image := d.BusyboxImage(t, "local/busybox:latest")
	d.Run(t, "--name", "rs-web", image, "sleep", "3600")
	t.Setenv("DOCKER_HOST", d.Host)
	s := startServer(t)
	ctx := context.Background()
	cs, updates := subscriber(t, s.URL, s.token(t, "restarts", auth.ScopeContainerRead))
	const uri = "tailops://containers/rs-web/state"
	if err := cs.Subscribe(ctx, &sdk.SubscribeParams{URI: uri}); err != nil {
		t.Fatal(err)
	}
	waitSubscriptions(t, s, 1, 1)
	time.Sleep(300 * time.Millisecond) // the watcher's stream is open
	d.Docker(t, "restart", "-t", "1", "rs-web")
	if !updates.waitFor(uri) {
		t.Fatalf("no update before dockerd stopped; got %v", updates.got())
	}

	if err := d.StopDaemon(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s.Logs.String(), "resource watcher stopped; starting it again"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the watcher did not notice dockerd stopping; logs:\n%s", s.Logs)
		}
	}
	down := len(updates.got())
	time.Sleep(2 * time.Second) // the watcher retries against no daemon
	if got := updates.got(); len(got) != down {
		t.Errorf("updates while dockerd was down: %v", got[down:])
	}
	if err := d.StartDaemon(); err != nil {
		t.Fatal(err)
	}
	if !updates.waitPast(down, 40*time.Second) {
		t.Fatalf("no update after dockerd came back; got %v; logs:\n%s", updates.got(), s.Logs)
	}
	if st, text := readState(t, cs, uri); stateField(st, "status") != "exited" {
		t.Errorf("state after dockerd came back: %s", text)
	}
	back := len(updates.got())
	d.Docker(t, "start", "rs-web")
	if !updates.waitPast(back, 10*time.Second) {
		t.Fatalf("no update for docker start after the reconnect; got %v", updates.got())
	}
	if got := updates.got(); slices.ContainsFunc(got, func(u string) bool { return u != uri }) {
		t.Errorf("updates for other URIs: %v", got)
	}
	if st, text := readState(t, cs, uri); stateField(st, "status") != "running" {
		t.Errorf("state after docker start: %s", text)
	}
	waitSubscriptions(t, s, 1, 1)
}

// TestContainerSubscriptionsTypeScriptClient: the official TypeScript SDK
// client (.ci/ts-client/subscribe.mjs), which speaks 2025-11-25 and so
// subscribes with resources/subscribe on its session, against the
// in-process server beside a real dockerd: it is told of its container's
// stop and reads the new state, is told nothing after unsubscribing, and
// a caller without container:read and a URI that sends no updates are
// refused — and each decision is a resource_subscribe record.
func TestContainerSubscriptionsTypeScriptClient(t *testing.T) {
	dir := filepath.Join(".ci", "ts-client")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk")); err != nil {
		t.Fatalf("the TypeScript SDK is not installed: run `npm ci` in %s (.ci/test.sh does): %v", dir, err)
	}
	d := labtest.StartDockerd(t)
	image := d.BusyboxImage(t, "local/busybox:latest")
	d.Run(t, "--name", "ts-web", image, "sleep", "3600")
	t.Setenv("DOCKER_HOST", d.Host)
	s := startServer(t)
	cmd := exec.Command("node", "subscribe.mjs", s.URL+"/mcp", s.token(t, "ts-subscriber", auth.ScopeContainerRead),
		s.token(t, "ts-outsider", auth.ScopeNetworkRead), d.Host, "ts-web")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	t.Logf("subscribe.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("subscribe.mjs: %v", err)
	}
	var decisions []string
	for _, r := range s.auditRecords(t) {
		if r["event"] == "resource_subscribe" {
			caller, _ := r["caller"].(map[string]any)
			decisions = append(decisions, fmt.Sprint(caller["agent"], " ", r["resource"], " ", r["result"]))
		}
	}
	slices.Sort(decisions)
	want := []string{"ts-outsider tailops://containers/ts-web/state denied", "ts-subscriber tailops://containers/ts-web/state success",
		"ts-subscriber tailops://host/status denied"}
	if !slices.Equal(decisions, want) {
		t.Errorf("resource_subscribe records: %q, want %q", decisions, want)
	}
	if uris, _ := s.in.srv.Subscriptions(); uris != 0 {
		t.Errorf("%d URIs still subscribed after the client unsubscribed and closed", uris)
	}
}

// TestLargeLogsAreALink: through the real server, a real dockerd and the
// official Go SDK client, get_container_logs' result over --inline-max
// (its default here) is a link to the logs view with the call's
// arguments in the query, whose read is the container's lines.
func TestLargeLogsAreALink(t *testing.T) {
	d := labtest.StartDockerd(t)
	image := d.BusyboxImage(t, "local/busybox:latest")
	d.Run(t, "--name", "chatty", image, "sh", "-c",
		`i=0; while [ $i -lt 8000 ]; do echo "line $i of a chatty container, padded to fill the logs"; i=$((i+1)); done; sleep 3600`)
	t.Setenv("DOCKER_HOST", d.Host)
	s := startServer(t)
	cs := sdkSession(t, s.URL, s.token(t, "logger", auth.ScopeContainerRead))
	ctx := t.Context()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(d.Docker(t, "logs", "--tail", "1", "chatty"), "line 7999"); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("chatty did not write its 8000 lines")
		}
	}
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_container_logs", Arguments: map[string]any{"container": "chatty", "tail": 10000, "max_bytes": 1 << 20}})
	if err != nil || res.IsError {
		t.Fatalf("get_container_logs: %v", err)
	}
	const uri = "tailops://containers/chatty/logs?tail=10000&max_bytes=1048576"
	link, ok := res.Content[len(res.Content)-1].(*sdk.ResourceLink)
	if !ok || link.URI != uri || link.Size == nil || *link.Size <= 256<<10 {
		t.Fatalf("want a link to %s of more than 256 KiB, got %d contents", uri, len(res.Content))
	}
	sc, _ := res.StructuredContent.(map[string]any)
	if lines, _ := sc["lines"].([]any); len(lines) != 0 || sc["link"] != uri || sc["container"] != "chatty" {
		t.Errorf("structured content: want no lines, the link and the rest, got %d lines, link %v", len(lines), sc["link"])
	}
	rr, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: link.URI})
	if err != nil {
		t.Fatal(err)
	}
	text := rr.Contents[0].Text
	if !strings.Contains(text, "line 0 of a chatty container") || !strings.Contains(text, "line 7999 of a chatty container") || int64(len(text)) != *link.Size {
		t.Errorf("the link's read: want all 8000 lines, %d bytes, got %d bytes", *link.Size, len(text))
	}
	// The template takes its parameters in its order only (mcp-go
	// matches the listed template).
	if _, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "tailops://containers/chatty/logs?max_bytes=1048576&tail=10"}); err == nil {
		t.Error("a query out of the template's order should not be found")
	}
}

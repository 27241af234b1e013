// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"net/http"
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
// unsubscribing nothing more arrives; and in-process, the subscriptions
// and the Docker event watcher are gone once the session ends.
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
			var decisions []string
			for _, r := range records() {
				if r["event"] == "resource_subscribe" {
					caller, _ := r["caller"].(map[string]any)
					decisions = append(decisions, r["resource"].(string)+" "+r["result"].(string)+" "+caller["agent"].(string))
				}
			}
			slices.Sort(decisions)
			want := []string{web + " denied", web + " success", "tailops://host/status denied", "tailops://nothing/here denied"}
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
			again, _ := subscriber(t, url, token(auth.ScopeContainerRead))
			if err := again.Subscribe(ctx, &sdk.SubscribeParams{URI: web}); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if uris, watchers := s.in.srv.Subscriptions(); uris == 1 && watchers == 1 {
					break
				} else if time.Now().After(deadline) {
					t.Fatalf("after subscribing: %d URIs, %d watchers", uris, watchers)
				}
			}
			again.Close()
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				uris, watchers := s.in.srv.Subscriptions()
				if uris == 0 && watchers == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after the session ended: %d URIs, %d watchers", uris, watchers)
				}
			}
		})
	}
}

// SPDX-License-Identifier: Apache-2.0

package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// watchedThings is a server whose resource test://things/{id} is a view
// of the tool thing (scope) that sends updates, and test://status one
// that sends none; and a prompt, plan.
func watchedThings(t *testing.T, scope auth.Scope, changes <-chan string) *chokeServer {
	t.Helper()
	return serveChoke(t, watchedConfig(scope, changes))
}

// watchedConfig is watchedThings' configuration.
func watchedConfig(scope auth.Scope, changes <-chan string) Config {
	return Config{
		Enabled: []tools.Spec{echoTool("thing", scope), readTool("status", auth.ScopeReadonly)},
		Prompts: []tools.PromptSpec{testPrompt("plan", auth.ScopeReadonly)},
		Views: []tools.ResourceView{
			{URI: "test://things/{id}", Name: "things", Description: "d", MIMEType: "text/plain", Tool: "thing",
				Args: func(v map[string]string) map[string]any { return map[string]any{"id": v["id"]} }, Watch: "thing", Key: "id"},
			{URI: "test://status", Name: "status", Description: "d", MIMEType: "text/plain", Tool: "status"},
		},
		Watchers: map[string]tools.Watcher{"thing": func(ctx context.Context, since time.Time, changed func(...string)) error {
			for {
				select {
				case k := <-changes:
					changed(k)
				case <-ctx.Done():
					return nil
				}
			}
		}},
	}
}

// subscribeRecords are the log's resource_subscribe records for uri.
func subscribeRecords(t *testing.T, cs *chokeServer, uri string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, r := range readAuditLog(t, cs.logPath) {
		if r["event"] == string(audit.EventResourceSubscribe) && r["resource"] == uri {
			recs = append(recs, r)
		}
	}
	return recs
}

// TestStdioSubscribeIsGated: over stdio, where no HTTP edge reads the
// requests, a resources/subscribe is decided and audited as a read of
// its URI too: a caller who may not read it is refused, holds nothing and
// is sent no update; one who may is subscribed, and both are recorded.
func TestStdioSubscribeIsGated(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scopes []auth.Scope
		allow  bool
	}{
		{"without the view's scope", []auth.Scope{auth.ScopeSystemRead}, false},
		{"with it", []auth.Scope{auth.ScopeAdmin}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changes := make(chan string, 1)
			cs := watchedThings(t, auth.ScopeAdmin, changes)
			init := mcp.InitializeRequest{}
			init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
			c := cs.clientWith(t, true, "local", tc.scopes, init)
			updates := make(chan string, 4)
			c.OnNotification(func(n mcp.JSONRPCNotification) {
				if n.Method == string(mcp.MethodNotificationResourceUpdated) {
					updates <- n.Method
				}
			})
			//lint:ignore SA1019 resources/subscribe, removed in 2026-07-28, is what a 2025-11-25 client sends
			err := c.Subscribe(t.Context(), mcp.SubscribeRequest{Params: mcp.SubscribeParams{URI: "test://things/web"}})
			if (err == nil) != tc.allow {
				t.Fatalf("subscribe: %v, want allowed %v", err, tc.allow)
			}
			if held, _ := cs.srv.Subscriptions(); held != map[bool]int{true: 1}[tc.allow] {
				t.Errorf("%d subscriptions held", held)
			}
			recs := subscribeRecords(t, cs, "test://things/web")
			want := map[bool]string{true: "success", false: "denied"}[tc.allow]
			if len(recs) != 1 || recs[0]["result"] != want {
				t.Fatalf("records %v, want one with result %s", recs, want)
			}
			changes <- "web"
			select {
			case <-updates:
				if !tc.allow {
					t.Error("a caller refused the subscription was sent an update")
				}
			case <-time.After(time.Second):
				if tc.allow {
					t.Error("no update for an allowed subscription")
				}
			}
		})
	}
}

// TestStdioListenIsGated: a 2026-07-28 subscriptions/listen over stdio is
// refused to a caller who may not read its resources, and recorded.
func TestStdioListenIsGated(t *testing.T) {
	cs := watchedThings(t, auth.ScopeAdmin, make(chan string))
	outR, inW := cs.stdio(t, &auth.Caller{Agent: "local", Method: auth.MethodStdio, Scopes: []auth.Scope{auth.ScopeSystemRead}})
	go io.WriteString(inW, `{"jsonrpc":"2.0","id":7,"method":"subscriptions/listen","params":{"_meta":{"`+mcp.MetaKeyProtocolVersion+`":"`+
		mcp.LATEST_PROTOCOL_VERSION+`","`+mcp.MetaKeyClientCapabilities+`":{}},"notifications":{"resourceSubscriptions":["test://things/web"]}}}`+"\n")
	line := make([]byte, 4096)
	n, err := outR.Read(line)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(line[:n]); !strings.Contains(got, `"error"`) || !strings.Contains(got, `"id":7`) {
		t.Errorf("listen answered %s, want a refusal", got)
	}
	if held, _ := cs.srv.Subscriptions(); held != 0 {
		t.Errorf("%d subscriptions held", held)
	}
	if recs := subscribeRecords(t, cs, "test://things/web"); len(recs) != 1 || recs[0]["result"] != "denied" {
		t.Errorf("records %v, want one refusal", recs)
	}
}

// TestRefusedListenRecordsNoSuccess: a listen refused for one of its URIs
// subscribes to none, and the records of the others say they were not
// subscribed, never success.
func TestRefusedListenRecordsNoSuccess(t *testing.T) {
	cs := watchedThings(t, auth.ScopeReadonly, make(chan string))
	tok, err := auth.MintHMAC(cs.secret, auth.Claims{Agent: "a", Scopes: []auth.Scope{auth.ScopeReadonly}, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	resp := modernRPC(t.Context(), t, cs, tok, 2, "subscriptions/listen",
		map[string]any{"notifications": map[string]any{"resourceSubscriptions": []string{"test://things/web", "test://status"}}}, true)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "sends no updates") {
		t.Errorf("listen answered %d %s, want test://status refused", resp.StatusCode, b)
	}
	if held, _ := cs.srv.Subscriptions(); held != 0 {
		t.Errorf("%d subscriptions held", held)
	}
	web := subscribeRecords(t, cs, "test://things/web")
	if len(web) != 1 || web[0]["result"] != "error" || web[0]["decision"] != "allowed" {
		t.Errorf("test://things/web's records %v, want one allowed, not subscribed (error)", web)
	}
	if st := subscribeRecords(t, cs, "test://status"); len(st) != 1 || st[0]["result"] != "denied" {
		t.Errorf("test://status's records %v, want one refusal", st)
	}
}

// TestRevokedSubscriberIsCutOff: a subscription lasts only as long as the
// token it was made with: once the token is revoked, the next update is
// not sent and the subscriber's subscriptions are dropped.
func TestRevokedSubscriberIsCutOff(t *testing.T) {
	changes := make(chan string, 1)
	cs := watchedThings(t, auth.ScopeReadonly, changes)
	c := listeningClient(t, cs, auth.Claims{Agent: "laptop", Scopes: []auth.Scope{auth.ScopeReadonly}, Expiry: time.Now().Add(time.Hour)})
	updates := subscribeWeb(t, c)
	changes <- "web"
	select {
	case <-updates:
	case <-time.After(5 * time.Second):
		t.Fatal("no update before the revocation")
	}
	cs.verifier.SetRevocations(auth.Revocations{Agents: []string{"laptop"}})
	wantCutOff(t, cs, changes, updates)
}

// subscribeWeb subscribes c to test://things/web and returns the updates
// it is sent.
func subscribeWeb(t *testing.T, c *client.Client) <-chan string {
	t.Helper()
	updates := make(chan string, 4)
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == string(mcp.MethodNotificationResourceUpdated) {
			updates <- n.Method
		}
	})
	//lint:ignore SA1019 resources/subscribe, removed in 2026-07-28, is what a 2025-11-25 client sends
	if err := c.Subscribe(t.Context(), mcp.SubscribeRequest{Params: mcp.SubscribeParams{URI: "test://things/web"}}); err != nil {
		t.Fatal(err)
	}
	return updates
}

// wantCutOff checks that a change is no longer sent to the subscription,
// which is no longer held.
func wantCutOff(t *testing.T, cs *chokeServer, changes chan<- string, updates <-chan string) {
	t.Helper()
	changes <- "web"
	select {
	case <-updates:
		t.Error("an update reached a subscription whose token no longer verifies")
	case <-time.After(time.Second):
	}
	if held, _ := cs.srv.Subscriptions(); held != 0 {
		t.Errorf("%d subscriptions held after the token stopped verifying", held)
	}
}

// TestUnknownReadsAreRecorded: a read of a URI no resource serves and a
// get of a prompt that does not exist leave a record each, over HTTP and
// over stdio, as a call of an unknown tool does: probing is visible in
// the audit log.
func TestUnknownReadsAreRecorded(t *testing.T) {
	cs := watchedThings(t, auth.ScopeReadonly, make(chan string))
	for _, stdio := range []bool{false, true} {
		c := cs.client(t, stdio, "prober", auth.ScopeReadonly)
		if _, err := c.ReadResource(t.Context(), mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: "test://nothing/here"}}); err == nil {
			t.Errorf("stdio %v: a read of an unknown URI succeeded", stdio)
		}
		if _, err := c.GetPrompt(t.Context(), mcp.GetPromptRequest{Params: mcp.GetPromptParams{Name: "no_such_prompt"}}); err == nil {
			t.Errorf("stdio %v: a get of an unknown prompt succeeded", stdio)
		}
	}
	var reads, gets int
	for _, r := range readAuditLog(t, cs.logPath) {
		switch {
		case r["resource"] == "test://nothing/here" && r["decision"] == "denied":
			reads++
		case r["prompt"] == "no_such_prompt" && r["decision"] == "denied":
			gets++
		}
	}
	if reads != 2 || gets != 2 {
		t.Errorf("records: %d reads of the unknown URI, %d gets of the unknown prompt; want 2 of each", reads, gets)
	}
}

// TestSubscribeGatedWhateverVersionItNames: a resources/subscribe naming
// protocol 2026-07-28 in a _meta mcp-go cannot decode (so that mcp-go
// serves it as an older request, where subscribe exists) is decided like
// any other: refused to a caller who may not read the resource, and
// recorded.
func TestSubscribeGatedWhateverVersionItNames(t *testing.T) {
	cs := watchedThings(t, auth.ScopeAdmin, make(chan string))
	outR, inW := cs.stdio(t, &auth.Caller{Agent: "local", Method: auth.MethodStdio, Scopes: []auth.Scope{auth.ScopeSystemRead}})
	go io.WriteString(inW, `{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"test://things/web","_meta":{"`+
		mcp.MetaKeyProtocolVersion+`":"`+mcp.LATEST_PROTOCOL_VERSION+`","x":1e400}}}`+"\n")
	line := make([]byte, 4096)
	n, err := outR.Read(line)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(line[:n]); !strings.Contains(got, `"error"`) {
		t.Errorf("subscribe answered %s, want a refusal", got)
	}
	if held, _ := cs.srv.Subscriptions(); held != 0 {
		t.Errorf("%d subscriptions held", held)
	}
	if recs := subscribeRecords(t, cs, "test://things/web"); len(recs) != 1 || recs[0]["result"] != "denied" {
		t.Errorf("records %v, want one refusal", recs)
	}
}

// listeningClient is an initialized 2025-11-25 client over HTTP, with a
// token of claims, whose session's GET stream carries the updates.
func listeningClient(t *testing.T, cs *chokeServer, claims auth.Claims) *client.Client {
	t.Helper()
	tok, err := auth.MintHMAC(cs.secret, claims)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transport.NewStreamableHTTP(cs.url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + tok}),
		//lint:ignore SA1019 the 2025-11-25 session stream is what the subscription is sent on
		transport.WithContinuousListening())
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr)
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	if _, err := c.Initialize(t.Context(), init); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestExpiredSubscriberIsCutOff: a subscription ends when the token it
// was made with expires: the next update is not sent.
func TestExpiredSubscriberIsCutOff(t *testing.T) {
	changes := make(chan string, 1)
	v, err := auth.NewVerifier(auth.Config{Secret: []byte("0123456789abcdef0123456789abcdef"), ClockSkew: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := watchedConfig(auth.ScopeReadonly, changes)
	cfg.Verifier = v
	cs := serveChoke(t, cfg)
	expiry := time.Now().Add(2 * time.Second)
	updates := subscribeWeb(t, listeningClient(t, cs, auth.Claims{Agent: "laptop", Scopes: []auth.Scope{auth.ScopeReadonly}, Expiry: expiry}))
	time.Sleep(time.Until(expiry) + 100*time.Millisecond)
	wantCutOff(t, cs, changes, updates)
}

// TestSubscribeRefusedWhenTheLogFails: an allowed subscription, whose
// record is written once mcp-go has made it, is refused up front when the
// audit log cannot take records, rather than answered as made and held
// without one.
func TestSubscribeRefusedWhenTheLogFails(t *testing.T) {
	cs := watchedThings(t, auth.ScopeReadonly, make(chan string))
	c := legacyStdio(t, cs)
	cs.srv.audit.Close()
	//lint:ignore SA1019 resources/subscribe, removed in 2026-07-28, is what a 2025-11-25 client sends
	err := c.Subscribe(t.Context(), mcp.SubscribeRequest{Params: mcp.SubscribeParams{URI: "test://things/web"}})
	if err == nil {
		t.Error("subscribed with no audit log")
	}
	if held, _ := cs.srv.Subscriptions(); held != 0 {
		t.Errorf("%d subscriptions held", held)
	}
}

// TestSubscriptionsPastTheMostAreRecordedAsRefused: a subscriber holds at
// most maxSubscriptions resources; one more is recorded as refused, never
// as a success.
func TestSubscriptionsPastTheMostAreRecordedAsRefused(t *testing.T) {
	cs := watchedThings(t, auth.ScopeReadonly, make(chan string))
	c := legacyStdio(t, cs)
	name := func(i int) string { return fmt.Sprintf("test://things/c-%c%c", 'a'+i/26, 'a'+i%26) }
	for i := range maxSubscriptions + 1 {
		//lint:ignore SA1019 resources/subscribe, removed in 2026-07-28, is what a 2025-11-25 client sends
		if err := c.Subscribe(t.Context(), mcp.SubscribeRequest{Params: mcp.SubscribeParams{URI: name(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if held, _ := cs.srv.Subscriptions(); held != maxSubscriptions {
		t.Errorf("%d subscriptions held, want %d", held, maxSubscriptions)
	}
	last := subscribeRecords(t, cs, name(maxSubscriptions))
	if len(last) != 1 || last[0]["result"] != "denied" {
		t.Errorf("the one past the most: records %v, want one refusal", last)
	}
}

// legacyStdio is a 2025-11-25 stdio client of cs with readonly, which
// subscribes with resources/subscribe.
func legacyStdio(t *testing.T, cs *chokeServer) *client.Client {
	t.Helper()
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	return cs.clientWith(t, true, "local", []auth.Scope{auth.ScopeReadonly}, init)
}

// TestModernSubscribeIsMcpGosToRefuse: a resources/subscribe whose _meta
// names 2026-07-28, which removed the method, is left to mcp-go, which
// answers 404 and method not found, as the protocol says (the conformance
// suite checks it), not refused as a subscription.
func TestModernSubscribeIsMcpGosToRefuse(t *testing.T) {
	cs := watchedThings(t, auth.ScopeAdmin, make(chan string))
	tok, err := auth.MintHMAC(cs.secret, auth.Claims{Agent: "a", Scopes: []auth.Scope{auth.ScopeSystemRead}, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	resp := modernRPC(t.Context(), t, cs, tok, 4, "resources/subscribe", map[string]any{"uri": "test://things/web"}, true)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "-32601") {
		t.Errorf("answered %d %s, want 404 and method not found", resp.StatusCode, b)
	}
	if held, _ := cs.srv.Subscriptions(); held != 0 {
		t.Errorf("%d subscriptions held", held)
	}
}

// TestListenRecordsEachDistinctURIOnce: a subscriptions/listen subscribes
// to, and records, each URI it lists once, however often it is listed;
// one listing more than maxSubscriptions distinct URIs is refused whole,
// naming the limit and the count, with one record saying how many it
// listed, not one per URI (a listen of 20,000 "x" wrote 20,000 records).
func TestListenRecordsEachDistinctURIOnce(t *testing.T) {
	thing := func(i int) string { return fmt.Sprintf("test://things/c-%d", i) }
	junk := func(i int) string { return fmt.Sprintf("x%d", i) }
	for _, tc := range []struct {
		name    string
		uris    []string
		want    string // in the answer
		tooMany bool
		held    int // subscriptions held, and records written when more than none
	}{
		{"one unknown URI 10,000 times", slices.Repeat([]string{"x"}, 10000), "unknown resource x", false, 0},
		{"10,000 distinct URIs", listOf(10000, junk), "lists 10000 resource URIs, more than 64 of them distinct", true, 0},
		{"65 distinct watched URIs", listOf(65, thing), "list at most 64 distinct URIs", true, 0},
		{"one watched URI 500 times", slices.Repeat([]string{"test://things/web"}, 500), mcp.MethodNotificationSubscriptionsAcknowledged, false, 1},
		{"64 watched URIs, each twice", append(listOf(64, thing), listOf(64, thing)...), mcp.MethodNotificationSubscriptionsAcknowledged, false, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := watchedThings(t, auth.ScopeReadonly, make(chan string))
			tok, err := auth.MintHMAC(cs.secret, auth.Claims{Agent: "a", Scopes: []auth.Scope{auth.ScopeReadonly}, Expiry: time.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			before := len(readAuditLog(t, cs.logPath))
			got := listenAnswer(t, cs, tok, tc.uris)
			if !strings.Contains(got, tc.want) || tc.tooMany && !strings.Contains(got, fmt.Sprint(mcp.INVALID_PARAMS)) {
				t.Errorf("listen answered %.300s, want %q", got, tc.want)
			}
			if held, _ := cs.srv.Subscriptions(); held != tc.held {
				t.Errorf("%d subscriptions held, want %d", held, tc.held)
			}
			recs := readAuditLog(t, cs.logPath)[before:]
			if len(recs) != max(tc.held, 1) {
				t.Fatalf("%d records, want %d", len(recs), max(tc.held, 1))
			}
			if tc.tooMany {
				wantTooManyRecord(t, recs[0], len(tc.uris))
			}
		})
	}
}

// listOf is the n URIs name gives for 0 to n-1.
func listOf(n int, name func(int) string) []string {
	uris := make([]string, n)
	for i := range uris {
		uris[i] = name(i)
	}
	return uris
}

// listenAnswer posts a 2026-07-28 subscriptions/listen of uris and returns
// the first line of its answer that is an error or the acknowledgement;
// the stream is closed when the test ends.
func listenAnswer(t *testing.T, cs *chokeServer, tok string, uris []string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	resp := modernRPC(ctx, t, cs, tok, 2, "subscriptions/listen",
		map[string]any{"notifications": map[string]any{"resourceSubscriptions": uris}}, true)
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, `"error"`) || strings.Contains(l, mcp.MethodNotificationSubscriptionsAcknowledged) {
			return l
		}
	}
	t.Fatalf("listen answered %d with neither an error nor an acknowledgement (%v)", resp.StatusCode, sc.Err())
	return ""
}

// wantTooManyRecord checks the one record of a listen refused for listing
// listed URIs: a refusal saying how many, naming only a few of them.
func wantTooManyRecord(t *testing.T, rec map[string]any, listed int) {
	t.Helper()
	detail, _ := rec["detail"].(map[string]any)
	first, _ := detail["first_uris"].([]any)
	if rec["event"] != string(audit.EventResourceSubscribe) || rec["result"] != "denied" ||
		detail["uris_listed"] != float64(listed) || len(first) == 0 || len(first) > subscriptionExcerpt {
		t.Errorf("record %v, want a resource_subscribe refusal of %d URIs naming at most %d", rec, listed, subscriptionExcerpt)
	}
}

// TestRecordSubscriptionsCountsDistinctURIs: past the gate too, a listen's
// URIs are recorded and returned once each, and a list of more than
// maxSubscriptions distinct ones (had mcp-go read the request otherwise
// than the edge) subscribes to none, with one record.
func TestRecordSubscriptionsCountsDistinctURIs(t *testing.T) {
	thing := func(i int) string { return fmt.Sprintf("test://things/c-%d", i) }
	for _, tc := range []struct {
		name    string
		uris    []string
		want    int // URIs returned
		records int
	}{
		{"one URI 500 times", slices.Repeat([]string{"test://things/web"}, 500), 1, 1},
		{"65 distinct URIs", listOf(65, thing), 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := watchedThings(t, auth.ScopeReadonly, make(chan string))
			ctx := auth.WithCaller(t.Context(), &auth.Caller{Agent: "a", Method: auth.MethodHMAC, Scopes: []auth.Scope{auth.ScopeReadonly}})
			before := len(readAuditLog(t, cs.logPath))
			if got := cs.srv.recordSubscriptions(ctx, "listen:1", tc.uris); len(got) != tc.want {
				t.Errorf("%d URIs to subscribe, want %d", len(got), tc.want)
			}
			if n := len(readAuditLog(t, cs.logPath)) - before; n != tc.records {
				t.Errorf("%d records, want %d", n, tc.records)
			}
		})
	}
}

// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tailnet"
	"github.com/tailops/tailops/tools"
)

// Resource subscriptions (resources/subscribe): a session subscribes to
// a resource view whose declaration names a Watcher (ResourceView.Watch)
// and is sent notifications/resources/updated for that URI when the
// watcher reports a change of the thing the URI names. Subscribing is
// authorized and audited as reading the URI (subscribeGate); the
// subscriptions live with the session and end with it.

// maxSubscriptions bounds the URIs one session may subscribe to, and the
// distinct URIs one request may list (tooManySubscriptions).
const maxSubscriptions = 64

// subscriptionExcerpt is how many URIs, each clipped to
// subscriptionExcerptBytes, the one record of a request refused for
// listing too many names (tooManySubscriptions).
const (
	subscriptionExcerpt      = 3
	subscriptionExcerptBytes = 128
)

// watchBackoff bounds the wait before a failed watcher is started again.
var watchBackoff = [2]time.Duration{500 * time.Millisecond, 30 * time.Second}

// subscription is one subscribed URI: the watcher it depends on and the
// key a change must carry.
type subscription struct {
	watch, key string
}

// subscriptions are the sessions' subscriptions and the watchers running
// for them: one per watcher name, started on the first subscription that
// needs it and stopped when none remains.
type subscriptions struct {
	watchers map[string]tools.Watcher
	streams  atomic.Uint64 // numbers the subscriptions/listen streams

	mu      sync.Mutex
	session map[string]map[string]subscription // subscriber → URI → subscription
	send    map[string]func(uri string) error  // subscriber → how to tell it of an update
	running map[string]context.CancelFunc      // watcher name → its stop
}

// subscribable returns the watcher and key uri depends on; false when no
// view that can be subscribed to serves uri.
func (s *Server) subscribable(uri string) (subscription, bool) {
	for _, v := range s.views {
		if vars, _, ok := v.match(uri); ok && v.spec.Watch != "" && s.subs.watchers[v.spec.Watch] != nil {
			return subscription{watch: v.spec.Watch, key: vars[v.spec.Key]}, true
		}
	}
	return subscription{}, false
}

// watchable lists the URIs (templates) of the views that send updates.
func (s *Server) watchable() []string {
	var uris []string
	for _, v := range s.views {
		if v.spec.Watch != "" && s.subs.watchers[v.spec.Watch] != nil {
			uris = append(uris, v.spec.URI)
		}
	}
	return uris
}

// subscribeGate decides and records a resources/subscribe, or each URI of
// a 2026-07-28 subscriptions/listen, before mcp-go acknowledges it:
// refused, as a read of the URI would be, for a caller without the scope
// (403 insufficient_scope) or for a URI that is unknown or has no updates
// (a JSON-RPC error). A listen with one refused URI is refused whole, as
// is one listing more than maxSubscriptions distinct URIs (invalid params,
// one record for the request); a URI listed again counts once.
//
// A 2026-07-28 subscriptions/listen stream counts as a session of its
// caller's while it is open (sessions.openListen): past the session caps
// it is refused, with the same JSON-RPC error as an initialize.
//
// A 2026-07-28 notifications/cancelled, which is how the Go SDK ends a
// listen stream on Unsubscribe besides closing it, is answered here and
// goes no further (modernCancel).
func (s *Server) subscribeGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := envelopeFrom(r.Context())
		if modernCancel(r, e) {
			s.log.Debug("ignored a notifications/cancelled: on 2026-07-28 closing the request's stream cancels it")
			w.WriteHeader(http.StatusAccepted)
			return
		}
		var uris []string
		if e != nil {
			uris = subscriptionURIs(e)
		}
		if ref := s.gateSubscriptions(r.Context(), auth.CallerFrom(r.Context()), uris); ref != nil {
			switch {
			case ref.missing != "":
				s.challenge(w, http.StatusForbidden, "insufficient_scope", ref.why, ref.missing)
			case ref.auditFailed:
				rpcError(w, e.ID, mcp.INTERNAL_ERROR, auditRefusal)
			case ref.tooMany:
				rpcError(w, e.ID, mcp.INVALID_PARAMS, ref.reason)
			default:
				rpcError(w, e.ID, mcp.RESOURCE_NOT_FOUND, ref.reason)
			}
			return
		}
		if e != nil && e.ok && e.Method == mcp.MethodSubscriptionsListen {
			c := auth.CallerFrom(r.Context())
			release, refusal := s.sessions.openListen(c)
			if refusal != "" {
				s.auditSessionRefusal(r.Context(), c, refusal)
				rpcError(w, e.ID, sessionLimitCode, refusal)
				return
			}
			defer release()
		}
		next.ServeHTTP(w, r)
	})
}

// subscriptionURIs are the resources a request subscribes to: a
// resources/subscribe's URI (unless its _meta names 2026-07-28 or later
// as mcp-go reads it — protocolVersion — which then answers that the
// method was removed; a version only in the HTTP header does not count,
// as mcp-go does not go by it), a subscriptions/listen's resource
// subscriptions; none for any other request or one the edge could not
// read.
func subscriptionURIs(e *envelope) []string {
	switch {
	case !e.ok:
	case e.Method == mcp.MethodResourcesSubscribe:
		if mcp.IsModernProtocol(e.Params.Meta.protocolVersion()) {
			return nil
		}
		return []string{e.Params.URI}
	case e.Method == mcp.MethodSubscriptionsListen:
		return e.Params.Notifications.ResourceSubscriptions
	}
	return nil
}

// subRefusal is why gateSubscriptions refused a request.
type subRefusal struct {
	missing     auth.Scope // the scope the caller lacks; "" when none
	why         string     // the decision's reason, for a missing scope's challenge
	reason      string     // the audit record's reason
	auditFailed bool       // a record could not be written
	tooMany     bool       // more distinct URIs than one request may list
}

// distinctURIs returns uris without repeats, in the order first listed,
// and true; false, with only the first maxSubscriptions of them, when more
// than maxSubscriptions are distinct (it stops looking there, so that a
// request of a million URIs costs no map of a million).
func distinctURIs(uris []string) ([]string, bool) {
	seen := make(map[string]bool, min(len(uris), maxSubscriptions))
	var out []string
	for _, uri := range uris {
		if seen[uri] {
			continue
		}
		if len(out) == maxSubscriptions {
			return out, false
		}
		seen[uri] = true
		out = append(out, uri)
	}
	return out, true
}

// tooManySubscriptions writes the one record of a subscription request
// refused whole for listing more than maxSubscriptions distinct URIs: how
// many it listed and the first few (first), not every one.
func (s *Server) tooManySubscriptions(ctx context.Context, c *auth.Caller, listed int, first []string) *subRefusal {
	reason := fmt.Sprintf("subscription refused: the request lists %d resource URIs, more than %d of them distinct; "+
		"a subscriber holds at most %d resources, so list at most %d distinct URIs (a URI listed again counts once)",
		listed, maxSubscriptions, maxSubscriptions, maxSubscriptions)
	excerpt := make([]string, 0, subscriptionExcerpt)
	for _, uri := range first[:min(len(first), subscriptionExcerpt)] {
		excerpt = append(excerpt, clip(uri, subscriptionExcerptBytes))
	}
	rec := refusal(audit.EventResourceSubscribe, c, reason)
	rec.Detail = map[string]any{"uris_listed": listed, "first_uris": excerpt}
	ref := &subRefusal{reason: reason, tooMany: true}
	if s.write(ctx, rec) != nil {
		ref.auditFailed = true
	}
	return ref
}

// subscribeDecision decides one URI of a subscription as a read of it,
// with its resource_subscribe record (a refusal's, or one to complete).
func (s *Server) subscribeDecision(c *auth.Caller, uri string) (verdict, *audit.Record) {
	v := s.decide(c, KindResource, uri)
	rec := request(KindResource, uri, nil, c, v)
	rec.Event = audit.EventResourceSubscribe
	if _, ok := s.subscribable(uri); v.Allowed && !ok {
		v.Allowed = false
		rec = deny(rec, fmt.Sprintf("resource %s sends no updates: subscribe to one of %s", uri, strings.Join(s.watchable(), ", ")), nil)
	}
	return v, rec
}

// gateSubscriptions decides a subscription request's every distinct URI
// before mcp-go handles it: nil when all are allowed (their records are
// written once mcp-go has made the subscription: recordSubscriptions).
// When one is refused, none is subscribed: every URI is recorded here,
// once, the refused ones as refusals, the others as not subscribed. A
// request listing more than maxSubscriptions distinct URIs is refused
// whole, with one record (tooManySubscriptions).
func (s *Server) gateSubscriptions(ctx context.Context, c *auth.Caller, listed []string) *subRefusal {
	uris, ok := distinctURIs(listed)
	if !ok {
		return s.tooManySubscriptions(ctx, c, len(listed), uris)
	}
	recs := make([]*audit.Record, len(uris))
	allowed := make([]bool, len(uris))
	var ref *subRefusal
	for i, uri := range uris {
		v, rec := s.subscribeDecision(c, uri)
		if !v.Allowed && ref == nil {
			ref = &subRefusal{missing: v.Missing, why: v.Reason, reason: rec.Reason}
		}
		recs[i], allowed[i] = rec, v.Allowed
	}
	if ref == nil {
		// Allowed: recorded once mcp-go has made them, in its hooks, which
		// cannot refuse; a log that cannot take records refuses here.
		if s.audit != nil && len(uris) > 0 && s.audit.Healthy() != nil {
			return &subRefusal{auditFailed: true}
		}
		return nil
	}
	failed := false
	for i, rec := range recs {
		if allowed[i] {
			rec.Result, rec.Error = audit.ResultError, "not subscribed: another resource of the same request was refused"
		}
		if s.write(ctx, rec) != nil {
			failed = true
		}
	}
	if failed && ref.missing == "" {
		ref.auditFailed = true
	}
	return ref
}

// recordSubscriptions writes the records of the subscriptions mcp-go
// accepted for subscriber and returns the URIs to subscribe: each is
// decided again (a reload since the gate may refuse it) and, past what a
// subscriber may hold (maxSubscriptions), refused; a success is recorded
// only for a URI returned. None is returned when a record cannot be
// written (the gate checked the log could take them; failing since, the
// request is answered as made, holds nothing, and the server log says so).
// A URI listed again is recorded and returned once; more than
// maxSubscriptions distinct ones, which the gate refused unless mcp-go read
// the request otherwise, are refused with one record, and none returned.
func (s *Server) recordSubscriptions(ctx context.Context, subscriber string, listed []string) []string {
	c := auth.CallerFrom(ctx)
	uris, fits := distinctURIs(listed)
	if !fits {
		s.tooManySubscriptions(ctx, c, len(listed), uris)
		s.log.Error("subscriptions not made: the request lists too many", "subscriber", subscriber, "listed", len(listed))
		return nil
	}
	s.subs.mu.Lock()
	held := maps.Clone(s.subs.session[subscriber])
	s.subs.mu.Unlock()
	free := maxSubscriptions - len(held)
	var ok []string
	for _, uri := range uris {
		v, rec := s.subscribeDecision(c, uri)
		_, again := held[uri]
		switch {
		case !v.Allowed:
		case !again && free <= 0:
			rec = deny(rec, fmt.Sprintf("not subscribed: a subscriber holds at most %d resources", maxSubscriptions), nil)
		default:
			rec.Result = audit.ResultSuccess
			if !again {
				free--
			}
		}
		if err := s.write(ctx, rec); err != nil {
			s.log.Error("subscription not made: its record could not be written", "uri", uri, "error", err)
			return nil
		}
		if rec.Result == audit.ResultSuccess {
			ok = append(ok, uri)
		}
	}
	return ok
}

// stdioKey marks the context of a request that came over stdio.
type stdioKey struct{}

// stdioSubscribeGate is subscribeGate for stdio, where no HTTP edge reads
// the requests: mcp-go's request hook, refusing a subscription the caller
// may not have (the message is the request's raw JSON).
func (s *Server) stdioSubscribeGate(ctx context.Context, _ any, message any) error {
	if ctx.Value(stdioKey{}) == nil {
		return nil
	}
	raw, ok := message.(json.RawMessage)
	if !ok {
		return nil
	}
	e := &envelope{}
	err := json.Unmarshal(raw, e)
	e.ok = err == nil
	if method, _, gated := gatedMethod(raw); !e.ok && gated {
		return fmt.Errorf("invalid %s request: %v", method, err)
	}
	ref := s.gateSubscriptions(ctx, auth.CallerFrom(ctx), subscriptionURIs(e))
	switch {
	case ref == nil:
		return nil
	case ref.auditFailed:
		return errors.New(auditRefusal)
	case ref.missing != "":
		return errors.New(ref.why)
	}
	return errors.New(ref.reason)
}

// rpcError answers a JSON-RPC request with an error.
func rpcError(w http.ResponseWriter, id json.RawMessage, code int, msg string) {
	rpcErrorStatus(w, http.StatusOK, id, code, msg)
}

// rpcErrorStatus answers a JSON-RPC request with an error, with HTTP
// status status.
func rpcErrorStatus(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{"code": code, "message": msg}})
}

// subscribed records a resources/subscribe mcp-go acknowledged (the
// request passed subscribeGate): the subscriber is the session.
func (s *Server) subscribed(ctx context.Context, _ any, req *mcp.SubscribeRequest, _ *mcp.EmptyResult) {
	sess := mcpserver.ClientSessionFromContext(ctx)
	if sess == nil {
		return
	}
	id := sess.SessionID()
	uris := s.recordSubscriptions(ctx, id, []string{req.Params.URI})
	if len(uris) == 0 {
		return
	}
	valid := s.stillValid(ctx, req.Header)
	s.add(id, func(uri string) error {
		if err := s.revalidate(id, valid); err != nil {
			return err
		}
		return s.mcp.SendNotificationToSpecificClient(id, mcp.MethodNotificationResourceUpdated, map[string]any{"uri": uri})
	}, uris...)
}

// stillValid returns a check, run before each update, that the caller a
// subscription was made by still is who it was: the bearer token it was
// made with still verifies — not expired, not revoked, its key still
// trusted — and a tailnet caller's node is still the same peer, admitted,
// with every scope it had (its grant or the allow-list not narrowed since).
// Nil for a caller with neither (stdio); a call forwarded by a fleet
// entry node is not looked up again (its address is the entry's).
func (s *Server) stillValid(ctx context.Context, h http.Header) func() error {
	c := auth.CallerFrom(ctx)
	if c == nil {
		return nil
	}
	var checks []func() error
	if tok := bearerIn(h); s.verifier != nil && tok != "" && (c.Method == auth.MethodHMAC || c.Method == auth.MethodJWT) {
		checks = append(checks, func() error {
			_, err := s.verifier.Verify(tok)
			return err
		})
	}
	if s.tailnet != nil && c.Tailscale != nil && c.Via == nil && c.RemoteAddr != "" && s.authMode != tailnet.AuthToken {
		checks = append(checks, func() error { return s.samePeer(c) })
	}
	if len(checks) == 0 {
		return nil
	}
	return func() error {
		for _, check := range checks {
			if err := check(); err != nil {
				return err
			}
		}
		return nil
	}
}

// samePeer looks c's tailnet address up again: an error unless it is
// still c's node, admitted, with grants that give every scope c had.
func (s *Server) samePeer(c *auth.Caller) error {
	p, err := s.tailnet.Identify(context.Background(), c.RemoteAddr)
	switch {
	case err != nil:
		return err
	case p.Identity.NodeID != c.Tailscale.NodeID:
		return fmt.Errorf("the tailnet address %s is now another node's", c.RemoteAddr)
	}
	if reason := p.Refusal(s.authMode); reason != "" {
		return errors.New(reason)
	}
	now := tailnet.Caller(tailnet.AuthTailscale, p, nil)
	for _, sc := range c.Scopes {
		if !now.Allows(sc) {
			return fmt.Errorf("tailnet peer %s no longer holds scope %s", p.Name(), sc)
		}
	}
	return nil
}

// revalidate runs a subscriber's token check before an update is sent:
// when it fails, the subscriber's subscriptions are dropped and nothing
// is sent.
func (s *Server) revalidate(subscriber string, valid func() error) error {
	if valid == nil {
		return nil
	}
	if err := valid(); err != nil {
		s.drop(subscriber, "")
		return fmt.Errorf("the subscriber's subscriptions are dropped: %w", err)
	}
	return nil
}

// listening records a 2026-07-28 subscriptions/listen (it passed
// subscribeGate): the subscriber is the request's stream, and its
// subscriptions end when the stream does.
func (s *Server) listening(ctx context.Context, id any, req *mcp.SubscriptionsListenRequest) {
	if len(req.Params.Notifications.ResourceSubscriptions) == 0 || mcpserver.ClientSessionFromContext(ctx) == nil {
		return
	}
	key := fmt.Sprintf("listen:%d", s.subs.streams.Add(1))
	uris := s.recordSubscriptions(ctx, key, req.Params.Notifications.ResourceSubscriptions)
	if len(uris) == 0 {
		return
	}
	valid := s.stillValid(ctx, req.Header)
	s.add(key, func(uri string) error {
		if err := s.revalidate(key, valid); err != nil {
			return err
		}
		return s.mcp.SendNotificationToClient(ctx, mcp.MethodNotificationResourceUpdated, map[string]any{"uri": uri})
	}, uris...)
	go func() {
		<-ctx.Done()
		s.drop(key, "")
	}()
}

// add records subscriber's subscriptions to uris and starts the watchers
// they need; past maxSubscriptions a URI is dropped with a warning.
func (s *Server) add(subscriber string, send func(uri string) error, uris ...string) {
	s.subs.mu.Lock()
	defer s.subs.mu.Unlock()
	m := s.subs.session[subscriber]
	if m == nil {
		m = map[string]subscription{}
		s.subs.session[subscriber] = m
	}
	// The latest subscription's: its caller's token is the one checked.
	s.subs.send[subscriber] = send
	for _, uri := range uris {
		sub, ok := s.subscribable(uri)
		if !ok {
			continue
		}
		if _, held := m[uri]; !held && len(m) >= maxSubscriptions {
			s.log.Warn("subscription dropped: the subscriber holds the most it may", "subscriber", subscriber, "uri", uri, "max", maxSubscriptions)
			continue
		}
		m[uri] = sub
		if s.subs.running[sub.watch] == nil {
			wctx, cancel := context.WithCancel(context.Background())
			s.subs.running[sub.watch] = cancel
			go s.watch(wctx, sub.watch)
		}
	}
	if len(m) == 0 {
		delete(s.subs.session, subscriber)
		delete(s.subs.send, subscriber)
	}
}

// unsubscribed drops a session's subscription.
func (s *Server) unsubscribed(ctx context.Context, _ any, req *mcp.UnsubscribeRequest, _ *mcp.EmptyResult) {
	if sess := mcpserver.ClientSessionFromContext(ctx); sess != nil {
		s.drop(sess.SessionID(), req.Params.URI)
	}
}

// sessionEnded drops every subscription of an ended session.
func (s *Server) sessionEnded(_ context.Context, sess mcpserver.ClientSession) {
	s.drop(sess.SessionID(), "")
}

// drop removes a session's subscription to uri (all of them when uri is
// empty) and stops the watchers nothing depends on any more.
func (s *Server) drop(session, uri string) {
	s.subs.mu.Lock()
	defer s.subs.mu.Unlock()
	if m := s.subs.session[session]; m != nil {
		delete(m, uri)
		if uri == "" || len(m) == 0 {
			delete(s.subs.session, session)
			delete(s.subs.send, session)
		}
	}
	used := map[string]bool{}
	for _, m := range s.subs.session {
		for _, sub := range m {
			used[sub.watch] = true
		}
	}
	for name, cancel := range s.subs.running {
		if !used[name] {
			cancel()
			delete(s.subs.running, name)
		}
	}
}

// Subscriptions returns how many URIs are subscribed and how many
// watchers run, over all sessions.
func (s *Server) Subscriptions() (uris, watchers int) {
	s.subs.mu.Lock()
	defer s.subs.mu.Unlock()
	for _, m := range s.subs.session {
		uris += len(m)
	}
	return uris, len(s.subs.running)
}

// watch runs the watcher name until ctx ends, starting it again with a
// growing backoff when it fails, and notifies the subscribers of each
// change. A watcher started again is asked for the changes since its
// source failed (tools.Watcher); one that failed before reporting
// anything may never have reached its source, so it is asked again from
// the earlier failure.
func (s *Server) watch(ctx context.Context, name string) {
	wait := watchBackoff[0]
	var since time.Time
	for ctx.Err() == nil {
		start := time.Now()
		var reported atomic.Bool
		err := s.subs.watchers[name](ctx, since, func(keys ...string) {
			reported.Store(true)
			s.notify(name, keys)
		})
		if ctx.Err() != nil {
			return
		}
		if reported.Load() || since.IsZero() {
			since = time.Now()
		}
		if time.Since(start) > watchBackoff[1] {
			wait = watchBackoff[0]
		}
		s.log.Warn("resource watcher stopped; starting it again", "watcher", name, "in", wait, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, watchBackoff[1])
	}
}

// notify sends notifications/resources/updated to each subscriber
// (session or listen stream) subscribed to a URI of watcher name whose
// key matches keys (a name, or a prefix of an id); to every one of them
// when keys is empty (anything may have changed).
func (s *Server) notify(name string, keys []string) {
	type target struct {
		subscriber, uri string
		send            func(string) error
	}
	var to []target
	s.subs.mu.Lock()
	for subscriber, m := range s.subs.session {
		for uri, sub := range m {
			if sub.watch == name && (len(keys) == 0 || matchesKey(sub.key, keys)) {
				to = append(to, target{subscriber, uri, s.subs.send[subscriber]})
			}
		}
	}
	s.subs.mu.Unlock()
	for _, t := range to {
		if err := t.send(t.uri); err != nil {
			s.log.Warn("resource update not sent", "subscriber", t.subscriber, "uri", t.uri, "error", err)
		}
	}
}

// matchesKey reports whether a subscription's key names one of keys:
// equal to it, or a prefix of it (a short container id).
func matchesKey(key string, keys []string) bool {
	for _, k := range keys {
		if k != "" && (k == key || strings.TrimPrefix(key, "/") == k || (len(key) >= 12 && strings.HasPrefix(k, key))) {
			return true
		}
	}
	return false
}

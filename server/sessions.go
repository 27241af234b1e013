// SPDX-License-Identifier: Apache-2.0

package server

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
)

// MCP sessions exist on the streamable HTTP transport's protocol
// revisions before 2026-07-28: initialize opens one, the server hands
// back its id (Mcp-Session-Id), and mcp-go keeps state for it until it
// ends. TailOps bounds them: a session belongs to the caller that opened
// it, ends on DELETE or after an idle timeout, and there are caps per
// caller and in total past which initialize is refused. mcp-go does the
// transport and keeps the idle clock: it ends a session on DELETE and,
// with WithSessionIdleTTL, once it has been idle that long (a request, or
// a heartbeat on its open event stream, is activity), telling this table
// through Terminate. What mcp-go lacks is here: who owns each session,
// the caps, and the answers the transport's spec asks for (400 without an
// id, 404 for an id that is not, or no longer, a session of this caller).
// Protocol 2026-07-28 has no sessions and passes through.

// Session defaults: a zero SessionLimits field means these.
const (
	DefaultSessionIdleTimeout   = 5 * time.Minute
	DefaultMaxSessions          = 1024
	DefaultMaxSessionsPerCaller = 32
)

// sessionLimitCode is the JSON-RPC error code of an initialize refused
// past a session cap (an implementation-defined server error).
const sessionLimitCode = -32000

// SessionLimits bound the MCP sessions of the streamable HTTP transport.
type SessionLimits struct {
	// IdleTimeout ends a session that has had no request for this long.
	IdleTimeout time.Duration
	// Max is how many sessions may be open in total.
	Max int
	// MaxPerCaller is how many sessions one caller may have open: one
	// token, or one tailnet node for callers the tailnet identifies.
	MaxPerCaller int
}

// withDefaults returns l with its zero fields set to the defaults.
func (l SessionLimits) withDefaults() SessionLimits {
	l.IdleTimeout = cmp.Or(l.IdleTimeout, DefaultSessionIdleTimeout)
	l.Max = cmp.Or(l.Max, DefaultMaxSessions)
	l.MaxPerCaller = cmp.Or(l.MaxPerCaller, DefaultMaxSessionsPerCaller)
	return l
}

// sessions is the table of open MCP sessions. It is mcp-go's
// SessionIdManagerResolver: the manager it resolves for a request knows
// the request's caller.
type sessions struct {
	limits SessionLimits

	mu      sync.Mutex
	byID    map[string]*sessionEntry
	held    map[string]int // open sessions and listen streams per quota key
	listens int            // open 2026-07-28 subscriptions/listen streams
}

// sessionEntry is one open (or, while its initialize runs, reserved)
// session.
type sessionEntry struct {
	owner, quota string // see sessionOwner
	handedOut    bool   // mcp-go took the id for the initialize it answers
	streaming    bool   // its event stream (GET /mcp) is open
}

var _ mcpserver.SessionIdManagerResolver = (*sessions)(nil)

func newSessions(l SessionLimits) *sessions {
	return &sessions{limits: l.withDefaults(), byID: map[string]*sessionEntry{}, held: map[string]int{}}
}

// sessionOwner names who a session opened by c belongs to — every part of
// c's identity, its tailnet node and its token — and the quota key it
// counts against: the node for a caller the tailnet identifies, else the
// token (its id; the agent for tokens without one).
func sessionOwner(c *auth.Caller) (owner, quota string) {
	if c == nil {
		return "nobody", "nobody"
	}
	var node, token string
	if c.Tailscale != nil {
		node = "node " + cmp.Or(c.Tailscale.NodeID, c.Tailscale.NodeName)
	}
	switch {
	case c.Method == auth.MethodTailscale: // no token
	case c.TokenID != "":
		token = "token " + c.TokenID
	default:
		token = "agent " + string(c.Method) + " " + c.Agent
	}
	switch {
	case node == "":
		return token, token
	case token == "":
		return node, node
	}
	return node + " " + token, node
}

// count is how many sessions are open or reserved.
func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// open reserves a new session for c, or says why it may not have one.
func (s *sessions) open(c *auth.Caller) (id, refusal string) {
	owner, quota := sessionOwner(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.full(quota) {
		return "", s.refusal(quota)
	}
	id = rand.Text() // 26 base32 characters: 130 random bits
	s.byID[id] = &sessionEntry{owner: owner, quota: quota}
	s.held[quota]++
	return id, ""
}

// full reports whether quota, or the server, holds as many sessions and
// listen streams as it may; s.mu is held.
func (s *sessions) full(quota string) bool {
	return s.held[quota] >= s.limits.MaxPerCaller || len(s.byID)+s.listens >= s.limits.Max
}

// refusal says why quota may open no session, and what to do; s.mu is held.
func (s *sessions) refusal(quota string) string {
	what := fmt.Sprintf("or wait until idle ones end, after %s without a request (--session-idle-timeout)", s.limits.IdleTimeout)
	end := "end sessions you no longer use (clients send DELETE /mcp with the session's Mcp-Session-Id when they close) " +
		"and close subscriptions/listen streams you no longer read, "
	if n := s.held[quota]; n >= s.limits.MaxPerCaller {
		return fmt.Sprintf("too many open MCP sessions and listen streams for this caller: %d of %d (--max-sessions-per-caller); %s%s",
			n, s.limits.MaxPerCaller, end, what)
	}
	return fmt.Sprintf("too many open MCP sessions and listen streams on this server: %d of %d (--max-sessions); %s%s, or ask the operator to raise --max-sessions",
		len(s.byID)+s.listens, s.limits.Max, end, what)
}

// openListen takes a place for a 2026-07-28 subscriptions/listen stream
// of c, which counts as a session of c's while it is open, or says why
// it may not have one; release gives the place back.
func (s *sessions) openListen(c *auth.Caller) (release func(), refusal string) {
	_, quota := sessionOwner(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.full(quota) {
		return nil, s.refusal(quota)
	}
	s.held[quota]++
	s.listens++
	return sync.OnceFunc(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.listens--
		if s.held[quota]--; s.held[quota] <= 0 {
			delete(s.held, quota)
		}
	}), ""
}

// forget removes session id; s.mu is held.
func (s *sessions) forget(id string) {
	e := s.byID[id]
	if e == nil {
		return
	}
	delete(s.byID, id)
	if s.held[e.quota]--; s.held[e.quota] <= 0 {
		delete(s.held, e.quota)
	}
}

// handOut marks a reserved id as taken by mcp-go; false if it is not
// reserved (any more).
func (s *sessions) handOut(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID[id]
	if e == nil {
		return false
	}
	e.handedOut = true
	return true
}

// releaseUnused forgets a reserved id that mcp-go did not take: its
// initialize was refused before a session was made.
func (s *sessions) releaseUnused(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.byID[id]; e != nil && !e.handedOut {
		s.forget(id)
	}
}

// sessionState is what the table says about a session id and a caller.
type sessionState int

const (
	sessionUnknown sessionState = iota // never opened, or ended
	sessionLive                        // open, and the caller's
	sessionForeign                     // open, and another caller's
)

// lookup says what session id is to owner.
func (s *sessions) lookup(id, owner string) sessionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.find(id, owner, false)
}

// openStream marks session id's event stream open. It is false when one
// is open already: mcp-go would open any number, each a goroutine and a
// connection held for as long as the client likes. release marks it
// closed.
func (s *sessions) openStream(id string) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID[id]
	switch {
	case e == nil:
		return func() {}, true // ended meanwhile: mcp-go answers 404
	case e.streaming:
		return nil, false
	}
	e.streaming = true
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		e.streaming = false
	}, true
}

// end ends session id if it is owner's, or anyone's when any is set.
func (s *sessions) end(id, owner string, any bool) sessionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.find(id, owner, any)
	if st == sessionLive {
		s.forget(id)
	}
	return st
}

// find says what session id is to owner (to anyone when any is set);
// s.mu is held.
func (s *sessions) find(id, owner string, any bool) sessionState {
	e := s.byID[id]
	switch {
	case e == nil:
		return sessionUnknown
	case !any && e.owner != owner:
		return sessionForeign
	}
	return sessionLive
}

// reservedSessionKey is the context key of the session id the gate
// reserved for an initialize request.
type reservedSessionKey struct{}

// ResolveSessionIdManager returns the manager of r's caller's sessions;
// for a nil r (mcp-go's idle sweeper, CloseSessions), one that may end
// any session.
func (s *sessions) ResolveSessionIdManager(r *http.Request) mcpserver.SessionIdManager {
	if r == nil {
		return sessionManager{s: s, any: true}
	}
	owner, _ := sessionOwner(auth.CallerFrom(r.Context()))
	reserved, _ := r.Context().Value(reservedSessionKey{}).(string)
	return sessionManager{s: s, owner: owner, reserved: reserved}
}

// sessionManager is mcp-go's SessionIdManager for one request's caller.
type sessionManager struct {
	s        *sessions
	owner    string
	reserved string // the id the gate reserved for this initialize
	any      bool   // may end any session (mcp-go's sweeper)
}

// errNoSession is what Validate says of an id that is not a live session
// of the caller; mcp-go answers 404.
var errNoSession = errors.New("no such session")

// Generate hands mcp-go the id the gate reserved for this initialize.
// Without one it returns "", and mcp-go then keeps no session: the gate
// reserves an id for every initialize it lets through, so that happens
// only for requests the gate did not recognise, and they get no session.
func (m sessionManager) Generate() string {
	if m.reserved != "" && m.s.handOut(m.reserved) {
		return m.reserved
	}
	return ""
}

// Validate accepts only a live session of the caller.
func (m sessionManager) Validate(id string) (isTerminated bool, err error) {
	if m.any {
		return false, nil
	}
	if m.s.lookup(id, m.owner) != sessionLive {
		return false, errNoSession
	}
	return false, nil
}

// Terminate ends the caller's session; another caller's is not allowed
// (the gate has answered 404 before mcp-go gets here).
func (m sessionManager) Terminate(id string) (isNotAllowed bool, err error) {
	return m.s.end(id, m.owner, m.any) == sessionForeign, nil
}

// sessionGate applies the session rules before mcp-go sees a request of
// a protocol revision with sessions: initialize gets a place under the
// caps or a JSON-RPC error saying why not (audited); any other POST, GET
// or DELETE needs the Mcp-Session-Id of a live session of the same caller
// (400 without one, 404 otherwise; another caller's id is audited).
// Requests of protocol 2026-07-28, which has no sessions, pass through;
// the protocol revision is read as mcp-go reads it.
func (s *Server) sessionGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost, http.MethodGet, http.MethodDelete:
		default:
			next.ServeHTTP(w, r)
			return
		}
		if mcp.IsModernProtocol(r.Header.Get(mcp.HeaderProtocolVersion)) {
			next.ServeHTTP(w, r)
			return
		}
		if e := envelopeFrom(r.Context()); e != nil {
			if !e.ok || mcp.IsModernProtocol(e.Params.Meta.protocolVersion()) {
				next.ServeHTTP(w, r) // mcp-go answers a parse error; 2026-07-28 has no sessions
				return
			}
			if e.Method == mcp.MethodInitialize {
				s.openSession(w, r, e.ID, next)
				return
			}
		}
		sid := r.Header.Get(mcpserver.HeaderKeySessionID)
		if sid == "" {
			http.Error(w, "this request needs the Mcp-Session-Id header: send initialize first, then the session id it returns with every request", http.StatusBadRequest)
			return
		}
		c := auth.CallerFrom(r.Context())
		owner, _ := sessionOwner(c)
		switch s.sessions.lookup(sid, owner) {
		case sessionLive:
			if r.Method == http.MethodGet {
				release, ok := s.sessions.openStream(sid)
				if !ok {
					http.Error(w, "this session's event stream (GET /mcp) is open already, and a session has one: "+
						"use it, or close it before opening another", http.StatusConflict)
					return
				}
				defer release()
			}
			next.ServeHTTP(w, r)
			return
		case sessionForeign:
			s.auditSessionRefusal(r.Context(), c, "refused the session id of another caller: it was neither used nor ended")
		}
		http.Error(w, fmt.Sprintf("no such MCP session: it was ended (DELETE), was idle for more than %s (--session-idle-timeout), "+
			"or was never opened by this caller; send initialize without Mcp-Session-Id to open a new one", s.sessions.limits.IdleTimeout),
			http.StatusNotFound)
	})
}

// openSession lets an initialize through with a reserved session id, or
// refuses it with a JSON-RPC error for request id reqID.
func (s *Server) openSession(w http.ResponseWriter, r *http.Request, reqID json.RawMessage, next http.Handler) {
	c := auth.CallerFrom(r.Context())
	sid, refusal := s.sessions.open(c)
	if refusal != "" {
		s.auditSessionRefusal(r.Context(), c, refusal)
		// HTTP 200 with a JSON-RPC error, as for any refused request:
		// clients show a JSON-RPC error's message, while on a 429 or 503
		// the official Go SDK shows only the status, and on a 4xx to
		// initialize mcp-go's client concludes the server is an old
		// HTTP+SSE one.
		var id any
		json.Unmarshal(reqID, &id)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(mcp.NewJSONRPCError(mcp.NewRequestId(id), sessionLimitCode, refusal, nil))
		return
	}
	defer s.sessions.releaseUnused(sid)
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), reservedSessionKey{}, sid)))
}

// auditSessionRefusal records a refused session.
func (s *Server) auditSessionRefusal(ctx context.Context, c *auth.Caller, reason string) {
	s.write(ctx, refusal(audit.EventSessionDenied, c, reason))
}

// OpenSessions is how many MCP sessions are open (or reserved by an
// initialize being answered).
func (s *Server) OpenSessions() int { return s.sessions.count() }

// SessionHeld reports whether session id still holds state in the
// server: in the session table, or in the MCP library's own.
func (s *Server) SessionHeld(id string) bool {
	s.sessions.mu.Lock()
	live := s.sessions.find(id, "", true) == sessionLive
	s.sessions.mu.Unlock()
	if live {
		return true
	}
	return !errors.Is(s.mcp.SendNotificationToSpecificClient(id, "notifications/message", nil), mcpserver.ErrSessionNotFound)
}

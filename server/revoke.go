// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
)

// errRevoked is the cause a call's context is cancelled with when its
// caller's token is revoked while the call waits or runs (stopRevoked).
var errRevoked = errors.New("the caller's token was revoked")

// revokedWaiting refuses a call whose token was revoked while it waited
// for its approval or its user's confirmation.
const revokedWaiting = "call refused: the caller's token was revoked while the call waited"

// revokedRunning answers a call whose token was revoked while it ran.
const revokedRunning = "call stopped: the caller's token was revoked while the call ran, and its result is withheld; " +
	"what it did until then is in the audit log"

// revoked reports whether ctx, a call's, was cancelled because its
// caller's token was revoked (stopRevoked).
func revoked(ctx context.Context) bool { return errors.Is(context.Cause(ctx), errRevoked) }

// tokenRevoked reports whether c authenticated with a token that is now
// revoked. A caller the tailnet alone identified has no token to revoke.
func (s *Server) tokenRevoked(c *auth.Caller) bool {
	return s.verifier != nil && c != nil && (c.Method == auth.MethodHMAC || c.Method == auth.MethodJWT) && s.verifier.Revoked(c)
}

// stopRevoked cancels, with errRevoked, the calls in flight whose token
// the new revocation list revokes: a revoked token stops acting at once,
// not when its deploy or search ends. Each call's handler records how far
// it got (finishRevoked).
func (s *Server) stopRevoked() {
	cs := &s.calls
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for c := range cs.running {
		if !c.revoked && s.tokenRevoked(c.caller) {
			c.revoked = true
			c.cancel(errRevoked)
			s.log.Warn("stopping a call: its token was revoked", slog.String("agent", c.caller.Agent), slog.String("token_id", c.caller.TokenID))
		}
	}
}

// finishRevoked writes the outcome of a call stopped by its token's
// revocation: what the tool returned, and that its result was withheld.
// Nothing of the result reaches the caller.
func (s *Server) finishRevoked(ctx context.Context, rec *audit.Record, start time.Time, res *mcp.CallToolResult, err error) (*mcp.CallToolResult, error) {
	if res == nil && err == nil {
		err = errRevoked // cancelled before anything came back
	}
	outcome(rec, res, err, time.Since(start))
	const why = "the caller's token was revoked while the call ran: its result was withheld"
	if rec.Reason != "" {
		rec.Reason += "; " + why
	} else {
		rec.Reason = why
	}
	if werr := s.write(ctx, rec); werr != nil {
		return mcp.NewToolResultError(auditRefusal), nil
	}
	return mcp.NewToolResultError(revokedRunning), nil
}

// SPDX-License-Identifier: Apache-2.0

package metrics_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/metrics"
)

var (
	requester = &auth.Caller{Agent: "assistant", TokenID: "jti-a", Method: auth.MethodHMAC, Scopes: []auth.Scope{auth.ScopeAdmin}}
	approver  = &auth.Caller{Agent: "person", TokenID: "jti-p", Method: auth.MethodHMAC, Scopes: []auth.Scope{auth.ScopeApprovalsGrant}}
)

// newGate is a real approval gate with a real store and audit log.
func newGate(t *testing.T, cfg approval.Config) (*approval.Gate, *approval.Store) {
	t.Helper()
	dir := t.TempDir()
	log, err := audit.Open(filepath.Join(dir, "audit.log"), &audit.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	var store *approval.Store
	if cfg.TwoPerson {
		if store, err = approval.OpenStore(filepath.Join(dir, "approvals.json"), &approval.StoreOptions{Logger: quiet}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
	}
	cfg.Store, cfg.Audit, cfg.Logger = store, log.Write, quiet
	g, err := approval.NewGate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g, store
}

// decideWhileWaiting runs Check and, once its request is pending, has
// approver decide it; it returns what Check returned.
func decideWhileWaiting(t *testing.T, g *approval.Gate, store *approval.Store, approve bool) (approval.Outcome, error) {
	t.Helper()
	ctx := context.Background()
	type res struct {
		o   approval.Outcome
		err error
	}
	done := make(chan res, 1)
	go func() {
		o, err := g.Check(ctx, approval.Call{Tool: "docker_remove_container", Args: map[string]any{"id": "web"}, Caller: requester, Risk: "critical"}, nil)
		done <- res{o, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pending, err := store.List(false)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) == 1 {
			decide := g.Deny
			if approve {
				decide = g.Approve
			}
			if _, err := decide(ctx, pending[0].ID, approver, "test"); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no pending request after 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r := <-done
	return r.o, r.err
}

// TestApprovalOutcomeOf classifies what a real gate returns, and the
// outcomes a test cannot make a gate return at will.
func TestApprovalOutcomeOf(t *testing.T) {
	call := approval.Call{Tool: "docker_remove_container", Args: map[string]any{"id": "web"}, Caller: requester, Risk: "critical"}
	tests := []struct {
		name  string
		check func(t *testing.T) (approval.Outcome, error)
		want  metrics.ApprovalOutcome
	}{
		{"no approval mechanism", func(t *testing.T) (approval.Outcome, error) {
			g, _ := newGate(t, approval.Config{})
			return g.Check(context.Background(), call, nil)
		}, metrics.ApprovalRefused},
		{"a caller the gate cannot identify", func(t *testing.T) (approval.Outcome, error) {
			g, _ := newGate(t, approval.Config{TwoPerson: true})
			c := call
			c.Caller = nil
			return g.Check(context.Background(), c, nil)
		}, metrics.ApprovalRefused},
		{"the wait ends undecided", func(t *testing.T) (approval.Outcome, error) {
			g, _ := newGate(t, approval.Config{TwoPerson: true, Wait: 20 * time.Millisecond})
			return g.Check(context.Background(), call, nil)
		}, metrics.ApprovalPending},
		{"a person approves during the wait", func(t *testing.T) (approval.Outcome, error) {
			g, store := newGate(t, approval.Config{TwoPerson: true, Wait: 10 * time.Second})
			return decideWhileWaiting(t, g, store, true)
		}, metrics.ApprovalApproved},
		{"a person denies during the wait", func(t *testing.T) (approval.Outcome, error) {
			g, store := newGate(t, approval.Config{TwoPerson: true, Wait: 10 * time.Second})
			return decideWhileWaiting(t, g, store, false)
		}, metrics.ApprovalDenied},
		{"the request expired", func(*testing.T) (approval.Outcome, error) {
			return approval.Outcome{ApprovalID: "r", Message: "expired", Request: &approval.Request{ID: "r", State: approval.StateExpired}}, nil
		}, metrics.ApprovalExpired},
		{"another identical call used the approval", func(*testing.T) (approval.Outcome, error) {
			return approval.Outcome{ApprovalID: "r", Message: "used", Request: &approval.Request{ID: "r", State: approval.StateUsed}}, nil
		}, metrics.ApprovalRefused},
		{"the store or the audit log failed", func(*testing.T) (approval.Outcome, error) {
			return approval.Outcome{}, errors.New("writing approval store: disk full")
		}, metrics.ApprovalError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := tt.check(t)
			if got := metrics.ApprovalOutcomeOf(o, err); got != tt.want {
				t.Errorf("ApprovalOutcomeOf(%+v, %v) = %s, want %s", o, err, got, tt.want)
			}
		})
	}
}

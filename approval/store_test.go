// SPDX-License-Identifier: Apache-2.0

package approval_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/approval"
)

// TestRestart closes a store holding requests in every state and reopens
// it later: undecided and approved requests survive until their expiry,
// then expire; nothing is ever approved by the restart.
func TestRestart(t *testing.T) {
	e := newEnv(t, approval.Config{TwoPerson: true, Wait: time.Millisecond})
	ctx := context.Background()
	mk := func(container string, ttl time.Duration) approval.Request {
		r, err := e.store.Create("remove_container", map[string]any{"container": container}, alice, "critical", ttl)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	pendingLong := mk("pending-long", 15*time.Minute)
	pendingShort := mk("pending-short", time.Minute)
	approvedLong := mk("approved-long", 15*time.Minute)
	approvedShort := mk("approved-short", time.Minute)
	denied := mk("denied", 15*time.Minute)
	for _, d := range []struct {
		id      string
		approve bool
	}{{approvedLong.ID, true}, {approvedShort.ID, true}, {denied.ID, false}} {
		if _, err := e.store.Decide(d.id, d.approve, "", approval.Approver{Mechanism: approval.MechanismTwoPerson, Caller: bob}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(e.store.Path())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file: %v, %v; want mode 0600", fi.Mode(), err)
	}

	e.clock.Advance(5 * time.Minute)
	e.openStore(t)
	g, err := approval.NewGate(approval.Config{Store: e.store, TwoPerson: true, Wait: time.Millisecond, Audit: e.log.Write, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]approval.State{
		pendingLong.ID: approval.StatePending, pendingShort.ID: approval.StateExpired,
		approvedLong.ID: approval.StateApproved, approvedShort.ID: approval.StateExpired, denied.ID: approval.StateDenied,
	}
	for id, st := range want {
		r, err := e.store.Get(id)
		if err != nil || r.State != st {
			t.Errorf("request %s after restart: %s, %v; want %s", id, r.State, err, st)
		}
	}
	if r, _ := e.store.Get(pendingShort.ID); r.Decision != nil {
		t.Errorf("expired pending request has a decision: %+v", r.Decision)
	}
	// The expiries found on Open are audited by the first sweep.
	if err := g.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	e.findRecord(t, approval.EventExpired, pendingShort.ID)
	e.findRecord(t, approval.EventExpired, approvedShort.ID)

	// Expired requests can no longer be approved or used.
	if _, err := g.Approve(ctx, pendingShort.ID, bob, ""); !errors.Is(err, approval.ErrExpired) {
		t.Errorf("approving an expired request: %v", err)
	}
	if o, _ := g.Check(ctx, approval.Call{Tool: "remove_container", Args: map[string]any{"container": "approved-short"}, Caller: alice}, nil); o.Allowed {
		t.Errorf("expired approval used: %+v", o)
	}
	// A surviving approval is used once; a surviving pending request can
	// still be approved, and then used.
	if o, _ := g.Check(ctx, approval.Call{Tool: "remove_container", Args: map[string]any{"container": "approved-long"}, Caller: alice}, nil); !o.Allowed || o.ApprovalID != approvedLong.ID {
		t.Errorf("surviving approval: %+v", o)
	}
	if _, err := g.Approve(ctx, pendingLong.ID, bob, ""); err != nil {
		t.Fatal(err)
	}
	if o, _ := g.Check(ctx, approval.Call{Tool: "remove_container", Args: map[string]any{"container": "pending-long"}, Caller: alice}, nil); !o.Allowed || o.ApprovalID != pendingLong.ID {
		t.Errorf("pending request approved after restart: %+v", o)
	}

	// Long after, everything expired is dropped from the file.
	e.clock.Advance(approval.DefaultRetention + time.Hour)
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	e.openStore(t)
	if rs, _ := e.store.List(true); len(rs) != 0 {
		t.Errorf("%d requests kept past retention", len(rs))
	}
}

func TestStoreIsLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "approvals.json")
	s, err := approval.OpenStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := approval.OpenStore(path, nil); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second OpenStore: %v, want in use", err)
	}
}

func TestStoreRefusesBadFile(t *testing.T) {
	c := newClock()
	good := func(mut func(r map[string]any)) string {
		r := approval.Request{ID: "0123456789abcdef", Tool: "remove_container", Digest: "d", Caller: *alice,
			CallerKey: approval.CallerKey(alice), Created: c.Now(), Expires: c.Now().Add(time.Hour), State: approval.StatePending}
		b, _ := json.Marshal(r)
		var m map[string]any
		json.Unmarshal(b, &m)
		mut(m)
		out, _ := json.Marshal(map[string]any{"version": 1, "requests": []any{m}})
		return string(out)
	}
	tests := []struct {
		name    string
		content string
	}{
		{"not JSON", "{"},
		{"other version", `{"version": 2, "requests": []}`},
		{"unknown field", `{"version": 1, "requests": [], "approve_all": true}`},
		{"bad state", good(func(r map[string]any) { r["state"] = "granted" })},
		{"approved without decision", good(func(r map[string]any) { r["state"] = "approved" })},
		{"bad id", good(func(r map[string]any) { r["id"] = "../x" })},
		{"caller key not matching caller", good(func(r map[string]any) { r["caller_key"] = "agent=\"bob\"" })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "approvals.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if s, err := approval.OpenStore(path, &approval.StoreOptions{Now: c.Now, Logger: quiet}); err == nil {
				s.Close()
				t.Fatal("OpenStore succeeded")
			}
			if b, _ := os.ReadFile(path); string(b) != tc.content {
				t.Error("OpenStore changed the file")
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "approvals.json")
		os.WriteFile(path, []byte(good(func(map[string]any) {})), 0o644)
		s, err := approval.OpenStore(path, &approval.StoreOptions{Now: c.Now, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if r, err := s.Get("0123456789abcdef"); err != nil || r.State != approval.StatePending {
			t.Errorf("Get: %+v %v", r, err)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode().Perm())
		}
	})
}

func TestStoreMaxPending(t *testing.T) {
	s, err := approval.OpenStore(filepath.Join(t.TempDir(), "approvals.json"), &approval.StoreOptions{MaxPending: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		_, err := s.Create("x", map[string]any{"i": i}, alice, "", time.Minute)
		if (i < 2) != (err == nil) || (err != nil && !errors.Is(err, approval.ErrTooManyPending)) {
			t.Errorf("Create %d: %v", i, err)
		}
	}
}

func TestStoreClosed(t *testing.T) {
	s, err := approval.OpenStore(filepath.Join(t.TempDir(), "approvals.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.List(true); !errors.Is(err, approval.ErrClosed) {
		t.Errorf("List after Close: %v", err)
	}
}

// SPDX-License-Identifier: Apache-2.0

package approval_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
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
		r := approval.Request{ID: "0123456789abcdef", Tool: "remove_container", Digest: approval.DigestPrefix + strings.Repeat("ab", 32), Caller: *alice,
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
		{"no digest", good(func(r map[string]any) { r["digest"] = "" })},
		{"digest in no known format", good(func(r map[string]any) { r["digest"] = "d" })},
		{"keyed digest too short", good(func(r map[string]any) { r["digest"] = approval.DigestPrefix + "abcd" })},
		{"keyed digest in upper case", good(func(r map[string]any) { r["digest"] = approval.DigestPrefix + strings.Repeat("AB", 32) })},
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

// TestDigestKeyAcrossRestart: a pending request made before a restart is
// approved after it and then authorises the repeated call, because the
// digest key is kept in a file next to the store; under another key the
// same call no longer matches.
func TestDigestKeyAcrossRestart(t *testing.T) {
	tests := []struct {
		name    string
		change  func(t *testing.T, keyPath string)
		allowed bool
	}{
		{"same key file", func(*testing.T, string) {}, true},
		{"key file replaced", func(t *testing.T, p string) {
			if err := os.WriteFile(p, bytes.Repeat([]byte{0x17}, approval.DigestKeySize), 0o600); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"key file removed (a new one is created)", func(t *testing.T, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, approval.Config{TwoPerson: true, Wait: time.Millisecond})
			keyPath := e.store.Path() + approval.KeyFileSuffix
			before, err := os.ReadFile(keyPath)
			if err != nil {
				t.Fatalf("the store has no key file: %v", err)
			}
			if fi, _ := os.Stat(keyPath); len(before) != approval.DigestKeySize || fi.Mode().Perm() != 0o600 {
				t.Fatalf("key file: %d bytes, mode %v; want %d bytes, mode 0600", len(before), fi.Mode().Perm(), approval.DigestKeySize)
			}
			digest := storeDigest(t, e.store, "remove_container", argsA)
			o := e.check(t, "remove_container", argsA, alice)
			if !o.Pending || o.Request == nil || o.Request.Digest != digest {
				t.Fatalf("first call: %+v, want pending with digest %s", o, digest)
			}
			if err := e.store.Close(); err != nil {
				t.Fatal(err)
			}
			tc.change(t, keyPath)
			e.openStore(t)
			g, err := approval.NewGate(approval.Config{Store: e.store, TwoPerson: true, Wait: time.Millisecond, Audit: e.log.Write, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(keyPath)
			if sameKey := bytes.Equal(after, before); sameKey != tc.allowed {
				t.Errorf("key after reopening is the same: %v, want %v", sameKey, tc.allowed)
			}
			if d := storeDigest(t, e.store, "remove_container", argsA); (d == digest) != tc.allowed {
				t.Errorf("digest after reopening %s, before %s; want same=%v", d, digest, tc.allowed)
			}
			if _, err := g.Approve(ctx, o.ApprovalID, bob, ""); err != nil {
				t.Fatalf("approving the request made before the restart: %v", err)
			}
			got, err := g.Check(ctx, approval.Call{Tool: "remove_container", Args: argsA, Caller: alice}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Allowed != tc.allowed || (tc.allowed && got.ApprovalID != o.ApprovalID) {
				t.Errorf("repeated call after approval: %+v, want allowed=%v by %s", got, tc.allowed, o.ApprovalID)
			}
			if !tc.allowed && (!got.Pending || got.ApprovalID == o.ApprovalID) {
				t.Errorf("repeated call under a new key: %+v, want a new pending request", got)
			}
		})
	}
}

// TestStoreDigestKeyFile: a key file of the wrong size or kind is an
// error naming it; one readable by others is kept, at mode 0600.
func TestStoreDigestKeyFile(t *testing.T) {
	key := bytes.Repeat([]byte{0x5a}, approval.DigestKeySize)
	tests := []struct {
		name    string
		setup   func(t *testing.T, keyPath string)
		wantErr bool
	}{
		{"short", func(t *testing.T, p string) { os.WriteFile(p, key[:16], 0o600) }, true},
		{"long", func(t *testing.T, p string) { os.WriteFile(p, append(bytes.Clone(key), '\n'), 0o600) }, true},
		{"empty", func(t *testing.T, p string) { os.WriteFile(p, nil, 0o600) }, true},
		{"directory", func(t *testing.T, p string) { os.Mkdir(p, 0o700) }, true},
		{"readable by others", func(t *testing.T, p string) { os.WriteFile(p, key, 0o644) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "approvals.json")
			keyPath := path + approval.KeyFileSuffix
			tc.setup(t, keyPath)
			s, err := approval.OpenStore(path, &approval.StoreOptions{Logger: quiet})
			if tc.wantErr {
				if err == nil {
					s.Close()
					t.Fatal("OpenStore succeeded")
				}
				if !strings.Contains(err.Error(), keyPath) {
					t.Errorf("error %q does not name %s", err, keyPath)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if fi, _ := os.Stat(keyPath); fi.Mode().Perm() != 0o600 {
				t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
			}
			want, _ := approval.Digest(key, "x", nil)
			if got := storeDigest(t, s, "x", nil); got != want {
				t.Errorf("store digest %s, want %s under the key in the file", got, want)
			}
		})
	}
}

// TestStaleUnkeyedRequests: requests stored by an earlier version, bound
// to the plain SHA-256 of the call, are dropped when the store is opened:
// loading does not fail, they never authorise a call, and the pending or
// approved ones are audited as expired without their unkeyed digest.
// Current requests in the same file are kept.
func TestStaleUnkeyedRequests(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, approval.Config{TwoPerson: true, Wait: time.Millisecond})
	now := e.clock.Now()
	argsOf := func(c string) map[string]any { return map[string]any{"container": c, "password": "hunter2"} }
	approval0 := &approval.Decision{Approved: true, Approver: "bob (bob@example.com)", Mechanism: approval.MechanismTwoPerson, At: now}
	mk := func(id, container string, st approval.State, d *approval.Decision) approval.Request {
		return approval.Request{ID: id, Tool: "remove_container", Arguments: argsOf(container),
			Digest: plainDigest(t, "remove_container", argsOf(container)), Caller: *alice, CallerKey: approval.CallerKey(alice),
			Created: now.Add(-time.Minute), Expires: now.Add(14 * time.Minute), State: st, Decision: d}
	}
	legacy := []approval.Request{
		mk("1000000000000001", "pending", approval.StatePending, nil),
		mk("1000000000000002", "approved", approval.StateApproved, approval0),
		mk("1000000000000003", "used", approval.StateUsed, approval0),
		mk("1000000000000004", "denied", approval.StateDenied, &approval.Decision{Approver: "bob", Mechanism: approval.MechanismTwoPerson, At: now}),
	}
	current := mk("2000000000000001", "current", approval.StatePending, nil)
	current.Digest = storeDigest(t, e.store, "remove_container", argsOf("current"))
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"version": 1, "requests": append(slices.Clone(legacy), current)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.store.Path(), b, 0o600); err != nil {
		t.Fatal(err)
	}

	e.openStore(t)
	g, err := approval.NewGate(approval.Config{Store: e.store, TwoPerson: true, Wait: time.Millisecond, Audit: e.log.Write, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if rs, _ := e.store.List(true); len(rs) != 1 || rs[0].ID != current.ID {
		t.Errorf("requests after opening: %+v, want only %s", rs, current.ID)
	}
	file, _ := os.ReadFile(e.store.Path())
	for _, r := range legacy {
		if strings.Contains(string(file), r.Digest) || strings.Contains(string(file), r.ID) {
			t.Errorf("the store file still holds stale request %s", r.ID)
		}
	}
	// The pending and the approved one are audited as expired, once,
	// without the unkeyed digest; the finished ones are not.
	if err := g.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	expired := map[any]int{}
	for _, r := range e.records(t, approval.EventExpired) {
		expired[approvalField(r, "id")]++
		if approvalField(r, "digest") != nil || !strings.Contains(r.Reason, "unkeyed") {
			t.Errorf("expiry record of a stale request: %+v", r)
		}
	}
	if want := map[any]int{legacy[0].ID: 1, legacy[1].ID: 1}; !maps.Equal(expired, want) {
		t.Errorf("expiry records %v, want %v", expired, want)
	}
	audited, _ := os.ReadFile(e.auditPath)
	for _, r := range legacy {
		if strings.Contains(string(audited), r.Digest) {
			t.Errorf("the audit log holds the unkeyed digest of %s", r.ID)
		}
	}

	// No stale request authorises its call, by binding or by id; they
	// are gone for approvers too.
	for _, r := range legacy[:2] {
		if _, err := e.store.Consume(r.Binding()); !errors.Is(err, approval.ErrNoApproval) {
			t.Errorf("consuming the unkeyed binding of %s: %v", r.ID, err)
		}
		if _, err := g.Approve(ctx, r.ID, bob, ""); !errors.Is(err, approval.ErrNotFound) {
			t.Errorf("approving stale request %s: %v", r.ID, err)
		}
	}
	o, err := g.Check(ctx, approval.Call{Tool: "remove_container", Args: argsOf("approved"), Caller: alice}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Allowed || !o.Pending || o.ApprovalID == legacy[1].ID || o.Request == nil || o.Request.Digest == legacy[1].Digest {
		t.Errorf("call approved under the unkeyed digest: %+v, want a new pending request", o)
	}
	// The current request is kept, and works.
	if _, err := g.Approve(ctx, current.ID, bob, ""); err != nil {
		t.Fatal(err)
	}
	if o, _ := g.Check(ctx, approval.Call{Tool: "remove_container", Args: argsOf("current"), Caller: alice}, nil); !o.Allowed || o.ApprovalID != current.ID {
		t.Errorf("current request after opening: %+v", o)
	}
}

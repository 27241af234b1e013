// SPDX-License-Identifier: Apache-2.0

package approval_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/auth"
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
		{"bad key id", `{"version": 1, "key_id": "../key", "requests": []}`},
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
			// Nor is the digest key created for an invalid store.
			if _, err := os.Lstat(path + approval.KeyFileSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("OpenStore of an invalid store created the digest key file (%v)", err)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "approvals.json")
		key := bytes.Repeat([]byte{0x33}, approval.DigestKeySize)
		if err := os.WriteFile(path+approval.KeyFileSuffix, key, 0o600); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(good(func(map[string]any) {})), &m); err != nil {
			t.Fatal(err)
		}
		m["key_id"] = keyIDOf(key)
		content, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
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

// TestStoreMaxPendingPerCaller: one caller's pending requests are capped
// below the store's, so one caller varying its arguments cannot keep
// everyone else's calls from reaching an approver.
func TestStoreMaxPendingPerCaller(t *testing.T) {
	s, err := approval.OpenStore(filepath.Join(t.TempDir(), "approvals.json"), &approval.StoreOptions{MaxPending: 10, MaxPendingPerCaller: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		_, err := s.Create("x", map[string]any{"i": i}, alice, "", time.Minute)
		if (i < 2) != (err == nil) || (err != nil && (!errors.Is(err, approval.ErrTooManyPending) || !strings.Contains(err.Error(), "for this caller"))) {
			t.Errorf("alice's Create %d: %v", i, err)
		}
	}
	if _, err := s.Create("x", map[string]any{"i": 0}, bob, "", time.Minute); err != nil {
		t.Errorf("bob's first request: %v", err)
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
// digest key is kept in a file next to the store. When the key file was
// replaced or removed (a new key is then created), the requests made
// under the old key can never match a call: they are dropped when the
// store is opened, so approvers cannot approve them, the pending and the
// approved one are audited as expired once, with a reason naming the key
// and no expiry, and the repeated calls make new requests.
func TestDigestKeyAcrossRestart(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, keyPath string)
		kept   bool
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
	argsB := map[string]any{"container": "db"}
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
			oB := e.check(t, "remove_container", argsB, alice)
			if _, err := e.gate.Approve(ctx, oB.ApprovalID, bob, ""); err != nil {
				t.Fatal(err)
			}
			if err := e.store.Close(); err != nil {
				t.Fatal(err)
			}
			if got := fileKeyID(t, e.store.Path()); got != keyIDOf(before) {
				t.Errorf("store file key id %q, want %q", got, keyIDOf(before))
			}
			tc.change(t, keyPath)
			e.openStore(t)
			g, err := approval.NewGate(approval.Config{Store: e.store, TwoPerson: true, Wait: time.Millisecond, Audit: e.log.Write, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(keyPath)
			if sameKey := bytes.Equal(after, before); sameKey != tc.kept {
				t.Errorf("key after reopening is the same: %v, want %v", sameKey, tc.kept)
			}
			if d := storeDigest(t, e.store, "remove_container", argsA); (d == digest) != tc.kept {
				t.Errorf("digest after reopening %s, before %s; want same=%v", d, digest, tc.kept)
			}
			if got := fileKeyID(t, e.store.Path()); tc.kept != (got == keyIDOf(before)) || got != keyIDOf(after) {
				t.Errorf("store file key id %q after reopening; want the current key's, %q", got, keyIDOf(after))
			}
			if err := g.Sweep(ctx); err != nil {
				t.Fatal(err)
			}

			if tc.kept {
				if rs := e.records(t, approval.EventExpired); len(rs) != 0 {
					t.Errorf("expiry records under the same key: %+v", rs)
				}
				if _, err := g.Approve(ctx, o.ApprovalID, bob, ""); err != nil {
					t.Fatalf("approving the request made before the restart: %v", err)
				}
				for _, c := range []struct {
					args any
					id   string
				}{{argsA, o.ApprovalID}, {argsB, oB.ApprovalID}} {
					got, err := g.Check(ctx, approval.Call{Tool: "remove_container", Args: c.args, Caller: alice}, nil)
					if err != nil || !got.Allowed || got.ApprovalID != c.id {
						t.Errorf("repeated call %v after approval: %+v, %v; want allowed by %s", c.args, got, err, c.id)
					}
				}
				return
			}

			// Under a new key, the old requests are gone for everyone.
			for _, id := range []string{o.ApprovalID, oB.ApprovalID} {
				if r, err := e.store.Get(id); !errors.Is(err, approval.ErrNotFound) {
					t.Errorf("request %s made under the old key: %+v, %v; want dropped", id, r, err)
				}
			}
			if _, err := g.Approve(ctx, o.ApprovalID, bob, ""); !errors.Is(err, approval.ErrNotFound) {
				t.Errorf("approving a request made under the old key: %v, want ErrNotFound", err)
			}
			if file, _ := os.ReadFile(e.store.Path()); strings.Contains(string(file), o.ApprovalID) || strings.Contains(string(file), oB.ApprovalID) {
				t.Errorf("the store file still holds the requests made under the old key")
			}
			// Each is audited once as expired, saying why, with no expiry.
			wantState := map[any]string{o.ApprovalID: "undecided", oB.ApprovalID: "approved but unused"}
			expired := map[any]int{}
			for _, r := range e.records(t, approval.EventExpired) {
				id := approvalField(r, "id")
				expired[id]++
				if !strings.Contains(r.Reason, "key that was since replaced or lost") || !strings.Contains(r.Reason, wantState[id]) {
					t.Errorf("expiry record of %v: reason %q, want it to say the key was replaced or lost and %q", id, r.Reason, wantState[id])
				}
				if approvalField(r, "expires") != nil || approvalField(r, "dropped") != true {
					t.Errorf("expiry record of dropped request %v: %+v, want dropped and no expires", id, r.Approval)
				}
			}
			if want := map[any]int{o.ApprovalID: 1, oB.ApprovalID: 1}; !maps.Equal(expired, want) {
				t.Errorf("expiry records %v, want %v", expired, want)
			}
			// Reopening under the new key drops and audits nothing more.
			if err := e.store.Close(); err != nil {
				t.Fatal(err)
			}
			e.openStore(t)
			g, err = approval.NewGate(approval.Config{Store: e.store, TwoPerson: true, Wait: time.Millisecond, Audit: e.log.Write, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			if n := len(e.records(t, approval.EventExpired)); n != 2 {
				t.Errorf("%d expiry records after reopening again, want still 2", n)
			}
			for _, args := range []any{argsA, argsB} {
				got, err := g.Check(ctx, approval.Call{Tool: "remove_container", Args: args, Caller: alice}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got.Allowed || !got.Pending || got.ApprovalID == o.ApprovalID || got.ApprovalID == oB.ApprovalID {
					t.Errorf("repeated call %v under a new key: %+v, want a new pending request", args, got)
				}
			}
		})
	}
}

// TestStoreKeyID: the store file records the id of the digest key its
// requests were made under. Requests are kept when it is the current
// key's, or when the file predates key ids and the key file exists; they
// are dropped when the id is another key's, or when the file predates key
// ids and the key had to be created. Expire reports the dropped pending
// request once, expired, with Dropped saying the key was replaced and its
// keyed digest; the denied one is dropped silently.
func TestStoreKeyID(t *testing.T) {
	c := newClock()
	key := bytes.Repeat([]byte{0x61}, approval.DigestKeySize)
	other := bytes.Repeat([]byte{0x62}, approval.DigestKeySize)
	mk := func(id string, st approval.State, d *approval.Decision) approval.Request {
		return approval.Request{ID: id, Tool: "remove_container", Digest: approval.DigestPrefix + strings.Repeat(id[:2], 32),
			Caller: *alice, CallerKey: approval.CallerKey(alice), Created: c.Now(), Expires: c.Now().Add(time.Hour),
			State: st, Decision: d}
	}
	pending := mk("a000000000000001", approval.StatePending, nil)
	denied := mk("b000000000000002", approval.StateDenied,
		&approval.Decision{Approver: "bob", Mechanism: approval.MechanismTwoPerson, At: c.Now()})
	tests := []struct {
		name    string
		keyFile []byte // nil: none
		fileID  string // "": none
		kept    bool
	}{
		{"the current key's id", key, keyIDOf(key), true},
		{"no id, key file present", key, "", true},
		{"no id, key file missing", nil, "", false},
		{"another key's id", key, keyIDOf(other), false},
		{"an id, key file missing", nil, keyIDOf(key), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "approvals.json")
			if tc.keyFile != nil {
				if err := os.WriteFile(path+approval.KeyFileSuffix, tc.keyFile, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			f := map[string]any{"version": 1, "requests": []approval.Request{pending, denied}}
			if tc.fileID != "" {
				f["key_id"] = tc.fileID
			}
			b, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := approval.OpenStore(path, &approval.StoreOptions{Now: c.Now, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			cur, err := os.ReadFile(path + approval.KeyFileSuffix)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := s.List(true)
			if err != nil {
				t.Fatal(err)
			}
			exp, err := s.Expire()
			if err != nil {
				t.Fatal(err)
			}
			if tc.kept {
				if len(rs) != 2 || len(exp) != 0 {
					t.Errorf("requests %+v, expired %+v; want both kept, none expired", rs, exp)
				}
				if got := fileKeyID(t, path); got != keyIDOf(cur) {
					t.Errorf("store file key id %q, want %q", got, keyIDOf(cur))
				}
				return
			}
			if len(rs) != 0 {
				t.Errorf("requests %+v; want none under a replaced key", rs)
			}
			if len(exp) != 1 || exp[0].ID != pending.ID || exp[0].State != approval.StateExpired ||
				exp[0].Dropped != approval.DroppedKeyReplaced || exp[0].Digest != pending.Digest {
				t.Errorf("Expire: %+v; want only %s, expired, dropped for the key, with its digest", exp, pending.ID)
			}
			if exp, _ := s.Expire(); len(exp) != 0 {
				t.Errorf("second Expire: %+v, want none", exp)
			}
			if got := fileKeyID(t, path); got != keyIDOf(cur) {
				t.Errorf("store file key id %q, want the current key's %q", got, keyIDOf(cur))
			}
			if b, err := json.Marshal(exp[0]); err != nil || strings.Contains(string(b), string(approval.DroppedKeyReplaced)) {
				t.Errorf("Dropped is serialised: %s, %v", b, err)
			}
		})
	}
}

// TestStoreDropsTaggedRequestsOfEarlierKeys: a request a tagged node made
// before approvals were bound to its node id (its stored caller key is the
// earlier form) can never match a call: the store opens, drops it as
// expired, saying why, and keeps a user's request, whose key is unchanged.
// A key that is neither form is still an inconsistent file.
func TestStoreDropsTaggedRequestsOfEarlierKeys(t *testing.T) {
	c := newClock()
	key := bytes.Repeat([]byte{0x61}, approval.DigestKeySize)
	tagged := &auth.Caller{Agent: "ci-runner", Method: auth.MethodTailscale, Scopes: []auth.Scope{auth.ScopeAdmin},
		Tailscale: &auth.TailscaleIdentity{LoginName: "tagged-devices", NodeName: "ci-runner", NodeID: "nRunner1", Tags: []string{"tag:ci"}}}
	earlier := fmt.Sprintf("agent=%q token=%q tailscale=%q", tagged.Agent, tagged.TokenID, tagged.Tailscale.LoginName)
	mk := func(id string, caller *auth.Caller, callerKey string) approval.Request {
		return approval.Request{ID: id, Tool: "remove_container", Digest: approval.DigestPrefix + strings.Repeat(id[:2], 32),
			Caller: *caller, CallerKey: callerKey, Created: c.Now(), Expires: c.Now().Add(time.Hour), State: approval.StatePending}
	}
	write := func(t *testing.T, reqs ...approval.Request) string {
		path := filepath.Join(t.TempDir(), "approvals.json")
		if err := os.WriteFile(path+approval.KeyFileSuffix, key, 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(map[string]any{"version": 1, "key_id": keyIDOf(key), "requests": reqs})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	old, user := mk("a000000000000001", tagged, earlier), mk("b000000000000002", alice, approval.CallerKey(alice))
	s, err := approval.OpenStore(write(t, old, user), &approval.StoreOptions{Now: c.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rs, err := s.List(true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].ID != user.ID {
		t.Errorf("requests %+v; want only the user's %s", rs, user.ID)
	}
	exp, err := s.Expire()
	if err != nil {
		t.Fatal(err)
	}
	if len(exp) != 1 || exp[0].ID != old.ID || exp[0].State != approval.StateExpired || exp[0].Dropped != approval.DroppedCallerKey {
		t.Errorf("Expire: %+v; want only %s, expired, dropped for its caller key", exp, old.ID)
	}
	bad := mk("c000000000000003", tagged, earlier+" node=\"nOther\"")
	if s, err := approval.OpenStore(write(t, bad), &approval.StoreOptions{Now: c.Now, Logger: quiet}); err == nil {
		s.Close()
		t.Error("OpenStore accepted a request whose caller key names another node")
	}
}

// TestStoreDigestKeyFile: a key file of the wrong size or kind, or a
// symbolic link (even to a valid key), is an error naming it, and is left
// as it was; one readable by others is kept, at mode 0600, with a warning
// that the digests may be exposed.
func TestStoreDigestKeyFile(t *testing.T) {
	key := bytes.Repeat([]byte{0x5a}, approval.DigestKeySize)
	write := func(data []byte, mode os.FileMode) func(*testing.T, string) {
		return func(t *testing.T, p string) {
			if err := os.WriteFile(p, data, mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	symlink := func(target func(t *testing.T) string) func(*testing.T, string) {
		return func(t *testing.T, p string) {
			if err := os.Symlink(target(t), p); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, keyPath string)
		wantErr string // "" for none
		wantLog string
	}{
		{name: "short", setup: write(key[:16], 0o600), wantErr: "16 bytes"},
		{name: "long", setup: write(append(bytes.Clone(key), '\n'), 0o600), wantErr: "33 bytes"},
		{name: "empty", setup: write(nil, 0o600), wantErr: "0 bytes"},
		{name: "directory", setup: func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "not a regular file"},
		{name: "symbolic link to a valid key", setup: symlink(func(t *testing.T) string {
			target := filepath.Join(t.TempDir(), "planted.key")
			write(key, 0o600)(t, target)
			return target
		}), wantErr: "symbolic link"},
		{name: "dangling symbolic link", setup: symlink(func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "nothing-here")
		}), wantErr: "symbolic link"},
		{name: "readable by others", setup: write(key, 0o644), wantLog: "may be exposed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "approvals.json")
			keyPath := path + approval.KeyFileSuffix
			tc.setup(t, keyPath)
			before, _ := os.Lstat(keyPath)
			var logs bytes.Buffer
			s, err := approval.OpenStore(path, &approval.StoreOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if tc.wantErr != "" {
				if err == nil {
					s.Close()
					t.Fatal("OpenStore succeeded")
				}
				if !strings.Contains(err.Error(), keyPath) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q does not name %s and say %q", err, keyPath, tc.wantErr)
				}
				if after, err := os.Lstat(keyPath); err != nil || after.Mode() != before.Mode() || after.Size() != before.Size() {
					t.Errorf("the key path changed: %v, %v; was %v", after, err, before)
				}
				if before.Mode()&os.ModeSymlink != 0 {
					target, _ := os.Readlink(keyPath)
					if b, _ := os.ReadFile(target); len(b) != 0 && !bytes.Equal(b, key) {
						t.Errorf("the link's target changed")
					}
					if _, err := os.Lstat(target); tc.name == "dangling symbolic link" && !errors.Is(err, os.ErrNotExist) {
						t.Errorf("the dangling link's target was created (%v)", err)
					}
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
				t.Errorf("store digest %s, want %s under the key in the file (kept)", got, want)
			}
			if !strings.Contains(logs.String(), tc.wantLog) || !strings.Contains(logs.String(), keyPath) {
				t.Errorf("log %q does not name %s and say %q", logs.String(), keyPath, tc.wantLog)
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
		if approvalField(r, "digest") != nil || approvalField(r, "expires") != nil || approvalField(r, "dropped") != true ||
			!strings.Contains(r.Reason, "unkeyed") {
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

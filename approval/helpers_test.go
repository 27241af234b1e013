// SPDX-License-Identifier: Apache-2.0

package approval_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
)

// clock is a settable clock for stores.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testKey is a digest key for tests of Digest alone.
var testKey = bytes.Repeat([]byte{0x42}, approval.DigestKeySize)

// canonicalCall is the canonical JSON of [tool, args] that Digest hashes,
// written independently for args of strings, bools and maps (whose keys
// encoding/json sorts).
func canonicalCall(t *testing.T, tool string, args any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode([]any{tool, args}); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// storeDigest is the digest s binds a request for the call to.
func storeDigest(t *testing.T, s *approval.Store, tool string, args any) string {
	t.Helper()
	d, err := s.Digest(tool, args)
	if err != nil {
		t.Fatalf("Store.Digest: %v", err)
	}
	return d
}

// plainDigest is the unkeyed digest of earlier versions: the hex SHA-256
// of the canonical call.
func plainDigest(t *testing.T, tool string, args any) string {
	t.Helper()
	h := sha256.Sum256(canonicalCall(t, tool, args))
	return hex.EncodeToString(h[:])
}

// keyIDOf is the id of a digest key that the store file records, computed
// independently: the hex of the first 8 bytes of
// HMAC-SHA256(key, "tailops approval key id").
func keyIDOf(key []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("tailops approval key id"))
	return hex.EncodeToString(mac.Sum(nil)[:8])
}

// fileKeyID returns the key_id the store file at path records.
func fileKeyID(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		KeyID string `json:"key_id"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("decoding store file: %v", err)
	}
	return f.KeyID
}

// Callers used across the tests.
var (
	// alice is the requester: an agent on a tailnet.
	alice = &auth.Caller{Agent: "alice-agent", TokenID: "jti-alice", Method: auth.MethodHMAC,
		Scopes: []auth.Scope{auth.ScopeAdmin}, RemoteAddr: "100.64.0.2:4444",
		Tailscale: &auth.TailscaleIdentity{LoginName: "alice@example.com", NodeName: "alice-laptop"}}
	// bob may approve: another agent and another login, with approvals:grant.
	bob = &auth.Caller{Agent: "bob", TokenID: "jti-bob", Method: auth.MethodJWT,
		Scopes: []auth.Scope{auth.ScopeApprovalsGrant}, RemoteAddr: "100.64.0.3:5555",
		Tailscale: &auth.TailscaleIdentity{LoginName: "bob@example.com"}}
	// carol is another person without approvals:grant.
	carol = &auth.Caller{Agent: "carol", TokenID: "jti-carol", Method: auth.MethodHMAC,
		Scopes: []auth.Scope{auth.ScopeReadonly}, Tailscale: &auth.TailscaleIdentity{LoginName: "carol@example.com"}}
)

// with returns a copy of c changed by f.
func with(c *auth.Caller, f func(*auth.Caller)) *auth.Caller {
	cp := *c
	if c.Tailscale != nil {
		ts := *c.Tailscale
		cp.Tailscale = &ts
	}
	f(&cp)
	return &cp
}

// env is a Gate with a real store and a real audit log in a temp dir.
type env struct {
	dir       string
	clock     *clock
	store     *approval.Store
	log       *audit.Log
	auditPath string
	gate      *approval.Gate
}

// newEnv builds an env; cfg's Store and Audit are filled in.
func newEnv(t *testing.T, cfg approval.Config) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), clock: newClock()}
	e.openStore(t)
	e.auditPath = filepath.Join(e.dir, "audit.log")
	l, err := audit.Open(e.auditPath, &audit.Options{Logger: quiet})
	if err != nil {
		t.Fatalf("audit.Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	e.log = l
	cfg.Store = e.store
	cfg.Audit = l.Write
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	g, err := approval.NewGate(cfg)
	if err != nil {
		t.Fatalf("NewGate: %v", err)
	}
	e.gate = g
	return e
}

func (e *env) openStore(t *testing.T) {
	t.Helper()
	s, err := approval.OpenStore(filepath.Join(e.dir, "approvals.json"), &approval.StoreOptions{Now: e.clock.Now, Logger: quiet})
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	e.store = s
}

// check runs Gate.Check for tool with args by caller.
func (e *env) check(t *testing.T, tool string, args any, caller *auth.Caller) approval.Outcome {
	t.Helper()
	o, err := e.gate.Check(context.Background(), approval.Call{Tool: tool, Args: args, Caller: caller, Risk: "critical"}, nil)
	if err != nil {
		t.Fatalf("Check(%s): %v", tool, err)
	}
	return o
}

// records returns the audit records with the event, in order.
func (e *env) records(t *testing.T, event audit.Event) []audit.Record {
	t.Helper()
	f, err := os.Open(e.auditPath)
	if err != nil {
		t.Fatalf("opening audit log: %v", err)
	}
	defer f.Close()
	var out []audit.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("decoding audit line %q: %v", sc.Text(), err)
		}
		if r.Event == event {
			out = append(out, r)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading audit log: %v", err)
	}
	return out
}

// approvalField returns a field of a record's Approval map.
func approvalField(r audit.Record, key string) any {
	m, _ := r.Approval.(map[string]any)
	return m[key]
}

// findRecord returns the last record of event about approval id.
func (e *env) findRecord(t *testing.T, event audit.Event, id string) audit.Record {
	t.Helper()
	rs := e.records(t, event)
	for i := len(rs) - 1; i >= 0; i-- {
		if approvalField(rs[i], "id") == id {
			return rs[i]
		}
	}
	t.Fatalf("no %s audit record for approval %s", event, id)
	return audit.Record{}
}

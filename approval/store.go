// SPDX-License-Identifier: Apache-2.0

package approval

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/redact"
)

// Store defaults.
const (
	// DefaultRetention is how long decided, used and expired requests are
	// kept after their expiry when StoreOptions.Retention is 0.
	DefaultRetention = 24 * time.Hour
	// DefaultMaxPending is StoreOptions.MaxPending when 0.
	DefaultMaxPending = 1000
	// DefaultMaxPendingPerCaller is StoreOptions.MaxPendingPerCaller when
	// 0.
	DefaultMaxPendingPerCaller = 50
)

// fileVersion is the version of the store file's format.
const fileVersion = 1

// storeFile is the store file's content.
type storeFile struct {
	Version int `json:"version"`
	// KeyID is the id (keyID) of the digest key the requests' digests
	// were made under. Files written before it existed lack it.
	KeyID    string    `json:"key_id,omitempty"`
	Requests []Request `json:"requests"`
}

// StoreOptions configure a Store. A nil *StoreOptions means all defaults.
type StoreOptions struct {
	// Now is the clock for creation, expiry and decision times; nil means
	// time.Now. The Gate uses the Store's clock.
	Now func() time.Time
	// Logger receives warnings; nil means slog.Default().
	Logger *slog.Logger
	// Retention is how long finished requests (denied, used, expired) are
	// kept after their expiry before they are dropped from the file; 0
	// means DefaultRetention.
	Retention time.Duration
	// MaxPending caps pending requests, so that a caller varying its
	// arguments cannot grow the file without bound; 0 means
	// DefaultMaxPending.
	MaxPending int
	// MaxPendingPerCaller caps one caller's pending requests, so that
	// one caller cannot fill MaxPending and keep everyone else's calls
	// from being put to an approver; 0 means DefaultMaxPendingPerCaller.
	MaxPendingPerCaller int
}

// Store holds approval requests in memory and in a file (for example
// STATE_DIR/approvals.json). Every change is written to the file before it
// takes effect: into a temporary file in the same directory (mode 0600),
// fsync'd, renamed over the file, and the directory fsync'd. Its methods
// are safe for concurrent use; only one Store may have a file open at a
// time, in any process (it holds an flock on <path>.lock).
type Store struct {
	path       string
	now        func() time.Time
	logger     *slog.Logger
	retention  time.Duration
	maxPending int
	// maxPendingPerCaller is StoreOptions.MaxPendingPerCaller.
	maxPendingPerCaller int
	lock                *os.File
	key                 []byte // the digest key, DigestKeySize bytes
	keyID               string // keyID(key), recorded in the file

	mu      sync.Mutex
	reqs    map[string]*Request
	changed chan struct{} // closed and replaced on every change
	expired []Request     // newly expired, not yet returned by Expire
	closed  bool
}

// OpenStore opens the store file at path, creating its directory (0700)
// when missing, reads and validates the requests in it, then loads the
// argument digest key from path+KeyFileSuffix (creating it, mode 0600,
// when it does not exist; see KeyFileSuffix). Requests past their expiry
// become expired (never approved); Expire returns them so the Gate can
// audit them.
//
// Requests that can never match a call are dropped from the file: those
// whose digest is the unkeyed one of earlier versions, and those made
// under another digest key than the current one. The file records the id
// of the key its requests were made under (keyID); when it differs from
// the current key's, or when the file has no key id (it was written before
// key ids) and the key file had to be created, the key was replaced or
// lost. Of the dropped requests, those still pending or approved are
// returned once by Expire as expired, with Request.Dropped saying why and
// without an unkeyed digest, so that it is not written again.
//
// A file readable by others is set to mode 0600 with a warning. A file
// that is not a valid store is an error naming it, and nothing but that
// mode is changed: not the file's content, and the key file is neither
// read nor created.
func OpenStore(path string, opts *StoreOptions) (*Store, error) {
	s := &Store{path: path, now: time.Now, logger: slog.Default(), retention: DefaultRetention,
		maxPending: DefaultMaxPending, maxPendingPerCaller: DefaultMaxPendingPerCaller, reqs: map[string]*Request{}, changed: make(chan struct{})}
	if opts != nil {
		if opts.Now != nil {
			s.now = opts.Now
		}
		if opts.Logger != nil {
			s.logger = opts.Logger
		}
		if opts.Retention > 0 {
			s.retention = opts.Retention
		}
		if opts.MaxPending > 0 {
			s.maxPending = opts.MaxPending
		}
		if opts.MaxPendingPerCaller > 0 {
			s.maxPendingPerCaller = opts.MaxPendingPerCaller
		}
	}
	if path == "" {
		return nil, errors.New("opening approval store: empty path")
	}
	if err := s.open(); err != nil {
		if s.lock != nil {
			s.lock.Close()
		}
		return nil, fmt.Errorf("opening approval store %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) open() error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("creating directory: %w", err)
	}
	lock, err := os.OpenFile(s.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("creating lock file: %w", err)
	}
	s.lock = lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("locking %s: in use by another tailops server: %w", lock.Name(), err)
		}
		return fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	sf, err := s.readFile()
	if err != nil {
		return err
	}
	// Only now that the file is known to be valid is the key loaded, or
	// created.
	key, created, err := loadDigestKey(s.path+KeyFileSuffix, s.logger)
	if err != nil {
		return err
	}
	s.key, s.keyID = key, keyID(key)
	if sf == nil {
		return nil
	}
	// The keyed requests were made under another key when the file names
	// another one, or, in a file from before key ids, when there was no
	// key file any more.
	keyLost := sf.KeyID != s.keyID && (sf.KeyID != "" || created)
	var stale []Request
	for i := range sf.Requests {
		r := sf.Requests[i]
		switch {
		case unkeyedDigest(r.Digest):
			r.Dropped = DroppedUnkeyed
		case keyLost:
			r.Dropped = DroppedKeyReplaced
		case r.CallerKey != CallerKey(&r.Caller):
			r.Dropped = DroppedCallerKey
		default:
			s.reqs[r.ID] = &r
			continue
		}
		stale = append(stale, r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropStaleLocked(stale)
	expired := s.expireLocked(s.now())
	if pruned := s.pruneLocked(s.now()); expired || pruned || len(stale) > 0 || sf.KeyID != s.keyID {
		return s.saveLocked()
	}
	return nil
}

// readFile reads and validates the store file; nil when there is none.
// It changes nothing but the file's mode (0600) when the file was
// readable by others.
func (s *Store) readFile() (*storeFile, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (mode %v)", fi.Mode())
	}
	if fi.Mode().Perm()&0o077 != 0 {
		s.logger.Warn("approval store was accessible by others; setting mode 0600",
			slog.String("path", s.path), slog.String("mode", fi.Mode().Perm().String()))
		if err := f.Chmod(0o600); err != nil {
			return nil, fmt.Errorf("setting mode 0600: %w", err)
		}
	}
	var sf storeFile
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		return nil, fmt.Errorf("decoding: %w (move the file away to start with no requests)", err)
	}
	if sf.Version != fileVersion {
		return nil, fmt.Errorf("unsupported version %d (want %d)", sf.Version, fileVersion)
	}
	if sf.KeyID != "" && !validKeyID(sf.KeyID) {
		return nil, fmt.Errorf("invalid key id %q", truncate(sf.KeyID, 40))
	}
	seen := map[string]bool{}
	for i := range sf.Requests {
		r := &sf.Requests[i]
		switch {
		case !validID(r.ID):
			return nil, fmt.Errorf("request %d: invalid id %q", i, r.ID)
		case !r.State.valid():
			return nil, fmt.Errorf("request %s: invalid state %q", r.ID, r.State)
		case seen[r.ID]:
			return nil, fmt.Errorf("request %s: duplicate id", r.ID)
		case r.Tool == "" || r.CallerKey != CallerKey(&r.Caller) && r.CallerKey != legacyCallerKey(&r.Caller):
			return nil, fmt.Errorf("request %s: incomplete or inconsistent binding", r.ID)
		case !keyedDigest(r.Digest) && !unkeyedDigest(r.Digest):
			return nil, fmt.Errorf("request %s: invalid digest %q", r.ID, truncate(r.Digest, 80))
		case (r.State == StateApproved || r.State == StateUsed) && (r.Decision == nil || !r.Decision.Approved):
			return nil, fmt.Errorf("request %s: state %s without an approval", r.ID, r.State)
		}
		seen[r.ID] = true
	}
	return &sf, nil
}

// dropStaleLocked handles the requests OpenStore did not load because they
// can never match a call: those with the unkeyed digest of earlier
// versions (a current digest always starts with DigestPrefix), and those
// made under a digest key that was replaced or lost. Approving them would
// help nobody, so they are dropped rather than left to expire. Those still
// pending or approved are queued for Expire as expired, with Dropped set
// and an unkeyed digest removed, so the Gate audits them once. Each is
// logged.
func (s *Store) dropStaleLocked(stale []Request) {
	warned := false
	for _, r := range stale {
		if r.Dropped == DroppedKeyReplaced && !warned {
			warned = true
			s.logger.Warn("the approval digest key was replaced or lost since the approval store was written: "+
				"the requests made under the old key can never match a call, and are dropped",
				slog.String("key", s.path+KeyFileSuffix), slog.String("path", s.path))
		}
		s.logger.Warn("dropping an approval request "+string(r.Dropped)+"; repeat the call to request approval again",
			slog.String("approval_id", r.ID), slog.String("tool", r.Tool), slog.String("state", string(r.State)))
		if r.State == StatePending || r.State == StateApproved {
			r.State = StateExpired
			if !keyedDigest(r.Digest) {
				r.Digest = ""
			}
			s.expired = append(s.expired, r.clone())
		}
	}
}

// Close releases the store's lock. Later calls fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.notifyLocked()
	return s.lock.Close()
}

// Path returns the store file's path.
func (s *Store) Path() string { return s.path }

// Now returns the store clock's current time.
func (s *Store) Now() time.Time { return s.now() }

// Digest returns Digest(key, tool, args) under the store's key: the digest
// a request for the call is bound to.
func (s *Store) Digest(tool string, args any) (string, error) { return Digest(s.key, tool, args) }

// Get returns a copy of the request with id.
func (s *Store) Get(id string) (Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(); err != nil {
		return Request{}, err
	}
	r := s.reqs[id]
	if r == nil {
		return Request{}, ErrNotFound
	}
	return r.clone(), nil
}

// List returns copies of the pending requests, or of all requests when all
// is true, oldest first.
func (s *Store) List(all bool) ([]Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(); err != nil {
		return nil, err
	}
	out := []Request{}
	for _, r := range s.reqs {
		if all || r.State == StatePending {
			out = append(out, r.clone())
		}
	}
	slices.SortFunc(out, func(a, b Request) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Create stores a new pending request for the call of tool with args by
// caller, expiring ttl from now.
func (s *Store) Create(tool string, args any, caller *auth.Caller, risk string, ttl time.Duration) (Request, error) {
	r, err := s.newRequest(Call{Tool: tool, Args: args, Caller: caller, Risk: risk}, ttl)
	if err != nil {
		return Request{}, err
	}
	r, _, err = s.add(r, false, nil)
	return r, err
}

// newRequest builds a pending request for call without storing it.
func (s *Store) newRequest(call Call, ttl time.Duration) (Request, error) {
	tool, args, caller := call.Tool, call.Args, call.Caller
	if caller == nil {
		return Request{}, errors.New("creating approval request: no caller")
	}
	if ttl <= 0 {
		return Request{}, errors.New("creating approval request: non-positive TTL")
	}
	digest, err := BoundDigest(s.key, tool, args, call.Bind)
	if err != nil {
		return Request{}, fmt.Errorf("creating approval request: %w", err)
	}
	id, err := newID()
	if err != nil {
		return Request{}, fmt.Errorf("creating approval request: %w", err)
	}
	now := s.now()
	return Request{ID: id, Tool: tool, Arguments: redact.Value(args), Plan: redact.Value(call.Plan), Digest: digest,
		Caller: cloneCaller(caller), CallerKey: CallerKey(caller), Risk: call.Risk,
		Created: now, Expires: now.Add(ttl), State: StatePending}, nil
}

// add stores r. When reuse is true and a pending request with r's binding
// exists, add returns that one instead (reused true) and stores nothing,
// so identical concurrent calls share one request. before, when not nil,
// runs under the lock after the checks and before a new request is
// written (the Gate writes its audit record there); its error aborts the
// add.
func (s *Store) add(r Request, reuse bool, before func(Request) error) (got Request, reused bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(); err != nil {
		return Request{}, false, err
	}
	if s.reqs[r.ID] != nil {
		return Request{}, false, fmt.Errorf("adding approval request %s: duplicate id", r.ID)
	}
	if reuse {
		if p := s.findPendingLocked(r.Binding()); p != nil {
			return p.clone(), true, nil
		}
	}
	pending, theirs := 0, 0
	for _, x := range s.reqs {
		if x.State == StatePending {
			pending++
			if x.CallerKey == r.CallerKey {
				theirs++
			}
		}
	}
	if theirs >= s.maxPendingPerCaller {
		return Request{}, false, fmt.Errorf("adding approval request: %w for this caller (%d); decide or let them expire", ErrTooManyPending, theirs)
	}
	if pending >= s.maxPending {
		return Request{}, false, fmt.Errorf("adding approval request: %w (%d); decide or let them expire", ErrTooManyPending, pending)
	}
	if before != nil {
		if err := before(r.clone()); err != nil {
			return Request{}, false, err
		}
	}
	c := r.clone()
	s.reqs[r.ID] = &c
	if err := s.saveLocked(); err != nil {
		delete(s.reqs, r.ID)
		return Request{}, false, fmt.Errorf("adding approval request %s: %w", r.ID, err)
	}
	s.notifyLocked()
	return r.clone(), false, nil
}

// FindPending returns a pending request with binding b, if there is one.
func (s *Store) FindPending(b Binding) (Request, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(); err != nil {
		return Request{}, false, err
	}
	if p := s.findPendingLocked(b); p != nil {
		return p.clone(), true, nil
	}
	return Request{}, false, nil
}

// findPendingLocked returns the newest pending request with binding b.
func (s *Store) findPendingLocked(b Binding) *Request {
	var found *Request
	for _, r := range s.reqs {
		if r.State == StatePending && r.Binding() == b && (found == nil || r.Created.After(found.Created)) {
			found = r
		}
	}
	return found
}

// Approver is who decides a request, by mechanism.
type Approver struct {
	// Mechanism is how the decision is made.
	Mechanism Mechanism
	// Caller is the MCP caller deciding, for MechanismTwoPerson; it must
	// hold approvals:grant and be a different identity from the
	// requester (by token agent and by Tailscale login).
	Caller *auth.Caller
	// Local is the host user deciding, for MechanismLocalCLI; a request
	// made over stdio by the same user ("stdio:<name>") is refused.
	Local *LocalUser
	// Name is the approver the webhook named, for MechanismWebhook; it is
	// refused when it equals the requester's agent or Tailscale login.
	Name string
}

// localSelf reports whether the local user u is the requester of a stdio
// call with agent (stdio:NAME, or stdio:UID when the name could not be
// looked up): by name, by uid, or by being this process's user, which a
// stdio server's caller always is. The name alone is not enough: under
// the sandbox the approver's name may not be looked up, or the
// requester's.
func localSelf(u *LocalUser, agent string) bool {
	name, _ := strings.CutPrefix(agent, "stdio:")
	return u.UID == os.Getuid() || name == strconv.Itoa(u.UID) || u.Name != "" && name == u.Name
}

// LocalUser is a user on the host, identified by SO_PEERCRED.
type LocalUser struct {
	// UID is the user's uid.
	UID int
	// Name is the user's name; "" when the uid has no name.
	Name string
}

// String returns "local:<name>(uid N)".
func (u LocalUser) String() string {
	name := u.Name
	if name == "" {
		name = "?"
	}
	return fmt.Sprintf("local:%s(uid %d)", name, u.UID)
}

// identity names the approver in Decision.Approver.
func (a Approver) identity() string {
	switch a.Mechanism {
	case MechanismTwoPerson:
		if a.Caller != nil {
			return identity(a.Caller)
		}
	case MechanismLocalCLI:
		if a.Local != nil {
			return a.Local.String()
		}
	case MechanismWebhook:
		if a.Name != "" {
			return a.Name
		}
		return "webhook"
	}
	return ""
}

// check refuses an approver who may not decide r.
func (a Approver) check(r *Request) error {
	switch a.Mechanism {
	case MechanismTwoPerson:
		switch {
		case a.Caller == nil || a.Caller.Agent == "":
			return fmt.Errorf("%w: the approver is not identified", ErrNoGrantScope)
		case !a.Caller.Allows(auth.ScopeApprovalsGrant):
			return ErrNoGrantScope
		case sameIdentity(a.Caller, &r.Caller):
			return ErrSelfApproval
		}
	case MechanismLocalCLI:
		if a.Local == nil {
			return errors.New("deciding approval request: no local user")
		}
		if r.Caller.Method == auth.MethodStdio && localSelf(a.Local, r.Caller.Agent) {
			return ErrSelfApproval
		}
	case MechanismWebhook:
		login := tailscaleLogin(&r.Caller)
		if a.Name != "" && (strings.EqualFold(a.Name, r.Caller.Agent) || strings.EqualFold(a.Name, identity(&r.Caller)) ||
			(login != "" && strings.EqualFold(a.Name, login))) {
			return ErrSelfApproval
		}
	default:
		return fmt.Errorf("deciding approval request: unknown mechanism %q", a.Mechanism)
	}
	return nil
}

// Decide approves or denies the pending request id on behalf of by, after
// checking that by may decide it. It fails with ErrNotFound, ErrExpired,
// ErrNotPending, ErrNoGrantScope or ErrSelfApproval (wrapped).
func (s *Store) Decide(id string, approved bool, reason string, by Approver) (Request, error) {
	return s.decide(id, approved, reason, by, nil)
}

// decide is Decide with a hook run under the lock after the checks and
// before the file is written; its error aborts the decision.
func (s *Store) decide(id string, approved bool, reason string, by Approver, before func(Request) error) (Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(); err != nil {
		return Request{}, err
	}
	r := s.reqs[id]
	switch {
	case r == nil:
		return Request{}, ErrNotFound
	case r.State == StateExpired:
		return r.clone(), ErrExpired
	case r.State != StatePending:
		return r.clone(), fmt.Errorf("%w: it is %s", ErrNotPending, r.State)
	}
	if err := by.check(r); err != nil {
		return r.clone(), err
	}
	now := s.now()
	next := r.clone()
	next.Decision = &Decision{Approved: approved, Reason: reason, Approver: by.identity(), Mechanism: by.Mechanism,
		At: now, Wait: now.Sub(r.Created)}
	next.State = StateDenied
	if approved {
		next.State = StateApproved
	}
	if before != nil {
		if err := before(next.clone()); err != nil {
			return r.clone(), err
		}
	}
	old := *r
	*r = next
	if err := s.saveLocked(); err != nil {
		*r = old
		return old.clone(), fmt.Errorf("recording decision on approval request %s: %w", id, err)
	}
	s.notifyLocked()
	return next.clone(), nil
}

// Consume marks as used the approved, unexpired request with binding b
// and returns it; ErrNoApproval when there is none. An approval is used at
// most once: when the file cannot be written, the request stays used in
// memory (and the call must not run).
func (s *Store) Consume(b Binding) (Request, error) {
	return s.consume("", b)
}

// ConsumeID is Consume for the request id only.
func (s *Store) ConsumeID(id string, b Binding) (Request, error) {
	return s.consume(id, b)
}

func (s *Store) consume(id string, b Binding) (Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(); err != nil {
		return Request{}, err
	}
	var found *Request
	for _, r := range s.reqs {
		if (id == "" || r.ID == id) && r.State == StateApproved && r.Binding() == b &&
			(found == nil || r.Created.Before(found.Created)) {
			found = r
		}
	}
	if found == nil {
		return Request{}, ErrNoApproval
	}
	found.State = StateUsed
	found.Used = s.now()
	s.notifyLocked()
	if err := s.saveLocked(); err != nil {
		return found.clone(), fmt.Errorf("consuming approval %s: %w", found.ID, err)
	}
	return found.clone(), nil
}

// Expire marks pending and approved requests past their expiry as expired
// and returns the requests that expired since the last call, including
// those OpenStore expired and those other methods found expired, and,
// once, the pending or approved requests OpenStore dropped because they
// could never match a call (with Request.Dropped set).
func (s *Store) Expire() ([]Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.beginLocked(); err != nil {
		return nil, err
	}
	out := s.expired
	s.expired = nil
	return out, nil
}

// Requeue gives rs, requests Expire returned whose expiry could not be
// audited, back to the next Expire.
func (s *Store) Requeue(rs []Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expired = append(rs, s.expired...)
}

// changes returns a channel closed at the next change.
func (s *Store) changes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// beginLocked starts every operation: it refuses after Close, expires
// what is due and drops what is past retention, writing the file when
// that changed anything. A failed
// write leaves the requests expired in memory (never approved) and is
// only logged: the next write retries it.
func (s *Store) beginLocked() error {
	if s.closed {
		return ErrClosed
	}
	now := s.now()
	expired := s.expireLocked(now)
	if pruned := s.pruneLocked(now); expired || pruned {
		if err := s.saveLocked(); err != nil {
			s.logger.Error("writing approval store after expiring requests", slog.String("path", s.path), slog.Any("error", err))
		}
	}
	if expired {
		s.notifyLocked()
	}
	return nil
}

// expireLocked expires due requests and reports whether any did.
func (s *Store) expireLocked(now time.Time) bool {
	changed := false
	for _, r := range s.reqs {
		if (r.State == StatePending || r.State == StateApproved) && !now.Before(r.Expires) {
			r.State = StateExpired
			s.expired = append(s.expired, r.clone())
			changed = true
		}
	}
	return changed
}

// pruneLocked drops finished requests past their retention and reports
// whether any were dropped.
func (s *Store) pruneLocked(now time.Time) bool {
	changed := false
	for id, r := range s.reqs {
		switch r.State {
		case StateDenied, StateUsed, StateExpired:
			if now.Sub(r.Expires) > s.retention {
				delete(s.reqs, id)
				changed = true
			}
		}
	}
	return changed
}

func (s *Store) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// saveLocked writes every request to the file atomically.
func (s *Store) saveLocked() error {
	sf := storeFile{Version: fileVersion, KeyID: s.keyID, Requests: make([]Request, 0, len(s.reqs))}
	for _, r := range s.reqs {
		sf.Requests = append(sf.Requests, *r)
	}
	slices.SortFunc(sf.Requests, func(a, b Request) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	data, err := json.MarshalIndent(&sf, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding approval store: %w", err)
	}
	data = append(data, '\n')
	if err := writeFileAtomic(s.path, data); err != nil {
		return fmt.Errorf("writing approval store: %w", err)
	}
	return nil
}

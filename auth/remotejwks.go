// SPDX-License-Identifier: Apache-2.0

package auth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of RemoteJWKSConfig.
const (
	// DefaultJWKSRefresh is how often a remote key set is fetched again.
	DefaultJWKSRefresh = 15 * time.Minute
	// DefaultJWKSMinInterval is the least time between the last fetch and
	// one that a token naming an unknown kid triggers.
	DefaultJWKSMinInterval = time.Minute
	// DefaultJWKSTimeout bounds one fetch: connection, TLS, headers, body.
	DefaultJWKSTimeout = 10 * time.Second
	// DefaultJWKSMaxBytes bounds the body of a key set response.
	DefaultJWKSMaxBytes = 256 << 10
)

// Fetch triggers, in Fetch.Trigger.
const (
	// TriggerStart is the first fetch, before serving.
	TriggerStart = "start"
	// TriggerRefresh is Run's periodic fetch.
	TriggerRefresh = "refresh"
	// TriggerUnknownKid is a fetch a token naming no known key triggered.
	TriggerUnknownKid = "unknown kid"
)

// ErrKeySetUnreachable wraps a fetch that failed on the way (connection,
// TLS, timeout) or at the server (HTTP 5xx, 429): one that may succeed
// when tried again, unlike an answer that is not a usable key set.
var ErrKeySetUnreachable = errors.New("key set unreachable")

// RemoteJWKSConfig configures a RemoteJWKS.
type RemoteJWKSConfig struct {
	// URL is where the key set is fetched: https, or http to a loopback
	// host (CheckJWKSURL).
	URL string
	// Dial opens the fetches' connections (a tailnet node's dialer, for
	// one); nil means the host's.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Refresh is how often Run fetches the set again; 0 means
	// DefaultJWKSRefresh.
	Refresh time.Duration
	// MinInterval is the least time since the last fetch (whatever
	// triggered it, whatever its outcome) before a token naming an
	// unknown kid triggers another; 0 means DefaultJWKSMinInterval.
	MinInterval time.Duration
	// Timeout bounds one fetch; 0 means DefaultJWKSTimeout.
	Timeout time.Duration
	// MaxBytes bounds a response body; 0 means DefaultJWKSMaxBytes.
	MaxBytes int64
	// Observe, when set, is called after every fetch with its outcome
	// (to log, audit and report it); it must not block for long.
	Observe func(Fetch)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Fetch is the outcome of one fetch of a remote key set.
type Fetch struct {
	// URL is the key set's URL, its password (if any) redacted.
	URL string
	// Trigger is what asked for it: TriggerStart, TriggerRefresh,
	// TriggerUnknownKid or the caller's reason (Fetch's argument).
	Trigger string
	// Err is why the fetch failed, the last good set staying in use;
	// nil when the fetched set is in use. It names the URL, never a token.
	Err error
	// Keys is the number of keys in use after the fetch.
	Keys int
	// Added and Removed are the kids the fetch added to and removed from
	// the set in use ("" is a key without kid).
	Added, Removed []string
}

// Changed reports whether the fetch changed the set in use.
func (f Fetch) Changed() bool { return len(f.Added)+len(f.Removed) > 0 }

// RemoteJWKS is a key set fetched from a URL, and fetched again
// periodically (Run) and when a token names a kid it lacks (at most once
// per MinInterval); a failed fetch keeps the last good set. It is safe for
// concurrent use.
type RemoteJWKS struct {
	cfg    RemoteJWKSConfig
	url    *url.URL
	client *http.Client

	keys atomic.Pointer[JWKS]

	mu   sync.Mutex // held during a fetch: one at a time
	last time.Time  // when the last fetch started; guarded by mu
}

// CheckJWKSURL parses raw, a key set's URL: https, or http to a loopback
// host (localhost, 127.0.0.0/8, ::1), which no one else can listen on.
func CheckJWKSURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%s: no host", u.Redacted())
	case u.Scheme == "https":
	case u.Scheme == "http" && loopbackHost(u.Hostname()):
	case u.Scheme == "http":
		return nil, fmt.Errorf("%s: want https (http only to a loopback host): the key set decides which tokens are accepted", u.Redacted())
	default:
		return nil, fmt.Errorf("%s: want an https URL", u.Redacted())
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return nil, fmt.Errorf("%s: bad port %q", u.Redacted(), p)
		}
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%s: a fragment is never sent; remove it", u.Redacted())
	}
	return u, nil
}

// loopbackHost reports whether host is localhost or a loopback address.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// NewRemoteJWKS checks cfg and returns its key set, not fetched yet: it
// holds no key until Fetch succeeds.
func NewRemoteJWKS(cfg RemoteJWKSConfig) (*RemoteJWKS, error) {
	u, err := CheckJWKSURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("configuring key set URL: %w", err)
	}
	if cfg.Refresh < 0 || cfg.MinInterval < 0 || cfg.Timeout < 0 || cfg.MaxBytes < 0 {
		return nil, errors.New("configuring key set URL: negative interval, timeout or size")
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = DefaultJWKSRefresh
	}
	if cfg.MinInterval == 0 {
		cfg.MinInterval = DefaultJWKSMinInterval
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultJWKSTimeout
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultJWKSMaxBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dial := cfg.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	r := &RemoteJWKS{cfg: cfg, url: u}
	r.client = &http.Client{
		// No proxy from the environment, and no redirect: the key set
		// comes from the configured host over the configured dialer. A
		// connection per fetch: none stays open between fetches minutes
		// apart.
		Transport: &http.Transport{DialContext: dial, ForceAttemptHTTP2: true, TLSHandshakeTimeout: cfg.Timeout,
			ResponseHeaderTimeout: cfg.Timeout, DisableKeepAlives: true},
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			return fmt.Errorf("redirected to %s: redirects are not followed", req.URL.Redacted())
		},
		Timeout: cfg.Timeout,
	}
	return r, nil
}

// URL is the key set's URL, its password (if any) redacted.
func (r *RemoteJWKS) URL() string { return r.url.Redacted() }

// Host is the host name or address of the key set's URL.
func (r *RemoteJWKS) Host() string { return r.url.Hostname() }

// Keys returns the set in use: the last one fetched; nil before the
// first fetch succeeded.
func (r *RemoteJWKS) Keys() *JWKS { return r.keys.Load() }

// Fetch fetches the key set now and puts it in use, or keeps the last
// good one and returns why not. trigger says why, for Observe.
func (r *RemoteJWKS) Fetch(ctx context.Context, trigger string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fetchLocked(ctx, trigger)
}

// Run fetches the key set every Refresh until ctx is done.
func (r *RemoteJWKS) Run(ctx context.Context) {
	tick := time.NewTicker(r.cfg.Refresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			r.Fetch(ctx, TriggerRefresh)
		}
	}
}

// unknownKid fetches the set again for a token naming a kid it lacks,
// unless the last fetch began less than MinInterval ago, and returns the
// set then in use. Concurrent callers wait for one fetch. The fetch is
// shared, so it is bounded by Timeout, not by any one request.
func (r *RemoteJWKS) unknownKid() *JWKS {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.last.IsZero() && r.cfg.Now().Sub(r.last) < r.cfg.MinInterval {
		return r.keys.Load()
	}
	r.fetchLocked(context.Background(), TriggerUnknownKid)
	return r.keys.Load()
}

// fetchLocked is Fetch with r.mu held.
func (r *RemoteJWKS) fetchLocked(ctx context.Context, trigger string) error {
	r.last = r.cfg.Now()
	old := r.keys.Load()
	set, err := r.get(ctx)
	f := Fetch{URL: r.URL(), Trigger: trigger, Err: err}
	if err == nil {
		r.keys.Store(set)
		f.Added, f.Removed = diffKids(old, set), diffKids(set, old)
	}
	f.Keys = r.keys.Load().Len()
	if r.cfg.Observe != nil {
		r.cfg.Observe(f)
	}
	return err
}

// get fetches and parses the key set once.
func (r *RemoteJWKS) get(ctx context.Context) (*JWKS, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	fail := func(format string, args ...any) error {
		return fmt.Errorf("fetching key set %s: "+format, append([]any{r.URL()}, args...)...)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url.String(), nil)
	if err != nil {
		return nil, fail("%v", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		// *url.Error repeats the URL, unredacted: keep its cause only.
		return nil, fail("%w: %v", ErrKeySetUnreachable, r.transportError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return nil, fail("%w: HTTP status %s", ErrKeySetUnreachable, resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fail("HTTP status %s", resp.Status)
	}
	if resp.ContentLength > r.cfg.MaxBytes {
		return nil, fail("the response is %d bytes; at most %d are read", resp.ContentLength, r.cfg.MaxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.cfg.MaxBytes+1))
	if err != nil {
		return nil, fail("%w: reading the response: %v", ErrKeySetUnreachable, r.transportError(err))
	}
	if int64(len(body)) > r.cfg.MaxBytes {
		return nil, fail("the response is larger than %d bytes", r.cfg.MaxBytes)
	}
	set, err := ParseJWKS(body)
	if err != nil {
		return nil, fail("%v", err)
	}
	return set, nil
}

// transportError is err of a request or its body without the URL, which
// *url.Error repeats unredacted, and with the timeout said one way
// whichever part of the fetch ran out of time.
func (r *RemoteJWKS) transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("timed out after %s", r.cfg.Timeout)
	}
	return err
}

// diffKids returns the kids of b's keys that a lacks, or holds with
// other key material, sorted.
func diffKids(a, b *JWKS) []string {
	if b == nil {
		return nil
	}
	var out []string
	for _, k := range b.keys {
		if !a.has(k) {
			out = append(out, k.id)
		}
	}
	slices.Sort(out)
	return out
}

// has reports whether s holds k: the same kid, algorithm and public key.
func (s *JWKS) has(k jwksKey) bool {
	if s == nil {
		return false
	}
	for _, o := range s.keys {
		if o.id == k.id && o.alg == k.alg {
			pub, ok := o.public.(interface{ Equal(crypto.PublicKey) bool })
			return ok && pub.Equal(k.public)
		}
	}
	return false
}

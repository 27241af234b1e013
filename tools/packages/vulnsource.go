// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/tailops/tailops/netpolicy"
)

// DefaultVulnData is where check_vulnerabilities reads the security
// tracker's data by default.
const DefaultVulnData = "https://security-tracker.debian.org/tracker/data/json"

// Bounds of a fetch of the vulnerability data.
const (
	// maxVulnDataBytes is the largest feed read (the tracker's is about
	// 70 MB uncompressed).
	maxVulnDataBytes = 512 << 20
	// vulnFetchTimeout bounds one fetch, body included.
	vulnFetchTimeout = 5 * time.Minute
	// defaultVulnMaxAge is how long fetched data is reused.
	defaultVulnMaxAge = time.Hour
	// minVulnRefresh is how old a URL's data must be before refresh
	// fetches it again: a caller cannot make the server download the
	// feed, some 70 MB, over and over.
	minVulnRefresh = 5 * time.Minute
)

// vulnSource is where the vulnerability data comes from: a URL fetched
// through the destination policy, or a file.
type vulnSource struct {
	url    *url.URL // nil for a file
	file   string
	policy *netpolicy.Policy
	ua     string
}

// parseVulnSource parses the vuln data setting: an http or https URL, or
// an absolute file path.
func parseVulnSource(s string, allow []string) (*vulnSource, error) {
	if s == "" {
		s = DefaultVulnData
	}
	if filepath.IsAbs(s) {
		return &vulnSource{file: filepath.Clean(s)}, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("vulnerability data %q: want an http or https URL, or an absolute file path", s)
	}
	if u.User != nil {
		return nil, fmt.Errorf("vulnerability data %q: a URL with user info is refused", u.Redacted())
	}
	if _, err := netpolicy.ParseHost(u.Hostname()); err != nil {
		return nil, fmt.Errorf("vulnerability data %q: %w", s, err)
	}
	pol, err := netpolicy.New(netpolicy.Config{Allow: allow})
	if err != nil {
		return nil, fmt.Errorf("vulnerability data allow-list: %w", err)
	}
	return &vulnSource{url: u, policy: pol}, nil
}

// String is the URL or the file path.
func (s *vulnSource) String() string {
	if s.url != nil {
		return s.url.String()
	}
	return s.file
}

// port is the URL's TCP port; 0 for a file.
func (s *vulnSource) port() uint16 {
	if s.url == nil {
		return 0
	}
	if p := s.url.Port(); p != "" {
		n, _ := strconv.ParseUint(p, 10, 16)
		return uint16(n)
	}
	if s.url.Scheme == "https" {
		return 443
	}
	return 80
}

// stamp identifies the file's contents (size and modification time), so
// that a changed file is read again; "" for a URL.
func (s *vulnSource) stamp() string {
	if s.url != nil {
		return ""
	}
	fi, err := os.Stat(s.file)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano())
}

// open returns the data: the file, or the response body of a GET that
// the destination policy allowed (every address dialled, redirects
// included, is checked), bounded to maxVulnDataBytes.
func (s *vulnSource) open(ctx context.Context) (io.ReadCloser, error) {
	if s.url == nil {
		f, err := os.Open(s.file)
		if err != nil {
			return nil, fmt.Errorf("opening the vulnerability data file: %w", err)
		}
		return f, nil
	}
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) {
		host, port, err := netpolicy.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		dest, err := s.policy.Resolve(ctx, host, port)
		if err != nil {
			return nil, err
		}
		return dest.DialContext(ctx, "tcp")
	}
	tr := &http.Transport{Proxy: nil, DialContext: dial, DisableKeepAlives: true, ResponseHeaderTimeout: time.Minute}
	hc := &http.Client{Transport: tr, Timeout: vulnFetchTimeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("fetching the vulnerability data: %w", err)
	}
	req.Header.Set("User-Agent", "tailops/"+s.ua)
	resp, err := hc.Do(req)
	if err != nil {
		var re *netpolicy.RefusedError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("fetching the vulnerability data from %s: %w (the vuln_data_allow list, --vuln-data-allow, lifts the default for the data's host)", s.url.Redacted(), re)
		}
		return nil, fmt.Errorf("fetching the vulnerability data from %s: %w", s.url.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("fetching the vulnerability data from %s: %s", s.url.Redacted(), resp.Status)
	}
	return &limitedBody{r: io.LimitReader(resp.Body, maxVulnDataBytes+1), c: resp.Body}, nil
}

// limitedBody fails a read past maxVulnDataBytes.
type limitedBody struct {
	r io.Reader
	c io.Closer
	n int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.n += int64(n); b.n > maxVulnDataBytes {
		return 0, fmt.Errorf("the vulnerability data is larger than %d MiB", maxVulnDataBytes>>20)
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.c.Close() }

// vulnCache keeps the last data read, for one release and a set of
// source packages, with when it was read.
type vulnCache struct {
	mu      sync.Mutex // held through a fetch: one at a time
	data    *trackerData
	sources map[string]bool
	at      time.Time
	stamp   string
	// minRefresh is how old a URL's data must be for refresh to fetch it
	// again; zero means minVulnRefresh.
	minRefresh time.Duration
}

// get returns data covering release and every source of want, read
// within maxAge (and, for a file, from the same contents), or reads it
// again. The time returned is when the data was read.
func (c *vulnCache) get(ctx context.Context, src *vulnSource, release string, want map[string]bool, maxAge time.Duration,
	refresh bool, log *slog.Logger) (*trackerData, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	stamp := src.stamp()
	if refresh && src.url != nil && time.Since(c.at) < cmp.Or(c.minRefresh, minVulnRefresh) {
		refresh = false // too soon: the copy in memory is fresh enough
	}
	if !refresh && c.data != nil && c.data.Release == release && time.Since(c.at) < maxAge && c.stamp == stamp && covers(c.sources, want) {
		return c.data, c.at, nil
	}
	start := time.Now()
	r, err := src.open(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer r.Close()
	d, err := parseTracker(ctx, r, release, func(s string) bool { return want[s] })
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%s: %w", src, err)
	}
	c.data, c.sources, c.at, c.stamp = d, want, time.Now(), stamp
	log.Info("check_vulnerabilities: read the vulnerability data", "source", src.String(), "release", release,
		"sources", d.Sources, "kept", d.Entries, "took", time.Since(start).Round(time.Millisecond))
	return d, c.at, nil
}

// covers reports whether have holds every key of want.
func covers(have, want map[string]bool) bool {
	for k := range want {
		if !have[k] {
			return false
		}
	}
	return true
}

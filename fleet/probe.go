// SPDX-License-Identifier: Apache-2.0

package fleet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/tailops/tailops/tailnet"
)

// probe is a peer's answer to "are you TailOps?".
type probe struct {
	at      time.Time
	addr    netip.Addr // the address it was asked at
	url     string     // the base URL that answered; "" if none did
	version string
	problem string
}

// probeMember fills m's URL, version and problem from the peer's probe,
// asking it again once the last answer is older than probeTTL (a failure:
// failedProbeTTL).
func (f *Fleet) probeMember(ctx context.Context, m *Member, id string) {
	f.mu.Lock()
	p, ok := f.probes[id]
	f.mu.Unlock()
	ttl := probeTTL
	if p.url == "" {
		ttl = failedProbeTTL
	}
	if !ok || time.Since(p.at) > ttl || p.addr != m.addr {
		p = f.probe(ctx, *m)
		f.mu.Lock()
		f.probes[id] = p
		f.mu.Unlock()
	}
	m.url, m.Version, m.TailOps = p.url, p.version, p.url != ""
	if !m.TailOps {
		m.Problem = p.problem
	}
}

// candidates are the base URLs a TailOps node may serve on: HTTP on port
// 80 at its address, and HTTPS on 443 at its MagicDNS name (a tsnet node
// serves one or the other, as its tailnet offers certificates).
func candidates(m Member) []string {
	out := []string{"http://" + hostOf(m)}
	if strings.Contains(m.Name, ".") {
		out = append(out, "https://"+m.Name)
	}
	return out
}

// hostOf is the host part of m's HTTP URL: its address.
func hostOf(m Member) string {
	if m.addr.Is6() {
		return "[" + m.addr.String() + "]"
	}
	return m.addr.String()
}

// probe asks every candidate URL of m at once; the first that answers as
// TailOps wins.
func (f *Fleet) probe(ctx context.Context, m Member) probe {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	type answer struct {
		url, version string
		err          error
	}
	cands := candidates(m)
	ch := make(chan answer, len(cands))
	for _, u := range cands {
		go func() {
			v, err := f.ask(ctx, m, u)
			ch <- answer{u, v, err}
		}()
	}
	var errs []string
	for range cands {
		a := <-ch
		if a.err == nil {
			return probe{at: time.Now(), addr: m.addr, url: a.url, version: a.version}
		}
		errs = append(errs, a.err.Error())
		f.log.Debug("fleet: probe failed", "member", m.Name, "url", a.url, "error", a.err)
	}
	return probe{at: time.Now(), addr: m.addr, problem: strings.Join(errs, "; ")}
}

// ask fetches base's /healthz, which a TailOps server answers with its
// version in tailnet.VersionHeader.
func (f *Fleet) ask(ctx context.Context, m Member, base string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return "", err
	}
	res, err := f.http.get(base, m.addr).Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: no answer (%v)", base, unwrapURL(err))
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 4<<10))
	v := res.Header.Get(tailnet.VersionHeader)
	if res.StatusCode != http.StatusOK || v == "" {
		return "", fmt.Errorf("%s/healthz answered %s without %s: not TailOps", base, res.Status, tailnet.VersionHeader)
	}
	return v, nil
}

// unwrapURL drops *url.Error's repetition of the method and URL.
func unwrapURL(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap()
	}
	return err
}

// httpClients are the HTTP clients of the members, one per base URL:
// each dials the member's tailnet address through the entry node, whatever
// the URL's host, so that an HTTPS URL can carry the member's name.
type httpClients struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	mu   sync.Mutex
	m    map[string]memberClient
}

// memberClient is a client and the address it dials.
type memberClient struct {
	addr netip.Addr
	*http.Client
}

func newHTTPClients(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *httpClients {
	return &httpClients{dial: dial, m: map[string]memberClient{}}
}

// get returns the client for base (http://ADDR or https://NAME), which
// dials addr. A name whose address has changed gets a new client: the
// old one's connections go to the old address.
func (h *httpClients) get(base string, addr netip.Addr) *http.Client {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.m[base]; ok {
		if c.addr == addr {
			return c.Client
		}
		c.CloseIdleConnections()
	}
	port, name := uint16(80), ""
	if n, ok := strings.CutPrefix(base, "https://"); ok {
		port, name = 443, n
	}
	to := netip.AddrPortFrom(addr, port).String()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return h.dial(ctx, "tcp", to)
		},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	if name != "" {
		tr.TLSClientConfig = memberTLS(name)
	}
	// A member's redirect is refused, never followed: a request carries the
	// caller's token and address, which must go to that member only.
	c := &http.Client{Transport: tr, CheckRedirect: refuseRedirect}
	h.m[base] = memberClient{addr, c}
	return c
}

// memberTLS is the TLS configuration for a member serving HTTPS at name.
// The connection is dialed to the member's tailnet address through the
// tailnet, whose WireGuard keys already authenticate the node behind that
// address; the certificate (Let's Encrypt's, for the node's ts.net name)
// is checked to be for that name and current, but not chained to a root:
// the sandbox keeps the system's roots out of reach, and they would add
// nothing the tailnet has not established.
func memberTLS(name string) *tls.Config {
	return &tls.Config{
		ServerName:         name,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // see above: VerifyConnection checks name and validity
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the member sent no certificate")
			}
			leaf := cs.PeerCertificates[0]
			if now := time.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
				return fmt.Errorf("the member's certificate is not valid now (%s to %s)", leaf.NotBefore, leaf.NotAfter)
			}
			return leaf.VerifyHostname(name)
		},
	}
}

// dial dials through the entry node.
func (f *Fleet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	f.mu.Lock()
	n := f.node
	f.mu.Unlock()
	if n == nil {
		return nil, errors.New("this node is not on the tailnet yet")
	}
	return n.Dial(ctx, network, addr)
}

// refuseRedirect is the members' clients' CheckRedirect: no redirect is
// followed (the 3xx answer is an error of the call).
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	return fmt.Errorf("the member redirected the request to %s: a fleet entry node follows no redirect", req.URL.Redacted())
}

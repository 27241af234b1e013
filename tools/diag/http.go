// SPDX-License-Identifier: Apache-2.0

package diag

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"

	"github.com/tailops/tailops/netpolicy"
	"github.com/tailops/tailops/tools"
)

// httpMaxRedirects is how many redirects http_request_test follows.
const httpMaxRedirects = 5

// httpMaxHeaderBytes bounds the response headers.
const httpMaxHeaderBytes = 64 << 10

// Why http_request_test refuses a header (httpRefusedHeaders).
const (
	whyHop = "it is hop-by-hop: the connection is the transport's, and a caller's value could upgrade it " +
		"or pass a request on through a proxy"
	whyFraming = "the transport frames the body; a caller's value could desynchronise a proxy and smuggle a second request"
	whyHost    = "the request goes to the URL's host, which the diagnostics policy checked; a Host header would route it " +
		"to another site behind the same address (put the name in url)"
	whyRoute  = "proxies and frameworks route by it, to another host or path than the URL's, which the diagnostics policy checked"
	whyClient = "it claims the request came from another client or through another proxy, which servers route by " +
		"and check IP allow-lists against"
	whyMethod = "frameworks run the request as the method it names, past the method allow-list (--diag-http-method)"
	whyUser   = "reverse proxies in front of a service (tailscale serve, oauth2-proxy, Authelia, Grafana's auth proxy) " +
		"set it to tell the service who the user is, and services behind them take it at its word"
	whyFleet = "TailOps fleet members take Tailops-Fleet-Caller from a fleet entry node as its word on who is calling, " +
		"and this request leaves from this node, which they may trust as one"
)

// httpRefusedHeaders are the request headers http_request_test refuses,
// compared case-insensitively; a name ending in "*" is a prefix.
var httpRefusedHeaders = []struct{ name, why string }{
	{"Host", whyHost},
	{"Connection", whyHop}, {"Keep-Alive", whyHop}, {"Proxy-*", whyHop}, {"TE", whyHop},
	{"Trailer", whyHop}, {"Upgrade", whyHop}, {"HTTP2-Settings", whyHop},
	{"Transfer-Encoding", whyFraming}, {"Content-Length", whyFraming}, {"Expect", whyFraming},
	{"Forwarded", whyClient}, {"Via", whyClient}, {"X-Forwarded-*", whyClient}, {"X-Real-IP", whyClient},
	{"X-Client-IP", whyClient}, {"Client-IP", whyClient}, {"True-Client-IP", whyClient}, {"CF-Connecting-IP", whyClient},
	{"Fastly-Client-IP", whyClient}, {"X-Cluster-Client-IP", whyClient}, {"X-Originating-IP", whyClient},
	{"X-Remote-IP", whyClient}, {"X-Remote-Addr", whyClient},
	{"X-Host", whyRoute}, {"X-Original-URL", whyRoute}, {"X-Rewrite-URL", whyRoute}, {"Max-Forwards", whyRoute},
	{"X-HTTP-Method-Override", whyMethod}, {"X-HTTP-Method", whyMethod}, {"X-Method-Override", whyMethod},
	{"Tailops-*", whyFleet},
	{"Tailscale-*", whyUser}, {"X-Webauth-*", whyUser}, {"Remote-User", whyUser}, {"Remote-Email", whyUser},
	{"Remote-Groups", whyUser}, {"Remote-Name", whyUser}, {"X-Remote-User", whyUser}, {"X-Auth-Request-*", whyUser},
}

// origin is u's scheme, host and port (the scheme's default when u
// names none), lower-cased.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// refusedHeader says why http_request_test refuses the header name, or ""
// when it does not.
func refusedHeader(name string) string {
	for _, h := range httpRefusedHeaders {
		if p, ok := strings.CutSuffix(h.name, "*"); ok && len(name) > len(p) && strings.EqualFold(name[:len(p)], p) ||
			strings.EqualFold(name, h.name) {
			return h.why
		}
	}
	return ""
}

// refusedHeaderNames lists httpRefusedHeaders for the tool's description.
func refusedHeaderNames() string {
	names := make([]string, len(httpRefusedHeaders))
	for i, h := range httpRefusedHeaders {
		names[i] = h.name
	}
	return strings.Join(names, ", ")
}

// HTTPArgs is http_request_test's input.
type HTTPArgs struct {
	URL             string            `json:"url" jsonschema_description:"http or https URL. User info (user@host) is refused; send credentials in a header."`
	Method          string            `json:"method,omitempty" jsonschema_description:"GET (default) or HEAD; other methods only if the server is configured for them."`
	Headers         map[string]string `json:"headers,omitempty" jsonschema_description:"Request headers. Host, hop-by-hop, framing and routing headers are refused (the tool's description lists them)."`
	Body            string            `json:"body,omitempty" jsonschema_description:"Request body, at most 64 KiB; not with GET or HEAD."`
	TimeoutMS       *int              `json:"timeout_ms,omitempty" jsonschema_description:"Milliseconds for the whole exchange, redirects and body included, 100 to 60000; default 10000."`
	MaxBodyBytes    *int              `json:"max_body_bytes,omitempty" jsonschema_description:"Response body bytes to read and return, 0 to 1048576; default 65536. The rest is not read."`
	FollowRedirects *bool             `json:"follow_redirects,omitempty" jsonschema_description:"Follow redirects (at most 5, each checked by the policy); default true."`
}

// HTTPTimings are the last request's phases, in milliseconds.
type HTTPTimings struct {
	DNSMS       float64 `json:"dns_ms" jsonschema_description:"Name resolution; 0 for an IP address."`
	ConnectMS   float64 `json:"connect_ms" jsonschema_description:"TCP connect."`
	TLSMS       float64 `json:"tls_ms" jsonschema_description:"TLS handshake; 0 for http."`
	FirstByteMS float64 `json:"first_byte_ms" jsonschema_description:"From the start of the request (before DNS) to the first byte of the response."`
	TotalMS     float64 `json:"total_ms" jsonschema_description:"The whole call: every redirect and the body read."`
}

// HTTPRedirect is one redirect followed (or, with follow_redirects false,
// not followed).
type HTTPRedirect struct {
	StatusCode int    `json:"status_code"`
	From       string `json:"from"`
	To         string `json:"to"`
	// HeadersDropped: the request's headers were not sent on, because the
	// redirect leaves the URL's origin.
	HeadersDropped bool `json:"headers_dropped,omitempty" jsonschema_description:"The headers given were not sent to this redirect's destination: it is another origin (scheme, host or port) than the URL's."`
}

// HTTPTLS describes the final connection's TLS.
type HTTPTLS struct {
	Version     string `json:"version"`
	CipherSuite string `json:"cipher_suite"`
	ServerName  string `json:"server_name,omitempty"`
}

// HTTPResult is http_request_test's output.
type HTTPResult struct {
	URL           string            `json:"url" jsonschema_description:"The final URL, after redirects."`
	Method        string            `json:"method"`
	AllowListed   bool              `json:"allow_listed" jsonschema_description:"The URL is on an explicit allow-list entry: the call needs no approval, and redirects were followed only to allow-listed destinations."`
	StatusCode    int               `json:"status_code"`
	Status        string            `json:"status"`
	Proto         string            `json:"proto"`
	RemoteAddress string            `json:"remote_address" jsonschema_description:"The address the final response came from, address:port."`
	Headers       map[string]string `json:"headers" jsonschema_description:"Response headers; repeated ones joined with \", \"."`
	Body          string            `json:"body" jsonschema_description:"The start of the body, up to max_body_bytes."`
	BodyEncoding  string            `json:"body_encoding" jsonschema:"enum=text,enum=base64" jsonschema_description:"base64 when the body is not UTF-8 text."`
	BodyBytes     int               `json:"body_bytes" jsonschema_description:"Bytes of body returned."`
	BodyTruncated bool              `json:"body_truncated" jsonschema_description:"The body is longer than max_body_bytes; the rest was not read."`
	BodyError     string            `json:"body_error,omitempty" jsonschema_description:"Why reading the body stopped early (a timeout, a reset)."`
	Redirects     []HTTPRedirect    `json:"redirects"`
	TLS           *HTTPTLS          `json:"tls,omitempty"`
	Timings       HTTPTimings       `json:"timings"`
}

// httpTiming collects one request's phases from the dialer and the
// trace; each new connection (each redirect) starts over.
type httpTiming struct {
	mu                           sync.Mutex
	start, tlsStart              time.Time
	dns, connect, tls, firstByte time.Duration
	remote                       string
}

func (g *diag) httpRequest(ctx context.Context, in HTTPArgs) (HTTPResult, error) {
	start := time.Now()
	u, err := httpURL("url", in.URL)
	if err != nil {
		return HTTPResult{}, err
	}
	method := strings.ToUpper(cmp.Or(in.Method, http.MethodGet))
	if method != http.MethodGet && method != http.MethodHead && !slices.Contains(g.cfg.Methods, method) {
		allowed := append([]string{http.MethodGet, http.MethodHead}, g.cfg.Methods...)
		return HTTPResult{}, tools.ArgErrorf("method", "%s is not allowed (allowed: %s; the server's --diag-http-method adds more)", method, strings.Join(allowed, ", "))
	}
	if in.Body != "" && (method == http.MethodGet || method == http.MethodHead) {
		return HTTPResult{}, tools.ArgErrorf("body", "a body is not sent with %s", method)
	}
	if len(in.Body) > 64<<10 {
		return HTTPResult{}, tools.ArgErrorf("body", "is %d bytes, more than 64 KiB", len(in.Body))
	}
	for k, v := range in.Headers {
		switch {
		case !httpguts.ValidHeaderFieldName(k):
			return HTTPResult{}, tools.ArgErrorf("headers", "%q is not a valid header name", k)
		case !httpguts.ValidHeaderFieldValue(v):
			return HTTPResult{}, tools.ArgErrorf("headers", "the value of %s is not a valid header value", k)
		}
		if why := refusedHeader(k); why != "" {
			return HTTPResult{}, tools.ArgErrorf("headers", "%s is refused: %s", http.CanonicalHeaderKey(k), why)
		}
	}
	timeout, err := durationArg("timeout_ms", in.TimeoutMS, 10000, 100, 60000)
	if err != nil {
		return HTTPResult{}, err
	}
	maxBody, err := tools.IntArg("max_body_bytes", in.MaxBodyBytes, 64<<10, 0, 1<<20)
	if err != nil {
		return HTTPResult{}, err
	}
	pol := g.policy
	// Refuse a disallowed host before anything is sent; the dialer checks
	// again, with the resolved addresses, for this request and every
	// redirect.
	if _, err := netpolicy.ParseHost(u.Hostname()); err != nil {
		return HTTPResult{}, err
	}
	allowListed := pol.ExplicitlyAllowedURL(u.String())
	res := HTTPResult{Method: method, AllowListed: allowListed, Redirects: []HTTPRedirect{}}

	tm := &httpTiming{}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := netpolicy.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		dest, err := pol.Resolve(ctx, host, port)
		if err != nil {
			return nil, err
		}
		t := time.Now()
		c, err := dest.DialContext(ctx, "tcp")
		tm.mu.Lock()
		defer tm.mu.Unlock()
		tm.dns, tm.connect = dest.LookupTime, time.Since(t)
		if c != nil {
			tm.remote = c.RemoteAddr().String()
		}
		return c, err
	}
	trace := &httptrace.ClientTrace{
		GetConn: func(string) {
			tm.mu.Lock()
			defer tm.mu.Unlock()
			tm.start, tm.dns, tm.connect, tm.tls, tm.firstByte = time.Now(), 0, 0, 0, 0
		},
		TLSHandshakeStart: func() { tm.mu.Lock(); tm.tlsStart = time.Now(); tm.mu.Unlock() },
		TLSHandshakeDone: func(tls.ConnectionState, error) {
			tm.mu.Lock()
			tm.tls = time.Since(tm.tlsStart)
			tm.mu.Unlock()
		},
		GotFirstResponseByte: func() { tm.mu.Lock(); tm.firstByte = time.Since(tm.start); tm.mu.Unlock() },
	}
	tr := &http.Transport{
		Proxy:                  nil, // never a proxy from the environment: it would be the real destination
		DialContext:            dial,
		TLSClientConfig:        &tls.Config{RootCAs: g.cfg.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: httpMaxHeaderBytes,
	}
	defer tr.CloseIdleConnections()
	follow := in.FollowRedirects == nil || *in.FollowRedirects
	hc := &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		prev := via[len(via)-1]
		code := 0
		if req.Response != nil {
			code = req.Response.StatusCode
		}
		hop := HTTPRedirect{StatusCode: code, From: prev.URL.String(), To: req.URL.String()}
		if !follow { // the redirect is the result: nothing is sent
			res.Redirects = append(res.Redirects, hop)
			return http.ErrUseLastResponse
		}
		if origin(req.URL) != origin(via[0].URL) {
			// The caller's headers (an API key, a token) and body were meant
			// for the URL asked for, and an approver saw only that URL: Go's
			// client drops only Authorization and cookies on another host,
			// resends the body on a 307 or 308, and names the URL it leaves
			// (query string included) in Referer.
			if req.GetBody != nil && in.Body != "" {
				res.Redirects = append(res.Redirects, hop)
				return fmt.Errorf("it would send the request's body to another origin than the URL's: ask again with follow_redirects false to see it")
			}
			for k := range in.Headers {
				if req.Header.Get(k) != "" {
					hop.HeadersDropped = true
				}
				req.Header.Del(k)
			}
			req.Header.Del("Referer")
		}
		res.Redirects = append(res.Redirects, hop)
		if len(via) > httpMaxRedirects {
			return fmt.Errorf("stopped after %d redirects", httpMaxRedirects)
		}
		if _, err := httpURL("redirect", req.URL.String()); err != nil {
			return err
		}
		if _, err := netpolicy.ParseHost(req.URL.Hostname()); err != nil {
			return err
		}
		if allowListed && !pol.ExplicitlyAllowedURL(req.URL.String()) {
			return &netpolicy.RefusedError{Dest: req.URL.Host, Rule: "approval",
				Reason: fmt.Sprintf("%s is not on the allow-list, and this request ran without approval because %s is, "+
					"so it may only be redirected to allow-listed destinations", req.URL.Host, u.Host),
				Hint: "ask for the redirect's URL itself (it will need approval) or add it with --diag-allow"}
		}
		return nil
	}}
	var body io.Reader
	if in.Body != "" {
		body = strings.NewReader(in.Body)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, u.String(), body)
	if err != nil {
		return HTTPResult{}, fmt.Errorf("building the request: %w", err)
	}
	keys := make([]string, 0, len(in.Headers))
	for k := range in.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		req.Header.Set(k, in.Headers[k])
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "tailops-http-request-test/"+g.cfg.Version)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return HTTPResult{}, httpError(err, u, len(res.Redirects), timeout)
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(io.LimitReader(resp.Body, int64(maxBody)+1))
	if len(b) > maxBody {
		b, res.BodyTruncated = b[:maxBody], true
	}
	if rerr != nil {
		res.BodyError = rerr.Error()
	}
	res.URL, res.StatusCode, res.Status, res.Proto = resp.Request.URL.String(), resp.StatusCode, resp.Status, resp.Proto
	res.Headers = map[string]string{}
	for k, v := range resp.Header {
		res.Headers[k] = strings.Join(v, ", ")
	}
	res.BodyBytes, res.BodyEncoding, res.Body = len(b), "text", string(b)
	if !utf8.Valid(b) {
		res.BodyEncoding, res.Body = "base64", base64.StdEncoding.EncodeToString(b)
	}
	if st := resp.TLS; st != nil {
		res.TLS = &HTTPTLS{Version: tls.VersionName(st.Version), CipherSuite: tls.CipherSuiteName(st.CipherSuite), ServerName: st.ServerName}
	}
	tm.mu.Lock()
	res.RemoteAddress = tm.remote
	res.Timings = HTTPTimings{DNSMS: ms(tm.dns), ConnectMS: ms(tm.connect), TLSMS: ms(tm.tls), FirstByteMS: ms(tm.firstByte)}
	tm.mu.Unlock()
	res.Timings.TotalMS = ms(time.Since(start))
	return res, nil
}

// httpURL parses an http or https URL, refusing user info.
func httpURL(arg, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		// Not echoed: it may hold a password, and errors reach the logs.
		return nil, tools.ArgErrorf(arg, "not a valid URL: %v", errors.Unwrap(err))
	}
	// Shown without user info: a token is often the user name
	// (https://TOKEN@host), and errors reach the logs.
	bare := *u
	bare.User = nil
	shown := bare.String()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, tools.ArgErrorf(arg, "only http and https URLs are allowed, got %q", shown)
	case u.Opaque != "" || u.Host == "":
		return nil, tools.ArgErrorf(arg, "%q has no host", shown)
	case u.User != nil:
		return nil, &netpolicy.RefusedError{Dest: shown, Rule: "user info in URL",
			Reason: fmt.Sprintf("the URL for %q has user info before the @ (not shown: it may be a credential): URLs with user info are refused, they can disguise the host", shown),
			Hint:   "send credentials in an Authorization header"}
	}
	return u, nil
}

// httpError describes a failed exchange: the policy's refusal as it is,
// with the redirect it happened on.
func httpError(err error, u *url.URL, redirects int, timeout time.Duration) error {
	var ue *url.Error
	target := u.String()
	if errors.As(err, &ue) {
		target, err = ue.URL, ue.Err
	}
	what := "requesting " + target
	if redirects > 0 {
		what = "following the redirect to " + target
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s: no complete response within %s: %w", what, timeout, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func httpText(r HTTPResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s → %s (%s, from %s)\n", r.Method, r.URL, r.Status, r.Proto, r.RemoteAddress)
	for _, rd := range r.Redirects {
		fmt.Fprintf(&b, "redirect %d: %s → %s\n", rd.StatusCode, rd.From, rd.To)
	}
	t := r.Timings
	fmt.Fprintf(&b, "timings: dns %.1f ms, connect %.1f ms, tls %.1f ms, first byte %.1f ms, total %.1f ms\n",
		t.DNSMS, t.ConnectMS, t.TLSMS, t.FirstByteMS, t.TotalMS)
	keys := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, r.Headers[k])
	}
	trunc := ""
	if r.BodyTruncated {
		trunc = ", truncated"
	}
	fmt.Fprintf(&b, "\nbody (%d bytes, %s%s):\n%s\n", r.BodyBytes, r.BodyEncoding, trunc, r.Body)
	return b.String()
}

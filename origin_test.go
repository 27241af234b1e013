// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tailops/tailops/auth"
)

// TestForeignOriginIsRefused: a request a browser sends from a page that
// is not this server's — another site, another port of this host, an
// opaque origin, or (without Origin) a cross-site fetch — is refused with
// 403 on every method, before authentication, and audited. Requests
// without Origin (non-browser clients) and from this server's own origins
// (loopback names with its port, the --resource-url origin) go through.
func TestForeignOriginIsRefused(t *testing.T) {
	s := startServer(t, "--resource-url", "https://tailops.example:443/mcp") // its origin is https://tailops.example
	tok := s.token(t, "browser", auth.ScopeReadonly)
	_, portStr, _ := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))
	port, _ := strconv.Atoi(portStr)
	own := fmt.Sprintf(":%d", port)
	other := fmt.Sprintf(":%d", port+1)
	for _, tc := range []struct {
		hdr  map[string]string
		want int
	}{
		{nil, 200},
		{map[string]string{"Origin": "http://127.0.0.1" + own}, 200},
		{map[string]string{"Origin": "http://localhost" + own}, 200},
		{map[string]string{"Origin": "http://[::1]" + own}, 200},
		{map[string]string{"Origin": "https://tailops.example"}, 200},
		{map[string]string{"Origin": "http://127.0.0.1" + own, "Sec-Fetch-Site": "same-origin"}, 200},
		{map[string]string{"Sec-Fetch-Site": "none"}, 200},
		{map[string]string{"Origin": "http://evil.example"}, 403},
		{map[string]string{"Origin": "http://evil.example" + own}, 403},
		{map[string]string{"Origin": "http://127.0.0.1" + other}, 403},
		{map[string]string{"Origin": "http://localhost"}, 403},
		{map[string]string{"Origin": "https://tailops.example:8443"}, 403},
		{map[string]string{"Origin": "http://tailops.example"}, 403},
		{map[string]string{"Origin": "null"}, 403},
		{map[string]string{"Origin": "file://"}, 403},
		{map[string]string{"Origin": "http://127.0.0.1" + own + "/path"}, 403},
		{map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
	} {
		ex := s.do(t, "POST", tok, "", tc.hdr, initMsg(legacyProtocol))
		if ex.status != tc.want {
			t.Errorf("%v: %d %s, want %d", tc.hdr, ex.status, ex.body, tc.want)
		}
		if tc.want == 403 && !strings.Contains(ex.body, "not this server's") {
			t.Errorf("%v: the refusal %q does not say why", tc.hdr, ex.body)
		}
	}
	// Every method, before the token is looked at.
	sid := openSession(t, nil, s.URL, tok, nil)
	evil := map[string]string{"Origin": "http://evil.example"}
	for _, method := range []string{"GET", "DELETE", "OPTIONS"} {
		if ex := s.do(t, method, tok, sid, evil, nil); ex.status != 403 {
			t.Errorf("%s from a foreign origin: %d %s, want 403", method, ex.status, ex.body)
		}
	}
	if ex := s.do(t, "POST", "", "", evil, listMsg); ex.status != 403 {
		t.Errorf("no token, foreign origin: %d, want 403", ex.status)
	}
	two := mcpRequest(t, "POST", s.URL, tok, sid, listMsg)
	two.Header.Add("Origin", "http://127.0.0.1"+own)
	two.Header.Add("Origin", "http://evil.example")
	if resp, body := doRaw(t, two); resp.StatusCode != 403 {
		t.Errorf("two Origin headers: %d %s, want 403", resp.StatusCode, body)
	}
	if ex := s.do(t, "POST", tok, sid, nil, listMsg); ex.status != 200 {
		t.Errorf("the session after the foreign DELETE: %d %s", ex.status, ex.body)
	}
	denied := s.records(t, "auth_denied")
	if len(denied) != 16 {
		t.Errorf("%d auth_denied records, want 16", len(denied))
	}
	for _, r := range denied {
		if !strings.Contains(fmt.Sprint(r["reason"]), "Origin") || caller(r)["remote_addr"] == nil {
			t.Errorf("auth_denied record = %v", r)
		}
	}
}

// TestTwoAuthorizationHeadersAreRefused: a request with two
// Authorization headers is ambiguous (a proxy may read the other one) and
// is refused with 400 invalid_request whichever of them is valid, and
// audited as auth_denied without either token.
func TestTwoAuthorizationHeadersAreRefused(t *testing.T) {
	s := startServer(t)
	good := s.token(t, "double", auth.ScopeReadonly)
	for _, pair := range [][2]string{{good, good}, {good, "bogus"}, {"bogus", good}} {
		req := mcpRequest(t, "POST", s.URL, "", "", initMsg(legacyProtocol))
		req.Header.Add("Authorization", "Bearer "+pair[0])
		req.Header.Add("Authorization", "Bearer "+pair[1])
		resp, body := doRaw(t, req)
		if resp.StatusCode != 400 || !strings.Contains(body, "invalid_request") ||
			!strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_request"`) || resp.Header.Get("Mcp-Session-Id") != "" {
			t.Errorf("two Authorization headers: %d %v %s, want 400 invalid_request", resp.StatusCode, resp.Header, body)
		}
	}
	denied := s.records(t, "auth_denied")
	if len(denied) != 3 {
		t.Fatalf("%d auth_denied records, want 3: %v", len(denied), denied)
	}
	for _, r := range denied {
		if !strings.Contains(fmt.Sprint(r["reason"]), "Authorization headers") || strings.Contains(fmt.Sprint(r), good) {
			t.Errorf("auth_denied record = %v", r)
		}
	}
}

// doRaw sends req and returns the response with its body read.
func doRaw(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

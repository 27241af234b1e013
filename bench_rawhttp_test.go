// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// benchCaller makes one tools/call of a tool without arguments and fails
// the benchmark on any error.
type benchCaller func(b *testing.B, tool string)

// benchConnect opens a session to the server at url, sending tok as a
// bearer token, and returns its caller.
type benchConnect func(tb testing.TB, url, tok string) benchCaller

// benchClients are the clients the per-call benchmarks run with: the
// official Go SDK, and a lean one (rawHTTPSession), as issue 19 measured.
var benchClients = []struct {
	name    string
	connect benchConnect
}{
	{"go-sdk", func(tb testing.TB, url, tok string) benchCaller {
		cs := benchSession(tb, url, tok)
		return func(b *testing.B, tool string) { benchCall(b, cs, tool) }
	}},
	{"raw", func(tb testing.TB, url, tok string) benchCaller {
		return newRawHTTPSession(tb, url, tok).call
	}},
}

// rawProtocol is the protocol version rawHTTPSession speaks.
const rawProtocol = "2025-11-25"

// rawTransports holds one HTTP transport per server URL, shared by all
// of that server's raw sessions and keeping enough idle connections for
// 50 of them calling at once (http.DefaultTransport keeps 2 per host,
// so concurrent calls would dial afresh).
var rawTransports = map[string]*http.Transport{}

// rawHTTPSession is a lean MCP client over streamable HTTP: one
// initialized session, each call a POST of JSON built by appending and
// an answer read to its end and checked for a result and for isError
// without decoding it. Its own cost per call is a few allocations, so
// what a benchmark times is the server, not a client's decoding (the Go
// SDK's decoder allocates about 160 KB a call, whose collection runs in
// the same process as an in-process server).
type rawHTTPSession struct {
	c        *http.Client
	url, tok string
	sid      string
	id       int64
	body     []byte
}

// newRawHTTPSession initializes a session with the server at url.
func newRawHTTPSession(tb testing.TB, url, tok string) *rawHTTPSession {
	tb.Helper()
	tr := rawTransports[url]
	if tr == nil {
		tr = &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
		rawTransports[url] = tr
		tb.Cleanup(func() {
			tr.CloseIdleConnections()
			delete(rawTransports, url)
		})
	}
	s := &rawHTTPSession{c: &http.Client{Transport: tr, Timeout: 30 * time.Second}, url: url + "/mcp", tok: tok}
	init := []byte(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"` + rawProtocol +
		`","capabilities":{},"clientInfo":{"name":"tailops-bench-raw","version":"1"}}}`)
	resp, out, err := s.post(init)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Contains(out, []byte(`"result"`)) {
		tb.Fatalf("initialize at %s: %v %v %s", url, err, resp, out)
	}
	s.sid = resp.Header.Get("Mcp-Session-Id")
	if s.sid == "" {
		tb.Fatalf("initialize at %s: no Mcp-Session-Id", url)
	}
	resp, out, err = s.post([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		tb.Fatalf("notifications/initialized at %s: %v %v %s", url, err, resp, out)
	}
	return s
}

// post sends one JSON-RPC message and returns the answer read to its end.
func (s *rawHTTPSession) post(msg []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.url, bytes.NewReader(msg))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+s.tok)
	if s.sid != "" {
		req.Header.Set("Mcp-Session-Id", s.sid)
		req.Header.Set("MCP-Protocol-Version", rawProtocol)
	}
	resp, err := s.c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp, out, err
}

// call is the session's benchCaller.
func (s *rawHTTPSession) call(b *testing.B, tool string) {
	if err := s.callTool(tool); err != nil {
		b.Fatal(err)
	}
}

// callTool makes one tools/call of tool without arguments.
func (s *rawHTTPSession) callTool(tool string) error {
	s.id++
	s.body = append(s.body[:0], `{"jsonrpc":"2.0","id":`...)
	s.body = strconv.AppendInt(s.body, s.id, 10)
	s.body = append(s.body, `,"method":"tools/call","params":{"name":`...)
	s.body = strconv.AppendQuote(s.body, tool)
	s.body = append(s.body, `,"arguments":{}}}`...)
	resp, out, err := s.post(s.body)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", tool, err)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%s: %s %s", tool, resp.Status, out)
	case !bytes.Contains(out, []byte(`"result":{`)) || bytes.Contains(out, []byte(`"isError":true`)):
		return fmt.Errorf("%s: not a successful result: %s", tool, out)
	}
	return nil
}

// SPDX-License-Identifier: Apache-2.0

package server

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// TestReadEnvelopeBodies: the body reaches mcp-go whole whether or not its
// length is announced; past maxBody it is 413, a body shorter than its
// Content-Length 400.
func TestReadEnvelopeBodies(t *testing.T) {
	t.Parallel()
	call := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"health_check","arguments":{}}}`
	big := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"` + strings.Repeat("x", maxBody) + `"}}`
	tests := []struct {
		name     string
		body     io.Reader
		length   int64 // -1: unknown (chunked)
		wantCode int
	}{
		{"announced length", strings.NewReader(call), int64(len(call)), http.StatusOK},
		{"unknown length", io.NopCloser(strings.NewReader(call)), -1, http.StatusOK},
		{"announced, too large", strings.NewReader(big), int64(len(big)), http.StatusRequestEntityTooLarge},
		{"unknown length, too large", io.NopCloser(strings.NewReader(big)), -1, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []byte
			var env *envelope
			h := (&Server{}).readEnvelope(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ = io.ReadAll(r.Body)
				env = envelopeFrom(r.Context())
			}))
			req := httptest.NewRequest(http.MethodPost, "/mcp", tt.body)
			req.ContentLength = tt.length
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantCode, rec.Body)
			}
			if tt.wantCode != http.StatusOK {
				return
			}
			if string(got) != call {
				t.Errorf("mcp-go got body %q, want %q", got, call)
			}
			if kind, name, ok := env.named(); !ok || kind != KindTool || name != "health_check" || string(env.ID) != "7" {
				t.Errorf("envelope %+v: named %q %q %v", env, kind, name, ok)
			}
		})
	}
}

// TestReadEnvelopeShortBody: a client that announces more than it sends
// gets 400 over a real connection, not 413.
func TestReadEnvelopeShortBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer((&Server{}).readEnvelope(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"jsonrpc\":\"2.0\"}")
	conn.(*net.TCPConn).CloseWrite()
	resp, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(resp), "HTTP/1.1 400") {
		t.Errorf("answer %q, want 400", resp)
	}
}

// TestEnvelopeProtocolVersion: the edge reads a request's protocol version
// from _meta as mcp-go does (mcp.Meta.ProtocolVersion), and a _meta mcp-go
// cannot decode makes the envelope not ok, as before.
func TestEnvelopeProtocolVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, meta string
		wantOK     bool
		theirsFail bool // mcp-go's decoding of _meta fails although the edge's does not
	}{
		{"absent", ``, true, false},
		{"null", `,"_meta":null`, true, false},
		{"modern", `,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"}}`, true, false},
		{"older", `,"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25"}`, true, false},
		{"not a string", `,"_meta":{"io.modelcontextprotocol/protocolVersion":20260728}`, true, false},
		{"null version", `,"_meta":{"io.modelcontextprotocol/protocolVersion":null}`, true, false},
		{"other case", `,"_meta":{"IO.modelcontextprotocol/protocolversion":"2026-07-28"}`, true, false},
		{"progress token only", `,"_meta":{"progressToken":3}`, true, false},
		{"not an object", `,"_meta":"2026-07-28"`, false, false},
		{"an array", `,"_meta":["2026-07-28"]`, false, false},
		// mcp-go cannot decode this _meta (a number past float64) and serves the request as one of the
		// era before 2026-07-28: the edge must not read a modern version.
		{"modern, a number mcp-go cannot decode", `,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","x":1e400}`, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			params := `{"name":"health_check"` + tt.meta + `}`
			var e envelope
			e.ok = json.Unmarshal([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":`+params+`}`), &e) == nil
			var theirs struct {
				Meta *mcp.Meta `json:"_meta"`
			}
			theirsOK := json.Unmarshal([]byte(params), &theirs) == nil
			if e.ok != tt.wantOK || theirsOK != (tt.wantOK && !tt.theirsFail) {
				t.Fatalf("decoded: ours %v, mcp-go's %v, want %v", e.ok, theirsOK, tt.wantOK)
			}
			want := ""
			if theirsOK {
				want = theirs.Meta.ProtocolVersion()
			}
			if got := e.Params.Meta.protocolVersion(); got != want {
				t.Errorf("protocol version %q, mcp-go reads %q (its _meta decoded: %v)", got, want, theirsOK)
			}
		})
	}
}

// SPDX-License-Identifier: Apache-2.0

package fleet

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tailnet"
)

// Limits of a member's answer.
const (
	// maxAnswer bounds a member's answer to one forwarded request.
	maxAnswer = 32 << 20
	// maxErrorBody bounds what of a refusal's body an error quotes.
	maxErrorBody = 512
	// maxListPages bounds the pages of tools/list read from a member.
	maxListPages = 20
)

// Call forwards a call of tool with args (a map or raw JSON) to the
// member node names, with the caller's credentials from ctx, and returns
// the member's result as it sent it (an input_required result included).
// caps are the client capabilities declared to the member for the caller
// (elicitation only when the caller can be asked); answer, when set, is
// the 2026-07-28 retry of a call the member asked about: the answers
// (inputResponses) and the member's request state. An unknown, offline
// or non-TailOps node, and a member that refuses the request itself (a
// token it does not accept, no grant for the caller), are errors naming
// the member.
func (f *Fleet) Call(ctx context.Context, node, tool string, args any, caps mcp.ClientCapabilities, answer mcp.MultiRoundTripParams) (*mcp.CallToolResult, error) {
	m, err := f.Lookup(ctx, node)
	if err != nil {
		return nil, err
	}
	return f.call(ctx, m, tool, callParams(tool, args, answer), caps)
}

// CallMember is Call for a member already looked up, for a caller that
// cannot be asked anything.
func (f *Fleet) CallMember(ctx context.Context, m Member, tool string, args any) (*mcp.CallToolResult, error) {
	return f.call(ctx, m, tool, callParams(tool, args, mcp.MultiRoundTripParams{}), mcp.ClientCapabilities{})
}

// callParams are the params of a tools/call of tool with args, retried
// with answer when it carries one.
func callParams(tool string, args any, answer mcp.MultiRoundTripParams) map[string]any {
	params := map[string]any{"name": tool, "arguments": args}
	if len(answer.InputResponses) > 0 {
		params["inputResponses"] = answer.InputResponses
	}
	if answer.RequestState != "" {
		params["requestState"] = answer.RequestState
	}
	return params
}

// call sends a tools/call with params to m and parses its result.
func (f *Fleet) call(ctx context.Context, m Member, tool string, params map[string]any, caps mcp.ClientCapabilities) (*mcp.CallToolResult, error) {
	raw, err := f.request(ctx, m, mcp.MethodToolsCall, params, caps)
	if err != nil {
		return nil, fmt.Errorf("calling %s on %s: %w", tool, m.Name, err)
	}
	res, err := parseResult(raw)
	if err != nil {
		return nil, fmt.Errorf("calling %s on %s: its answer is not a tool result: %w", tool, m.Name, err)
	}
	return res, nil
}

// parseResult reads a member's tool result as mcp.ParseCallToolResult
// does, decoding it once when it has content, structured content or asks
// for input (mcp.ParseCallToolResult decodes every result twice); any
// other answer is left to mcp.ParseCallToolResult's rules.
func parseResult(raw json.RawMessage) (*mcp.CallToolResult, error) {
	var res mcp.CallToolResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, err
	}
	if res.Content == nil && res.StructuredContent == nil && res.ResultType != mcp.ResultTypeInputRequired {
		return mcp.ParseCallToolResult(&raw)
	}
	return &res, nil
}

// ListTools returns the tools the member offers the caller in ctx.
func (f *Fleet) ListTools(ctx context.Context, m Member) ([]mcp.Tool, error) {
	var out []mcp.Tool
	params := map[string]any{}
	for range maxListPages {
		raw, err := f.request(ctx, m, mcp.MethodToolsList, params, mcp.ClientCapabilities{})
		if err != nil {
			return nil, fmt.Errorf("listing the tools of %s: %w", m.Name, err)
		}
		var page mcp.ListToolsResult
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("listing the tools of %s: %w", m.Name, err)
		}
		out = append(out, page.Tools...)
		if page.NextCursor == "" {
			return out, nil
		}
		params = map[string]any{"cursor": page.NextCursor}
	}
	return out, nil
}

// rpcAnswer is a JSON-RPC response.
type rpcAnswer struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// request sends one MCP request of protocol 2026-07-28 to the member: a
// stateless POST to its /mcp that carries the protocol version, this
// client and caps in _meta and the standard headers, and the caller's
// credentials (forwardHeaders). The answer may be JSON or an event
// stream; the response to this request is returned.
func (f *Fleet) request(ctx context.Context, m Member, method mcp.MCPMethod, params map[string]any, caps mcp.ClientCapabilities) (json.RawMessage, error) {
	if err := Onward(ctx, m.Name); err != nil {
		return nil, err
	}
	params["_meta"] = f.meta // no capabilities: encoded once
	if b, err := json.Marshal(caps); err != nil || string(b) != "{}" {
		if params["_meta"], err = requestMeta(f.cfg.Version, caps); err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
	}
	encoded, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("encoding the request: %w", err)
	}
	body, err := envelope(method, encoded)
	if err != nil {
		return nil, fmt.Errorf("encoding the request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.url+"/mcp", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", mcp.LATEST_PROTOCOL_VERSION)
	for k, v := range mcp.StandardHeaders(mcp.LATEST_PROTOCOL_VERSION, method, encoded) {
		req.Header.Set(k, v)
	}
	for k, v := range forwardHeaders(ctx) {
		req.Header.Set(k, v)
	}
	res, err := f.http.get(m.url, m.addr).Do(req)
	if err != nil {
		return nil, fmt.Errorf("no answer: %w", unwrapURL(err))
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
		return nil, fmt.Errorf("refused with %s: %s", res.Status, strings.TrimSpace(string(b)))
	}
	var a rpcAnswer
	ct, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		err = json.NewDecoder(io.LimitReader(res.Body, maxAnswer)).Decode(&a)
	case "text/event-stream":
		a, err = fromStream(io.LimitReader(res.Body, maxAnswer))
	default:
		err = fmt.Errorf("answered with content type %q", ct)
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("reading the answer: %w", err)
	case a.Error != nil:
		return nil, fmt.Errorf("refused: %s (%d)", a.Error.Message, a.Error.Code)
	case len(a.Result) == 0:
		return nil, errors.New("the answer has no result")
	}
	return a.Result, nil
}

// requestMeta is the _meta of a request: the protocol version, this
// client and the capabilities it declares for the caller.
func requestMeta(version string, caps mcp.ClientCapabilities) (json.RawMessage, error) {
	return json.Marshal(map[string]any{
		mcp.MetaKeyProtocolVersion:    mcp.LATEST_PROTOCOL_VERSION,
		mcp.MetaKeyClientCapabilities: caps,
		mcp.MetaKeyClientInfo:         mcp.Implementation{Name: "tailops-fleet", Version: version},
	})
}

// envelope is the JSON-RPC request of method with params, already
// encoded (and not scanned again, as json.Marshal would a RawMessage).
func envelope(method mcp.MCPMethod, params []byte) ([]byte, error) {
	m, err := json.Marshal(method)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(`{"jsonrpc":"2.0","id":1,"method":,"params":}`)+len(m)+len(params))
	b = append(b, `{"jsonrpc":"2.0","id":1,"method":`...)
	b = append(append(b, m...), `,"params":`...)
	return append(append(b, params...), '}'), nil
}

// fromStream reads an event stream until the JSON-RPC response (an
// event whose data has an id and a result or an error); notifications
// before it (progress) are skipped.
func fromStream(r io.Reader) (rpcAnswer, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxAnswer)
	var data []string
	flush := func() (rpcAnswer, bool) {
		defer func() { data = data[:0] }()
		if len(data) == 0 {
			return rpcAnswer{}, false
		}
		var a rpcAnswer
		if json.Unmarshal([]byte(strings.Join(data, "\n")), &a) != nil || len(a.ID) == 0 || (a.Result == nil && a.Error == nil) {
			return rpcAnswer{}, false
		}
		return a, true
	}
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if a, ok := flush(); ok {
				return a, nil
			}
			continue
		}
		if v, ok := strings.CutPrefix(line, "data:"); ok {
			data = append(data, strings.TrimPrefix(v, " "))
		}
	}
	if a, ok := flush(); ok {
		return a, nil
	}
	if err := sc.Err(); err != nil {
		return rpcAnswer{}, err
	}
	return rpcAnswer{}, errors.New("the event stream ended without a response")
}

// Onward refuses a request to the member named to on behalf of a caller
// whom a fleet entry node forwarded here: a forwarded call goes no
// further, whether it names another node or is fleet_status or
// list_hosts asking this node's own members. Every request to a member
// passes here, so none carries a forwarded caller on.
func Onward(ctx context.Context, to string) error {
	if c := auth.CallerFrom(ctx); c != nil && c.Via != nil {
		return fmt.Errorf("a call forwarded by %s cannot be forwarded again (to %s): call this node's members directly or through one entry node",
			cmp.Or(c.Via.NodeName, "a fleet entry node"), to)
	}
	return nil
}

// forwardHeaders are the headers of a forwarded request: the caller's
// bearer token, when it sent one, and its tailnet address (or
// tailnet.FleetNoCaller for a caller that is not a tailnet peer).
func forwardHeaders(ctx context.Context) map[string]string {
	h := map[string]string{tailnet.FleetCallerHeader: CallerAddr(auth.CallerFrom(ctx))}
	if tok := auth.BearerFrom(ctx); tok != "" {
		h["Authorization"] = "Bearer " + tok
	}
	return h
}

// CallerAddr is the tailnet address a call of c is forwarded for: its
// first IPv4 tailnet address (else its first), or tailnet.FleetNoCaller.
func CallerAddr(c *auth.Caller) string {
	if c == nil || c.Tailscale == nil || len(c.Tailscale.Addresses) == 0 {
		return tailnet.FleetNoCaller
	}
	for _, a := range c.Tailscale.Addresses {
		if ip, err := netip.ParseAddr(a); err == nil && ip.Is4() {
			return a
		}
	}
	return c.Tailscale.Addresses[0]
}

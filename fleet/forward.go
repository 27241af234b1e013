// SPDX-License-Identifier: Apache-2.0

package fleet

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tailnet"
)

// memberRPC is the MCP client of one member URL. It speaks protocol
// 2026-07-28, which keeps no session: every request carries the
// credentials of the call it is for (forwardHeaders), so one client serves
// every caller.
type memberRPC struct {
	mu sync.Mutex
	c  *client.Client // nil until the first call, and again after a failure
}

// Call forwards a call of tool with args (a map or raw JSON) to the member node names, with
// the caller's credentials from ctx, and returns the member's result as
// it sent it. An unknown, offline or non-TailOps node, and a member that
// refuses the request itself (a token it does not accept, no grant for
// the caller), are errors naming the member.
func (f *Fleet) Call(ctx context.Context, node, tool string, args any) (*mcp.CallToolResult, error) {
	m, err := f.Lookup(ctx, node)
	if err != nil {
		return nil, err
	}
	return f.CallMember(ctx, m, tool, args)
}

// CallMember is Call for a member already looked up.
func (f *Fleet) CallMember(ctx context.Context, m Member, tool string, args any) (*mcp.CallToolResult, error) {
	var res *mcp.CallToolResult
	err := f.withClient(ctx, m, func(c *client.Client) (err error) {
		res, err = c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: args}})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("calling %s on %s: %w", tool, m.Name, err)
	}
	return res, nil
}

// ListTools returns the tools the member offers the caller in ctx.
func (f *Fleet) ListTools(ctx context.Context, m Member) ([]mcp.Tool, error) {
	var res *mcp.ListToolsResult
	err := f.withClient(ctx, m, func(c *client.Client) (err error) {
		res, err = c.ListTools(ctx, mcp.ListToolsRequest{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing the tools of %s: %w", m.Name, err)
	}
	return res.Tools, nil
}

// withClient runs do with m's client, connecting it first if needed; a
// failed request drops the client, so the next call connects afresh.
func (f *Fleet) withClient(ctx context.Context, m Member, do func(*client.Client) error) error {
	f.mu.Lock()
	r := f.clients[m.url]
	if r == nil {
		r = &memberRPC{}
		f.clients[m.url] = r
	}
	f.mu.Unlock()
	c, err := r.connect(ctx, f, m)
	if err != nil {
		return err
	}
	if err := do(c); err != nil {
		r.drop(c)
		return err
	}
	return nil
}

// connect returns the client, connecting it when there is none.
func (r *memberRPC) connect(ctx context.Context, f *Fleet, m Member) (*client.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c != nil {
		return r.c, nil
	}
	tr, err := transport.NewStreamableHTTP(m.url+"/mcp", transport.WithHTTPBasicClient(f.http.get(m.url, m.addr)),
		transport.WithHTTPHeaderFunc(forwardHeaders))
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", m.Name, err)
	}
	c := client.NewClient(tr, client.WithProtocolVersion(mcp.LATEST_PROTOCOL_VERSION))
	if err := c.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", m.Name, err)
	}
	res, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ProtocolVersion: mcp.LATEST_PROTOCOL_VERSION,
		ClientInfo:      mcp.Implementation{Name: "tailops-fleet", Version: f.cfg.Version},
	}})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("connecting to %s: %w", m.Name, err)
	}
	if !mcp.IsModernProtocol(res.ProtocolVersion) {
		c.Close()
		return nil, fmt.Errorf("%s speaks MCP %s; forwarding needs %s, which every TailOps member of this version speaks",
			m.Name, res.ProtocolVersion, mcp.LATEST_PROTOCOL_VERSION)
	}
	r.c = c
	return c, nil
}

// drop forgets c if it is still the client.
func (r *memberRPC) drop(c *client.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c == c {
		r.c = nil
		c.Close()
	}
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

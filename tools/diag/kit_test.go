// SPDX-License-Identifier: Apache-2.0

package diag

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// diagKit is the diagnostics tools of one Config.
type diagKit struct {
	ts    *Toolset
	specs map[string]tools.Spec
}

// newDiagKit builds the tools of cfg; a configuration New refuses fails
// the test (see newDiagKitErr).
func newDiagKit(t testing.TB, cfg Config) *diagKit {
	t.Helper()
	k, err := newDiagKitErr(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newDiagKitErr builds the tools of cfg, and returns New's error.
func newDiagKitErr(cfg Config) (*diagKit, error) {
	ts, err := New(cfg)
	k := &diagKit{ts: ts, specs: map[string]tools.Spec{}}
	for _, s := range ts.Tools() {
		k.specs[s.Name()] = s
	}
	return k, err
}

// call validates args against the tool's input schema, as the server
// does, and runs the handler.
func (k *diagKit) call(t testing.TB, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	s, ok := k.specs[tool]
	if !ok {
		t.Fatalf("no tool %s", tool)
	}
	v, err := tools.NewInputValidator(&s)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Check(args); err != nil {
		t.Fatalf("%s %v: arguments do not match the input schema: %v", tool, args, err)
	}
	res, err := s.Handler(context.Background(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: args}})
	if err != nil || res == nil {
		t.Fatalf("%s returned a Go error or no result: %v", tool, err)
	}
	return res
}

// diagOK calls a diagnostics tool that must succeed and decodes its result.
func diagOK[T any](t testing.TB, k *diagKit, tool string, args map[string]any) T {
	t.Helper()
	return toolstest.DecodeOK[T](t, k.specs[tool], k.call(t, tool, args), args)
}

// diagErr calls a diagnostics tool that must fail and returns the error text.
func diagErr(t testing.TB, k *diagKit, tool string, args map[string]any) string {
	t.Helper()
	return toolstest.ErrorText(t, tool, k.call(t, tool, args), args)
}

// tripwire is a TCP listener that must never be connected to: the
// address a refused destination would have reached.
type tripwire struct {
	ln   net.Listener
	hits atomic.Int64
}

func newTripwire(t testing.TB, addr string) *tripwire {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tw := &tripwire{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tw.hits.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		if n := tw.hits.Load(); n > 0 {
			t.Errorf("%s was connected to %d times; it must never be", addr, n)
		}
	})
	return tw
}

func (tw *tripwire) port() int { return tw.ln.Addr().(*net.TCPAddr).Port }

// listenSamePort listens on ip and returns the listener, on a port that
// is also free on 127.0.0.1, where a tripwire is placed: a rebinding or
// redirect to loopback on the same port would hit it.
func listenSamePort(t testing.TB, ip string) (net.Listener, *tripwire) {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		probe, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			ln.Close()
			continue
		}
		probe.Close()
		t.Cleanup(func() { ln.Close() })
		return ln, newTripwire(t, fmt.Sprintf("127.0.0.1:%d", p))
	}
	t.Fatal("no port free on both addresses")
	return nil, nil
}

// wantRefused checks that an error text is a policy refusal containing
// want.
func wantRefused(t testing.TB, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, "refused by policy") || !strings.Contains(got, want) {
		t.Errorf("%s: %q; want a policy refusal containing %q", what, got, want)
	}
}

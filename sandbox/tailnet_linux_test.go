// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestComputeTailnet: the tsnet and local tailnet modes add exactly what
// their engine or socket needs, and nothing without them.
func TestComputeTailnet(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	sock := filepath.Join(dir, "tailscaled.sock")
	os.MkdirAll(filepath.Join(state, "tailscale"), 0o700)
	os.WriteFile(sock, nil, 0o600) // stands in for the socket: only existence matters here
	specs := []Grant{grant("health_check", Needs{})}
	tests := []struct {
		name  string
		cfg   Config
		check func(t *testing.T, p *Policy)
	}{
		{name: "off", cfg: Config{StateDir: state, BindPorts: []uint16{8080}}, check: func(t *testing.T, p *Policy) {
			if p.ConnectAny || p.UDPAny || p.DNS || len(p.Connect) > 0 || len(p.Sockets()) > 0 {
				t.Errorf("no tailnet, yet connect-any %v, udp-any %v, dns %v, connect %v, socket %q",
					p.ConnectAny, p.UDPAny, p.DNS, p.Connect, p.Sockets())
			}
			if _, ok := findPath(p, filepath.Join(state, "tailscale")); ok {
				t.Error("tsnet state dir granted without tsnet")
			}
		}},
		{name: "tsnet", cfg: Config{StateDir: state, Tailnet: true}, check: func(t *testing.T, p *Policy) {
			if !p.ConnectAny || !p.UDPAny || !p.DNS {
				t.Errorf("connect-any %v, udp-any %v, dns %v; want all", p.ConnectAny, p.UDPAny, p.DNS)
			}
			if len(p.Bind) != 0 {
				t.Errorf("bind %v: a tsnet listener needs no host port", p.Bind)
			}
			r, ok := findPath(p, filepath.Join(state, "tailscale"))
			if !ok || r.Access != AccessRead|AccessWrite || !strings.Contains(strings.Join(r.Why, ";"), "tsnet") {
				t.Errorf("tsnet state rule = %+v, %v", r, ok)
			}
			if p.Exec {
				t.Error("tsnet needs no exec")
			}
			// No syscall beyond what every server gets.
			base, _ := Compute(specs, Config{StateDir: state})
			if !slices.EqualFunc(p.Syscalls, base.Syscalls, func(a, b SyscallRule) bool { return a.Name == b.Name && a.Why == b.Why }) {
				t.Error("tsnet changed the syscall allow-list")
			}
		}},
		{name: "local", cfg: Config{StateDir: state, TailscaledSocket: sock, BindPorts: []uint16{8080}}, check: func(t *testing.T, p *Policy) {
			if p.ConnectAny || p.UDPAny {
				t.Errorf("local mode opened the network: connect-any %v udp-any %v", p.ConnectAny, p.UDPAny)
			}
			if r, ok := findPath(p, sock); !ok || r.Access != AccessConnect {
				t.Errorf("socket rule = %+v, %v", r, ok)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compute(specs, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, p)
			var b bytes.Buffer
			if err := p.Explain(&b); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			switch tt.name {
			case "tsnet":
				for _, want := range []string{"UDP:           any port, for tailnet (tsnet)", "TCP connect:   any port, for outbound connections of tailnet (tsnet)", "tsnet runs the Tailscale engine in this process"} {
					if !strings.Contains(out, want) {
						t.Errorf("explain lacks %q:\n%s", want, out)
					}
				}
			case "local":
				if !strings.Contains(out, "connect to "+sock+" only") || !strings.Contains(out, "tailnet (local): tailscaled's LocalAPI socket") {
					t.Errorf("explain lacks the tailscaled socket:\n%s", out)
				}
			}
		})
	}
}

// TestTailnetPolicyApplied applies the tsnet policy and checks what the
// engine relies on after Apply — TCP connect to any port, UDP bind and
// send on any port, writes to STATE_DIR/tailscale — while TCP bind stays
// refused and files outside the rules stay out of reach.
func TestTailnetPolicyApplied(t *testing.T) {
	if !inChild(t) {
		runInChild(t, "SANDBOX_TEST_DIR="+t.TempDir())
		return
	}
	dir := os.Getenv("SANDBOX_TEST_DIR")
	state, _, secret := stateDirs(t, dir)
	tsDir := filepath.Join(state, "tailscale")
	if err := os.MkdirAll(tsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A TCP server on a port nothing declares, like a control server or
	// DERP relay on a custom port, and a UDP peer.
	srv, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	acceptAndClose(srv)
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	bindPort := freePort(t)

	applyForTest(t, []Grant{grant("health_check", Needs{})}, Config{StateDir: state, Tailnet: true})
	assertThreadsConfined(t)

	c, err := net.Dial("tcp4", srv.Addr().String())
	if err != nil {
		t.Errorf("TCP connect to an undeclared port: %v", err)
	} else {
		c.Close()
	}
	u, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("UDP bind: %v", err)
	}
	if _, err := u.WriteTo([]byte("disco"), peer.LocalAddr()); err != nil {
		t.Errorf("UDP send: %v", err)
	}
	u.Close()
	if err := os.WriteFile(filepath.Join(tsDir, "tailscaled.state"), []byte("{}"), 0o600); err != nil {
		t.Errorf("writing tsnet state: %v", err)
	}
	_, err = ListenConfig().Listen(t.Context(), "tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(bindPort))))
	wantErrno(t, "TCP bind on an undeclared port", err, syscall.EACCES)
	_, err = os.ReadFile(secret)
	wantErrno(t, "reading a file outside every rule", err, syscall.EACCES)
	err = os.WriteFile(filepath.Join(dir, "outside", "new"), nil, 0o600)
	wantErrno(t, "writing outside the state dir", err, syscall.EACCES)
}

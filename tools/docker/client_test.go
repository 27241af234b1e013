// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"crypto/tls"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/toolstest"
)

// TestEndpoint: the socket, or the port and DNS, and the TLS files the
// tools need from the sandbox are the ones they use, and an endpoint the tools cannot use is refused by
// name, without repeating an address that may hold credentials.
func TestEndpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host, certs string
		want        Endpoint
		needs       sandbox.Needs
		wantErr     string
	}{
		{host: "", want: Endpoint{Socket: "/var/run/docker.sock"}, needs: sandbox.Needs{Sockets: []string{"/var/run/docker.sock"}}},
		{host: "unix:///run/podman/podman.sock", want: Endpoint{Socket: "/run/podman/podman.sock"},
			needs: sandbox.Needs{Sockets: []string{"/run/podman/podman.sock"}}},
		{host: "tcp://127.0.0.1:2375", want: Endpoint{TCPPort: 2375}, needs: sandbox.Needs{TCPPorts: []uint16{2375}, DNS: true}},
		{host: "tcp://docker.lan:2376", certs: "/etc/docker-tls", want: Endpoint{TCPPort: 2376,
			CertFiles: []string{"/etc/docker-tls/ca.pem", "/etc/docker-tls/cert.pem", "/etc/docker-tls/key.pem"}},
			needs: sandbox.Needs{TCPPorts: []uint16{2376}, DNS: true,
				Read: []string{"/etc/docker-tls/ca.pem", "/etc/docker-tls/cert.pem", "/etc/docker-tls/key.pem"}}},
		{host: "tcp://docker.lan", wantErr: "DOCKER_HOST: a tcp:// endpoint needs its port"},
		{host: "tcp://docker.lan:0", wantErr: "needs its port"},
		{host: "ssh://admin:hunter2@docker.lan", wantErr: `DOCKER_HOST: scheme "ssh" is not supported`},
		{host: "admin:hunter2@docker.lan", wantErr: "DOCKER_HOST: want unix:///path/to/docker.sock or tcp://host:port"},
		{host: "npipe:////./pipe/docker_engine", wantErr: `DOCKER_HOST: scheme "npipe"`},
	} {
		ts, err := New(Config{Host: tc.host, CertPath: tc.certs})
		got := ts.Endpoint()
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("Host %q: error %v, want %q", tc.host, err, tc.wantErr)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("Host %q: the error repeats the password: %v", tc.host, err)
		case tc.wantErr == "" && (err != nil || !reflect.DeepEqual(got, tc.want)):
			t.Errorf("Host %q: %+v, %v; want %+v", tc.host, got, err, tc.want)
		}
		if err == nil {
			for _, s := range ts.Tools() {
				if !reflect.DeepEqual(s.Needs, tc.needs) {
					t.Errorf("Host %q: %s needs %+v, want %+v", tc.host, s.Name(), s.Needs, tc.needs)
				}
			}
			continue
		}
		// The tools stay declared, and every call says why they cannot work.
		if len(ts.Tools()) != 15 {
			t.Errorf("Host %q: %d tools declared, want 15", tc.host, len(ts.Tools()))
		}
		for _, s := range ts.Tools() {
			if !reflect.DeepEqual(s.Needs, sandbox.Needs{}) {
				t.Errorf("Host %q: %s still needs %+v", tc.host, s.Name(), s.Needs)
			}
		}
	}
}

// TestClientReachesTheEngineAsDockerWould: the client the tools build from
// Config reaches a real dockerd over TCP and over TLS with a client
// certificate, and treats DOCKER_TLS_VERIFY as the Docker client's
// FromEnv does: with it, an engine whose certificate is not from the cert
// path's CA is refused; without it, the certificate is not verified (but
// the client certificate is still sent). DOCKER_API_VERSION fixes the
// version instead of negotiating it.
func TestClientReachesTheEngineAsDockerWould(t *testing.T) {
	d := labtest.Shared(t)
	sock := strings.TrimPrefix(d.Host, "unix://")
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	plain := labtest.RelayToUnix(t, listen(), sock)
	ca, other := labtest.NewCA(t), labtest.NewCA(t)
	tlsAddr := labtest.RelayToUnix(t, tls.NewListener(listen(), &tls.Config{
		Certificates: []tls.Certificate{ca.Leaf(t, time.Hour, "127.0.0.1")},
		ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool,
	}), sock)
	certs, wrongCA := t.TempDir(), t.TempDir()
	client := ca.ClientLeaf(t, "tailops")
	ca.WriteDockerCertPath(t, certs, client)
	other.WriteDockerCertPath(t, wrongCA, client) // the engine's certificate is not from this ca.pem

	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"plain TCP", Config{Host: "tcp://" + plain}, ""},
		{"TLS, verified", Config{Host: "tcp://" + tlsAddr, CertPath: certs, TLSVerify: true}, ""},
		{"TLS, another CA, verified", Config{Host: "tcp://" + tlsAddr, CertPath: wrongCA, TLSVerify: true}, "Docker daemon not reachable"},
		{"TLS, another CA, not verified", Config{Host: "tcp://" + tlsAddr, CertPath: wrongCA}, ""},
		{"TLS endpoint without TLS", Config{Host: "tcp://" + tlsAddr}, "Docker daemon not reachable"},
		{"a fixed API version", Config{Host: "tcp://" + plain, APIVersion: "v1.40"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			res := toolstest.Call(t, toolstest.Direct(ts.Tools()), "list_networks", nil)
			switch {
			case tc.wantErr == "" && res.IsError:
				t.Fatalf("list_networks: %s", toolstest.Text(res))
			case tc.wantErr != "" && (!res.IsError || !strings.Contains(toolstest.Text(res), tc.wantErr)):
				t.Fatalf("list_networks: %s; want an error containing %q", toolstest.Text(res), tc.wantErr)
			}
			cli, _ := ts.client()
			if v := cli.ClientVersion(); tc.cfg.APIVersion != "" && v != "1.40" {
				t.Errorf("API version %s, want the fixed 1.40", v)
			}
		})
	}
}

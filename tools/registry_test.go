// SPDX-License-Identifier: Apache-2.0

package tools_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

func TestValidateRejectsInconsistentSpecs(t *testing.T) {
	yes, no := true, false
	good := plain{"health"}.Tools()[0]
	for _, tc := range []struct {
		name   string
		mutate func(*tools.Spec)
	}{
		{"no name", func(s *tools.Spec) { s.Tool.Name = "" }},
		{"unknown scope", func(s *tools.Spec) { s.Scope = "root" }},
		{"no risk", func(s *tools.Spec) { s.Risk = 0 }},
		{"unset hint", func(s *tools.Spec) { s.Tool.Annotations.OpenWorldHint = nil }},
		{"read-only and destructive", func(s *tools.Spec) { s.Tool.Annotations.DestructiveHint = &yes }},
		{"writing tool with low risk", func(s *tools.Spec) { s.Tool.Annotations.ReadOnlyHint = &no }},
		{"critical read-only", func(s *tools.Spec) { s.Risk = tools.RiskCritical }},
		{"no handler", func(s *tools.Spec) { s.Handler = nil }},
	} {
		s := good
		s.Tool.Annotations = good.Tool.Annotations // copy of pointers is fine: the mutations replace them
		tc.mutate(&s)
		if err := s.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", tc.name)
		}
	}
}

func TestSelect(t *testing.T) {
	all := append(plain{"health"}.Tools(), plain{"read"}.Tools()...)
	all = append(all, tools.TypedSpec[tools.NoArgs, tools.NoArgs]{
		Name: "restart", Title: "Restart", Description: "Restarts nothing.", Scope: auth.ScopeContainerWrite, Risk: tools.RiskHigh,
		Hints: tools.Hints{Destructive: true},
		Run:   func(context.Context, tools.NoArgs) (tools.NoArgs, error) { return tools.NoArgs{}, nil },
	}.Spec())
	for _, tc := range []struct {
		name    string
		sel     tools.Selection
		want    []string // nil: every tool
		wantErr bool
	}{
		{"enable list", tools.Selection{Enable: []string{"health_status", "read_status"}}, []string{"health_status", "read_status"}, false},
		{"disable list", tools.Selection{Enable: []string{"health_status", "read_status"}, Disable: []string{"read_status"}}, []string{"health_status"}, false},
		{"read-only", tools.Selection{ReadOnly: true}, []string{"health_status", "read_status"}, false},
		{"unknown name", tools.Selection{Disable: []string{"format_disk"}}, nil, true},
	} {
		got, err := tools.Select(all, tc.sel)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err = %v", tc.name, err)
			continue
		}
		if tc.want != nil && !slices.Equal(tools.Names(got), tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tools.Names(got), tc.want)
		}
	}
	ro, _ := tools.Select(all, tools.Selection{ReadOnly: true})
	for i := range ro {
		if !ro[i].ReadOnly() {
			t.Errorf("read-only selection kept %s", ro[i].Name())
		}
	}
}

// TestDepsDockerEndpointAndRoots: the socket, port and roots the sandbox
// grants are the ones the tools use (DOCKER_HOST as the Docker client
// reads it), and an endpoint the tools cannot use is refused by name,
// without repeating an address that may hold credentials.
func TestDepsDockerEndpointAndRoots(t *testing.T) {
	for _, tc := range []struct {
		env, host, certs string
		want             tools.DockerEndpoint
		wantErr          string
	}{
		{env: "", want: tools.DockerEndpoint{Socket: "/var/run/docker.sock"}},
		{env: "unix:///run/podman/podman.sock", want: tools.DockerEndpoint{Socket: "/run/podman/podman.sock"}},
		{env: "tcp://127.0.0.1:2375", want: tools.DockerEndpoint{TCPPort: 2375}},
		{env: "tcp://docker.lan:2376", certs: "/etc/docker-tls", want: tools.DockerEndpoint{TCPPort: 2376,
			CertFiles: []string{"/etc/docker-tls/ca.pem", "/etc/docker-tls/cert.pem", "/etc/docker-tls/key.pem"}}},
		{env: "unix:///run/podman/podman.sock", host: "unix:///srv/docker.sock", want: tools.DockerEndpoint{Socket: "/srv/docker.sock"}},
		{env: "tcp://docker.lan", wantErr: "DOCKER_HOST: a tcp:// endpoint needs its port"},
		{env: "tcp://docker.lan:0", wantErr: "needs its port"},
		{env: "ssh://admin:hunter2@docker.lan", wantErr: `DOCKER_HOST: scheme "ssh" is not supported`},
		{env: "admin:hunter2@docker.lan", wantErr: "DOCKER_HOST: want unix:///path/to/docker.sock or tcp://host:port"},
		{host: "npipe:////./pipe/docker_engine", wantErr: `Docker host: scheme "npipe"`},
	} {
		t.Setenv("DOCKER_HOST", tc.env)
		t.Setenv("DOCKER_CERT_PATH", tc.certs)
		got, err := (&tools.Deps{DockerHost: tc.host}).Docker()
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("DOCKER_HOST=%q DockerHost=%q: error %v, want %q", tc.env, tc.host, err, tc.wantErr)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("DOCKER_HOST=%q: the error repeats the password: %v", tc.env, err)
		case tc.wantErr == "" && (err != nil || !reflect.DeepEqual(got, tc.want)):
			t.Errorf("DOCKER_HOST=%q DockerHost=%q: %+v, %v; want %+v", tc.env, tc.host, got, err, tc.want)
		}
	}
	if got := (&tools.Deps{}).Roots(); !slices.Equal(got, []string{"/var/log"}) {
		t.Errorf("default roots %v", got)
	}
	if got := (&tools.Deps{FileRoots: []string{"/srv/logs"}}).Roots(); !slices.Equal(got, []string{"/srv/logs"}) {
		t.Errorf("roots %v", got)
	}
}

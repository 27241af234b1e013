// SPDX-License-Identifier: Apache-2.0

package tools_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/tools"
)

func TestEveryToolIsDeclaredConsistently(t *testing.T) {
	all := tools.All(nil)
	if len(all) == 0 {
		t.Fatal("no tools")
	}
	seen := map[string]bool{}
	for i := range all {
		s := &all[i]
		if seen[s.Name()] {
			t.Errorf("tool %s declared twice", s.Name())
		}
		seen[s.Name()] = true
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
		if _, err := tools.NewInputValidator(s); err != nil {
			t.Error(err)
		}
	}
}

func TestValidateRejectsInconsistentSpecs(t *testing.T) {
	yes, no := true, false
	good := tools.All(nil)[0]
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
	all := tools.All(nil)
	for _, tc := range []struct {
		name    string
		sel     tools.Selection
		want    []string // nil: every tool
		wantErr bool
	}{
		{"enable list", tools.Selection{Enable: []string{"health_check", "read_file"}}, []string{"health_check", "read_file"}, false},
		{"disable list", tools.Selection{Enable: []string{"health_check", "read_file"}, Disable: []string{"read_file"}}, []string{"health_check"}, false},
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

// TestToolSnapshots keeps each tool's MCP definition (schemas, annotations,
// description) in testdata/toolsnaps, so any change to what clients see
// is deliberate. Regenerate with UPDATE_TOOLSNAPS=1.
func TestToolSnapshots(t *testing.T) {
	for _, s := range tools.All(nil) {
		got, err := json.MarshalIndent(snapshot(s.Tool), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "toolsnaps", s.Name()+".json")
		if os.Getenv("UPDATE_TOOLSNAPS") != "" {
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: no snapshot (run with UPDATE_TOOLSNAPS=1): %v", s.Name(), err)
			continue
		}
		if string(want) != string(got)+"\n" {
			t.Errorf("%s: definition changed; review and run with UPDATE_TOOLSNAPS=1\n got: %s", s.Name(), got)
		}
	}
}

func snapshot(tool mcp.Tool) any {
	b, _ := json.Marshal(tool)
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
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

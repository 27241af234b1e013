// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// toolsOf returns the names of the tools of the named toolsets, as the
// default configuration declares them, in registry order; keep, when
// set, filters them.
func toolsOf(keep func(*tools.Spec) bool, toolsets ...string) []string {
	var out []string
	for _, ts := range (&config{env: environ{}}).toolsets(nil, nil, nil).sets {
		if len(toolsets) > 0 && !slices.Contains(toolsets, ts.Name()) {
			continue
		}
		for _, s := range ts.Tools() {
			if keep == nil || keep(&s) {
				out = append(out, s.Name())
			}
		}
	}
	return out
}

// notFirewall keeps the tools offered without --firewall and --fleet.
func notFirewall(s *tools.Spec) bool {
	return !slices.Contains(firewallTools(), s.Name()) && !slices.Contains(fleetTools(), s.Name())
}

// TestConfigToolsets: --toolsets (flag, repeatable and comma-separated;
// TAILOPS_TOOLSETS; key toolsets) and --disable-destructive (flag;
// TAILOPS_DISABLE_DESTRUCTIVE; key disable_destructive) select the tools
// serve offers, composed with --tools, --disable-tools and --read-only as
// README's "Choosing the tools" says; bad names stop the start with a
// message that names them and the known toolsets.
func TestConfigToolsets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	journalFile := write("journal.hujson", `{"toolsets": ["journal"], /* a comment */}`)
	noDestructiveFile := write("nodestructive.hujson", `{"disable_destructive": true}`)
	notDestructive := func(s *tools.Spec) bool { return notFirewall(s) && !s.Destructive() }
	readOnly := func(s *tools.Spec) bool { return notFirewall(s) && s.ReadOnly() }
	diag := toolsOf(nil, "diag")
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    []string // the tools offered, in registry order
		wantErr string   // else: the start fails with this in the message
	}{
		{name: "default: every toolset but the firewall's", want: toolsOf(notFirewall)},
		{name: "flag", args: []string{"--toolsets", "diag"}, want: diag},
		{name: "flag, comma-separated", args: []string{"--toolsets", "host,journal"}, want: toolsOf(nil, "host", "journal")},
		{name: "flag, repeated", args: []string{"--toolsets", "host", "--toolsets", "journal"}, want: toolsOf(nil, "host", "journal")},
		{name: "environment twin", env: map[string]string{"TAILOPS_TOOLSETS": "diag,host"}, want: toolsOf(nil, "host", "diag")},
		{name: "config key", args: []string{"--config", journalFile}, want: toolsOf(nil, "journal")},
		{name: "flag over environment over config key", args: []string{"--config", journalFile, "--toolsets", "diag"}, env: map[string]string{"TAILOPS_TOOLSETS": "host"}, want: diag},
		{name: "environment over config key", args: []string{"--config", journalFile}, env: map[string]string{"TAILOPS_TOOLSETS": "diag"}, want: diag},
		{name: "firewall toolset with --firewall", args: []string{"--toolsets", "firewall", "--firewall"}, want: firewallTools()},
		{name: "--tools narrows within the toolsets", args: []string{"--toolsets", "diag,host", "--tools", "ping_host,health_check"}, want: []string{"health_check", "ping_host"}},
		{name: "--disable-tools removes from the toolsets", args: []string{"--toolsets", "diag", "--disable-tools", "ping_host"}, want: diag[1:]},
		{name: "--disable-tools may name a tool outside the toolsets", args: []string{"--toolsets", "diag", "--disable-tools", "health_check"}, want: diag},
		{name: "--read-only within the toolsets", args: []string{"--toolsets", "docker", "--read-only"}, want: toolsOf(readOnly, "docker")},
		{name: "--disable-destructive", args: []string{"--disable-destructive"}, want: toolsOf(notDestructive)},
		{name: "--disable-destructive, environment twin", env: map[string]string{"TAILOPS_DISABLE_DESTRUCTIVE": "true"}, want: toolsOf(notDestructive)},
		{name: "--disable-destructive, config key", args: []string{"--config", noDestructiveFile}, want: toolsOf(notDestructive)},
		{name: "--disable-destructive wins over --tools", args: []string{"--tools", "restart_container,start_container,list_containers", "--disable-destructive"}, want: []string{"list_containers", "start_container"}},
		{name: "--read-only and --disable-destructive", args: []string{"--read-only", "--disable-destructive"}, want: toolsOf(readOnly)},
		{name: "--disable-destructive within the toolsets", args: []string{"--toolsets", "docker", "--disable-destructive"}, want: toolsOf(notDestructive, "docker")},

		{name: "unknown toolset", args: []string{"--toolsets", "diag,compose"}, wantErr: `--toolsets: unknown toolset "compose" (known: host, files, secrets, docker, stacks, diag, systemd, journal, packages, firewall, inventory, approvals, audit, fleet); a domain this build does not have has no toolset`},
		{name: "fleet toolset without --fleet", args: []string{"--toolsets", "fleet"}, wantErr: `--toolsets names fleet: the fleet tools are off; make this node a fleet entry point with --fleet tag:NAME`},
		{name: "fleet tool without --fleet", args: []string{"--tools", "list_hosts"}, wantErr: `--tools names list_hosts: the fleet tools are off`},
		{name: "--fleet without tsnet", args: []string{"--fleet", "tag:tailops"}, wantErr: `--fleet needs --tailnet tsnet`},
		{name: "fleet key without tsnet", args: []string{"--config", write("fleet.hujson", `{"fleet": ["tag:tailops"]}`)}, wantErr: `fleet.hujson: key "fleet" needs --tailnet tsnet`},
		{name: "fleet tag malformed", args: []string{"--tailnet", "tsnet", "--fleet", "tailops"}, wantErr: `--fleet: fleet tag "tailops": tags look like tag:NAME`},
		{name: "unknown toolsets, all named", env: map[string]string{"TAILOPS_TOOLSETS": "compose,hosts"}, wantErr: `unknown toolset "compose", "hosts" (known: `},
		{name: "unknown toolset in the config file", args: []string{"--config", write("bad.hujson", `{"toolsets": ["compose"]}`)}, wantErr: `bad.hujson: key "toolsets": unknown toolset "compose"`},
		{name: "--tools outside the toolsets", args: []string{"--toolsets", "diag", "--tools", "ping_host,health_check"}, wantErr: "--tools names health_check, a tool of the host toolset, which --toolsets leaves out (it selects diag); add host to the toolsets or drop health_check from the tools"},
		{name: "firewall toolset without --firewall", args: []string{"--toolsets", "firewall"}, wantErr: "--toolsets names firewall: the firewall tools are off; turn them on with --firewall"},
		{name: "bad --disable-destructive twin", env: map[string]string{"TAILOPS_DISABLE_DESTRUCTIVE": "maybe"}, wantErr: "TAILOPS_DISABLE_DESTRUCTIVE"},
		{name: "bad disable_destructive key", args: []string{"--config", write("dd.hujson", `{"disable_destructive": "yes"}`)}, wantErr: `dd.hujson: `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			args := append([]string{"--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--sandbox", "off"}, tc.args...)
			in, err := setup(context.Background(), args, &syncBuffer{})
			if tc.wantErr != "" {
				if err == nil {
					in.close()
					t.Fatalf("started; want an error containing %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer in.close()
			got, want := slices.Sorted(slices.Values(in.srv.Tools())), slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("offered %v, want %v", got, want)
			}
		})
	}
}

// TestLeftOutToolsetIsNotOpenedNorGranted: a toolset --toolsets leaves
// out is not opened (the file tools' Open would log a missing root) and
// the sandbox policy grants none of its needs: --toolsets diag's policy
// has no file root, no capability and no netlink protocol, all of which
// the whole registry's has (TestSandboxPolicyFromRegistry); `tailops
// sandbox explain --toolsets diag` says so.
func TestLeftOutToolsetIsNotOpenedNorGranted(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	for _, tc := range []struct {
		toolsets []string
		opened   bool
	}{{nil, true}, {[]string{"--toolsets", "diag"}, false}} {
		logs := &syncBuffer{}
		args := append([]string{"--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--sandbox", "off", "--file-root", missing}, tc.toolsets...)
		in, err := setup(context.Background(), args, logs)
		if err != nil {
			t.Fatal(err)
		}
		in.close()
		if got := strings.Contains(logs.String(), "file root unavailable"); got != tc.opened {
			t.Errorf("%v: the file tools opened their roots: %v, want %v\n%s", tc.toolsets, got, tc.opened, logs)
		}
	}

	roots := t.TempDir()
	enabled, _ := selected(t, &config{Toolsets: listFlag{"diag"}, FileRoots: listFlag{roots}, env: environ{}})
	if got := tools.Names(enabled); !slices.Equal(got, toolsOf(nil, "diag")) {
		t.Fatalf("enabled %v, want the diag tools", got)
	}
	p, err := sandbox.Compute(tools.Grants(enabled), sandbox.Config{StateDir: t.TempDir(), BindPorts: []uint16{8443}})
	if err != nil {
		t.Fatal(err)
	}
	var who []string
	for _, name := range toolsOf(nil, "diag") {
		who = append(who, "tool "+name)
	}
	if !slices.Equal(p.Grantees, who) {
		t.Errorf("Grantees = %v, want the diag tools %v", p.Grantees, who)
	}
	for _, rules := range [][]sandbox.PathRule{p.Paths, p.Missing, p.Unreachable} {
		for _, r := range rules {
			outside := slices.ContainsFunc(r.Why, func(w string) bool { return strings.HasPrefix(w, "tool ") && !slices.Contains(who, w) })
			if r.Path == roots || outside {
				t.Errorf("path rule %+v is granted for a tool --toolsets diag leaves out", r)
			}
		}
	}
	if len(p.Capabilities) != 0 || len(p.Netlink) != 0 {
		t.Errorf("capabilities %+v, netlink %+v; want none: only the file, host and firewall tools ask for them", p.Capabilities, p.Netlink)
	}

	// tailops sandbox explain shows the same policy.
	out, stderr, code := tailops(t, nil, "sandbox", "explain", "--state-dir", filepath.Join(t.TempDir(), "state"), "--toolsets", "diag")
	if code != 0 || !strings.Contains(out, "tool ping_host") || strings.Contains(out, "tool read_file") ||
		strings.Contains(out, "tool get_journal") || strings.Contains(out, "CAP_DAC_READ_SEARCH") {
		t.Errorf("sandbox explain --toolsets diag: exit %d %s\n%s", code, stderr, out)
	}
}

// TestToolsetsEndToEnd: over MCP, --toolsets diag lists only the diag
// tools, and --disable-destructive lists no destructive tool, refuses a
// call of one as disabled and audits the refusal as any disabled tool's.
// tools/list is in name order, whatever the registry's order, and every
// tool has a title.
func TestToolsetsEndToEnd(t *testing.T) {
	ctx := context.Background()
	list := func(t *testing.T, s *testServer) []*sdk.Tool {
		cs := sdkSession(t, s.URL, s.token(t, "lister", auth.ScopeAdmin, auth.ScopeApprovalsGrant, auth.ScopeSecurityWrite))
		lt, err := cs.ListTools(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return lt.Tools
	}
	names := func(ts []*sdk.Tool) []string {
		var out []string
		for _, tool := range ts {
			out = append(out, tool.Name)
		}
		return out
	}

	t.Run("toolsets diag", func(t *testing.T) {
		s := startServer(t, "--toolsets", "diag")
		got := names(list(t, s))
		if want := slices.Sorted(slices.Values(toolsOf(nil, "diag"))); !slices.Equal(got, want) {
			t.Errorf("tools/list = %v, want the diag tools in name order %v", got, want)
		}
	})

	t.Run("disable destructive", func(t *testing.T) {
		s := startServer(t, "--disable-destructive")
		listed := list(t, s)
		got := names(listed)
		if want := slices.Sorted(slices.Values(toolsOf(func(s *tools.Spec) bool { return notFirewall(s) && !s.Destructive() }))); !slices.Equal(got, want) {
			t.Errorf("tools/list = %v, want every tool but the destructive ones, in name order: %v", got, want)
		}
		for _, tool := range listed {
			if tool.Annotations == nil || tool.Annotations.DestructiveHint == nil || *tool.Annotations.DestructiveHint {
				t.Errorf("%s is listed, and its destructive hint is %+v", tool.Name, tool.Annotations)
			}
		}
		cs := sdkSession(t, s.URL, s.token(t, "caller", auth.ScopeAdmin))
		_, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "restart_container", Arguments: map[string]any{"container": "web"}})
		if err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("restart_container with --disable-destructive: %v, want it refused as not found", err)
		}
		recs := s.toolRecords(t)
		if len(recs) != 1 || recs[0]["tool"] != "restart_container" || recs[0]["result"] != "denied" ||
			!strings.Contains(recs[0]["reason"].(string), "tool restart_container is disabled on this server") {
			t.Errorf("audit records %v, want one denial of restart_container as disabled", recs)
		}
	})

	t.Run("order and titles", func(t *testing.T) {
		s := startServer(t, "--firewall")
		listed := list(t, s)
		got := names(listed)
		notFleet := func(s *tools.Spec) bool { return !slices.Contains(fleetTools(), s.Name()) }
		if want := slices.Sorted(slices.Values(toolsOf(notFleet))); !slices.Equal(got, want) {
			t.Errorf("tools/list = %v, want every tool but the fleet's (no --fleet here) in name order %v", got, want)
		}
		for _, tool := range listed {
			if tool.Title == "" && (tool.Annotations == nil || tool.Annotations.Title == "") {
				t.Errorf("%s has no title", tool.Name)
			}
		}
	})
}

// TestInventoryReadsOnlySelectedToolsets: get_inventory reads the parts
// of the toolsets --toolsets selects and lists the others as unavailable,
// saying why; its sandbox needs are those of the parts it reads, so
// --toolsets inventory,host grants no Docker socket, bus or dpkg file.
func TestInventoryReadsOnlySelectedToolsets(t *testing.T) {
	enabled, sets := selected(t, &config{Toolsets: listFlag{"inventory", "host"}, env: environ{}})
	var inv tools.Spec
	for _, sp := range enabled {
		if sp.Name() == "get_inventory" {
			inv = sp
		}
	}
	if inv.Name() == "" {
		t.Fatalf("get_inventory not enabled: %v", tools.Names(enabled))
	}
	if n := inv.Needs; len(n.Sockets) != 0 || slices.ContainsFunc(n.Read, func(p string) bool { return strings.Contains(p, "dpkg") }) {
		t.Errorf("get_inventory needs %+v: the Docker socket, the bus or dpkg's files of toolsets left out", n)
	}
	ts := sets.sets[slices.IndexFunc(sets.sets, func(ts tools.Toolset) bool { return ts.Name() == "inventory" })]
	k := toolstest.Direct(ts.Tools())
	text := toolstest.Text(toolstest.Call(t, k, "get_inventory", map[string]any{"parts": []string{"containers", "services", "packages"}}))
	for _, part := range []string{"containers", "services", "packages"} {
		if !strings.Contains(text, `"name": "`+part+`"`) {
			t.Errorf("no %s part: %s", part, text)
		}
	}
	if strings.Count(text, `"status": "unavailable"`) != 3 || !strings.Contains(text, "the docker toolset is left out (") {
		t.Errorf("parts of left-out toolsets: %s, want each unavailable, saying why", text)
	}
}

// selected builds c's toolsets and returns the tools its selection
// enables, and the toolsets.
func selected(t *testing.T, c *config) ([]tools.Spec, *toolsetList) {
	t.Helper()
	sets := c.toolsets(nil, nil, nil)
	sel, err := c.selection(sets)
	if err != nil {
		t.Fatal(err)
	}
	enabled, err := tools.Select(sets.specs(), sel)
	if err != nil {
		t.Fatal(err)
	}
	return enabled, sets
}

// SPDX-License-Identifier: Apache-2.0

package systemd_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/internal/systemdtest"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/tools/systemd"
	"github.com/tailops/tailops/toolstest"
)

// testUnit is a service that runs until stopped, says when it starts and
// reloads, and once logs a secret-looking line.
const testUnit = `[Unit]
Description=TailOps test service %s
[Service]
ExecStart=/bin/sh -c 'echo "started %s"; echo "password=hunter2hunter2"; exec sleep infinity'
ExecReload=/bin/sh -c 'echo "reloaded %s"'
`

// TestAgainstRealSystemd runs every tool against systemd as PID 1 of a
// test bed, with its real bus, polkit and journal: one bed for all.
func TestAgainstRealSystemd(t *testing.T) {
	bed := systemdtest.Start(t)
	for _, u := range []string{"tailops-test", "tailops-calm"} {
		bed.WriteUnit(t, u+".service", fmt.Sprintf(testUnit, u, u, u))
	}
	newToolset := func(t *testing.T, allow, high []string) *systemd.Toolset {
		ts, err := systemd.New(systemd.Config{BusAddress: bed.BusAddress(), Allow: allow, HighRisk: high, JournalDirs: bed.JournalDirs()})
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	ts := newToolset(t, []string{"tailops-*", "polkit", "ssh*"}, []string{"tailops-calm"})
	s := toolstest.New(t, []tools.Toolset{ts}, &toolstest.Options{Approve: true})
	c := s.Client(t)

	t.Run("start_stop_restart_reload", func(t *testing.T) {
		for _, unit := range []string{"tailops-test", "tailops-calm.service"} {
			full := strings.TrimSuffix(unit, ".service") + ".service"
			st := toolstest.OK[systemd.ServiceAction](t, c, "start_service", map[string]any{"unit": unit})
			if st.Job != "done" || st.ActiveState != "active" || st.MainPID == 0 || st.Unit != full {
				t.Fatalf("start_service %s: %+v", unit, st)
			}
			rl := toolstest.OK[systemd.ServiceAction](t, c, "reload_service", map[string]any{"unit": unit})
			if rl.Job != "done" || rl.MainPID != st.MainPID {
				t.Errorf("reload_service %s: %+v (main PID was %d)", unit, rl, st.MainPID)
			}
			rs := toolstest.OK[systemd.ServiceAction](t, c, "restart_service", map[string]any{"unit": unit})
			if rs.Job != "done" || rs.ActiveState != "active" || rs.MainPID == 0 || rs.MainPID == st.MainPID {
				t.Errorf("restart_service %s: %+v (main PID was %d)", unit, rs, st.MainPID)
			}
			if got := strings.TrimSpace(bed.Run(t, "systemctl", "show", "-P", "MainPID", full)); got != fmt.Sprint(rs.MainPID) {
				t.Errorf("systemctl says %s's main PID is %s, restart_service said %d", full, got, rs.MainPID)
			}
			sp := toolstest.OK[systemd.ServiceAction](t, c, "stop_service", map[string]any{"unit": unit})
			if sp.Job != "done" || sp.ActiveState != "inactive" || sp.MainPID != 0 {
				t.Errorf("stop_service %s: %+v", unit, sp)
			}
			if got := strings.TrimSpace(bed.Run(t, "systemctl", "show", "-P", "ActiveState", full)); got != "inactive" {
				t.Errorf("systemctl says %s is %s after stop_service", full, got)
			}
		}
		// Approval and the audit record's risk: restart and stop are
		// critical (approved by the harness's webhook), except for the
		// unit service_high_risk names, which runs unapproved as high.
		got := map[string]string{}
		for _, r := range s.Records(t) {
			if r["event"] != "tool_call" || r["result"] != "success" {
				continue
			}
			args, _ := r["arguments"].(map[string]any)
			got[fmt.Sprintf("%v %v", r["tool"], args["unit"])] = fmt.Sprintf("%v approved=%v", r["risk"], r["approval"] != nil)
		}
		for call, want := range map[string]string{
			"start_service tailops-test":           "high approved=false",
			"reload_service tailops-test":          "high approved=false",
			"restart_service tailops-test":         "critical approved=true",
			"stop_service tailops-test":            "critical approved=true",
			"restart_service tailops-calm.service": "high approved=false",
			"stop_service tailops-calm.service":    "high approved=false",
		} {
			if got[call] != want {
				t.Errorf("%s: audit record says %q, want %q", call, got[call], want)
			}
		}
	})

	t.Run("list_services", func(t *testing.T) {
		// Loaded units only, as systemctl list-units: an inactive unit
		// nothing refers to is not loaded.
		bed.Run(t, "systemctl", "start", "tailops-test.service", "tailops-calm.service")
		all := toolstest.OK[systemd.ServiceList](t, c, "list_services", nil)
		byName := map[string]systemd.Service{}
		for _, sv := range all.Services {
			if !strings.HasSuffix(sv.Name, ".service") {
				t.Errorf("list_services lists %s", sv.Name)
			}
			byName[sv.Name] = sv
		}
		dbus := byName["dbus.service"]
		if dbus.ActiveState != "active" || dbus.SubState != "running" || dbus.LoadState != "loaded" || dbus.Enabled == "" || dbus.Description == "" {
			t.Errorf("dbus.service: %+v", dbus)
		}
		tt := byName["tailops-test.service"]
		if tt.ActiveState != "active" || tt.Restarts == nil || *tt.Restarts != 0 || tt.Enabled != "static" {
			t.Errorf("tailops-test.service: %+v", tt)
		}
		if all.Count != len(all.Services) || all.Count < 4 {
			t.Errorf("count %d of %d services", all.Count, len(all.Services))
		}
		// Filters: by active state, by glob.
		active := toolstest.OK[systemd.ServiceList](t, c, "list_services", map[string]any{"state": "active"})
		for _, sv := range active.Services {
			if sv.ActiveState != "active" {
				t.Errorf("state active listed %+v", sv)
			}
		}
		if len(active.Services) >= len(all.Services) {
			t.Errorf("state active listed %d of %d services", len(active.Services), len(all.Services))
		}
		pat := toolstest.OK[systemd.ServiceList](t, c, "list_services", map[string]any{"pattern": "tailops-*"})
		if pat.Count != 2 || pat.Services[0].Name != "tailops-calm.service" || pat.Services[1].Name != "tailops-test.service" {
			t.Errorf("pattern tailops-*: %+v", pat.Services)
		}
		for args, want := range map[string]string{`{"state":"sleeping"}`: "must be one of", `{"pattern":"a b"}`: "pattern"} {
			var m map[string]any
			json.Unmarshal([]byte(args), &m)
			if msg := toolstest.Err(t, c, "list_services", m); !strings.Contains(msg, want) {
				t.Errorf("list_services %s: %q, want %q", args, msg, want)
			}
		}
	})

	t.Run("get_service_status", func(t *testing.T) {
		bed.Run(t, "systemctl", "restart", "tailops-test.service")
		bed.Run(t, "systemctl", "reload", "tailops-test.service")
		var st systemd.ServiceStatus
		// journald writes asynchronously, the service's output and PID 1's
		// messages by different ways: wait for both of the reload's lines
		// after the last start.
		toolstest.WaitFor(t, "the reload's journal lines", func() bool {
			st = toolstest.OK[systemd.ServiceStatus](t, c, "get_service_status", map[string]any{"unit": "tailops-test", "lines": 50})
			var since []string
			for _, l := range st.Journal {
				if strings.HasPrefix(l.Message, "Started tailops-test.service") {
					since = nil
				}
				since = append(since, l.Message)
			}
			after := strings.Join(since, "\n")
			return strings.Contains(after, "reloaded tailops-test") && strings.Contains(after, "Reloaded tailops-test.service")
		})
		main := strings.TrimSpace(bed.Run(t, "systemctl", "show", "-P", "MainPID", "tailops-test.service"))
		if st.Name != "tailops-test.service" || st.ActiveState != "active" || st.SubState != "running" || fmt.Sprint(st.MainPID) != main ||
			st.Since == "" || st.CPUSeconds == nil || st.Result != "success" || st.FragmentPath != "/etc/systemd/system/tailops-test.service" {
			t.Errorf("status: %+v (systemctl's main PID %s)", st, main)
		}
		if since, err := time.Parse(time.RFC3339, st.Since); err != nil || time.Since(since) > time.Minute {
			t.Errorf("since %q: %v", st.Since, err)
		}
		text := ""
		for _, l := range st.Journal {
			text += l.Message + "\n"
		}
		for _, want := range []string{"started tailops-test", "reloaded tailops-test", "Started tailops-test.service"} {
			if !strings.Contains(text, want) {
				t.Errorf("the journal lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, "hunter2") {
			t.Errorf("a secret reached the output:\n%s", text)
		}
		short := toolstest.OK[systemd.ServiceStatus](t, c, "get_service_status", map[string]any{"unit": "tailops-test", "lines": 2})
		if len(short.Journal) != 2 || short.Journal[1] != st.Journal[len(st.Journal)-1] {
			t.Errorf("lines 2: %+v, want the last two of %+v", short.Journal, st.Journal)
		}
		missing := toolstest.OK[systemd.ServiceStatus](t, c, "get_service_status", map[string]any{"unit": "no-such-unit"})
		if missing.LoadState != "not-found" || missing.ActiveState != "inactive" {
			t.Errorf("a missing unit: %+v", missing)
		}
		// Without a readable journal the status still comes, with a note.
		nj, err := systemd.New(systemd.Config{BusAddress: bed.BusAddress(), JournalDirs: []string{filepath.Join(t.TempDir(), "none")}})
		if err != nil {
			t.Fatal(err)
		}
		got := toolstest.OK[systemd.ServiceStatus](t, toolstest.Direct(nj.Tools()), "get_service_status", map[string]any{"unit": "tailops-test"})
		if got.ActiveState != "active" || len(got.Journal) != 0 || !strings.Contains(got.JournalNote, "no journal files") {
			t.Errorf("without a journal: %+v", got)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		before := strings.TrimSpace(bed.Run(t, "systemctl", "show", "-P", "MainPID", "polkit.service"))
		for _, tc := range []struct {
			tool, unit, want string
		}{
			{"restart_service", "polkit", "protected"},
			{"stop_service", "ssh", "protected"},
			{"stop_service", "dbus.service", "protected"},
			{"restart_service", "systemd-journald", "protected"},
			{"stop_service", "cron", "not on --service-allow"},
			{"start_service", "tailops-test.target", "only service, socket, timer, path"},
			{"start_service", "../../x", "invalid argument \"unit\""},
			{"start_service", "a b", "invalid argument \"unit\""},
			{"start_service", "tailops-x@.service", "template"},
			{"start_service", strings.Repeat("t", 300), "longer than 255"},
			{"get_service_status", "x;y", "invalid argument \"unit\""},
		} {
			if msg := toolstest.Err(t, c, tc.tool, map[string]any{"unit": tc.unit}); !strings.Contains(msg, tc.want) {
				t.Errorf("%s %q: %q, want %q", tc.tool, tc.unit, msg, tc.want)
			}
		}
		if after := strings.TrimSpace(bed.Run(t, "systemctl", "show", "-P", "MainPID", "polkit.service")); after != before {
			t.Errorf("polkit's main PID went from %s to %s", before, after)
		}
		// An alias on the allow-list of a protected unit: refused under
		// the name systemd resolves it to, and the unit keeps running.
		bed.WriteUnitNoReload(t, "tailscaled.service", fmt.Sprintf(testUnit, "tailscaled", "tailscaled", "tailscaled"))
		if err := os.Symlink("tailscaled.service", bed.Path("/etc/systemd/system/tailops-alias.service")); err != nil {
			t.Fatal(err)
		}
		bed.Run(t, "systemctl", "daemon-reload")
		bed.Run(t, "systemctl", "start", "tailscaled.service")
		if msg := toolstest.Err(t, c, "stop_service", map[string]any{"unit": "tailops-alias"}); !strings.Contains(msg, "is tailscaled.service") || !strings.Contains(msg, "protected") {
			t.Errorf("stop_service of an alias of tailscaled.service: %q, want it refused as tailscaled.service", msg)
		}
		if st := strings.TrimSpace(bed.Run(t, "systemctl", "show", "-P", "ActiveState", "tailscaled.service")); st != "active" {
			t.Errorf("tailscaled.service is %s after stop_service of its alias was refused", st)
		}
		none := newToolset(t, nil, nil)
		if msg := toolstest.Err(t, toolstest.Direct(none.Tools()), "start_service", map[string]any{"unit": "tailops-test"}); !strings.Contains(msg, "--service-allow") {
			t.Errorf("with an empty allow-list: %q", msg)
		}
	})

	t.Run("polkit", func(t *testing.T) {
		// The toolset in a process inside the bed, as nobody: systemd asks
		// polkit, which sees the process.
		h := startHelper(t, bed, "tailops-test*", "")
		bed.SetPolkitRule(t, "")
		msg := h.call(t, "restart_service", "tailops-test")
		for _, want := range []string{"polkit did not authorize uid 65534", "org.freedesktop.systemd1.manage-units", "tailops polkit-rule", "/etc/polkit-1/rules.d/50-tailops.rules"} {
			if !strings.Contains(msg, want) {
				t.Errorf("without the rule: %q lacks %q", msg, want)
			}
		}
		rule, err := systemd.PolkitRule("nobody", []string{"tailops-test*"})
		if err != nil {
			t.Fatal(err)
		}
		bed.SetPolkitRule(t, rule)
		before := strings.TrimSpace(bed.Run(t, "systemctl", "show", "-P", "MainPID", "tailops-test.service"))
		if msg := h.call(t, "restart_service", "tailops-test"); !strings.Contains(msg, `"job": "done"`) {
			t.Errorf("with the rule: %s", msg)
		}
		if after := strings.TrimSpace(bed.Run(t, "systemctl", "show", "-P", "MainPID", "tailops-test.service")); after == before || after == "0" {
			t.Errorf("restart_service with the rule: main PID %s, then %s", before, after)
		}
		// The rule allows only its units: tailops-calm is not on it.
		if msg := h.call(t, "start_service", "tailops-calm"); !strings.Contains(msg, "not on --service-allow") {
			t.Errorf("start_service tailops-calm: %s", msg)
		}
		// Reads need no rule.
		if msg := h.call(t, "get_service_status", "dbus"); !strings.Contains(msg, `"active_state": "active"`) {
			t.Errorf("get_service_status as nobody: %s", msg)
		}
		// TailOps's own unit is refused although the list and the rule
		// name it: systemd says which unit the caller runs in.
		self := startHelper(t, bed, "tailops-*", "tailops-self")
		rule, err = systemd.PolkitRule("nobody", []string{"tailops-*"})
		if err != nil {
			t.Fatal(err)
		}
		bed.SetPolkitRule(t, rule)
		if msg := self.call(t, "restart_service", "tailops-self"); !strings.Contains(msg, "the unit TailOps itself runs in") {
			t.Errorf("restart_service of its own unit: %s", msg)
		}
		if msg := self.call(t, "restart_service", "tailops-test"); !strings.Contains(msg, `"job": "done"`) {
			t.Errorf("restart_service from a unit: %s", msg)
		}
		// The rule itself, asked by the service's user directly (as a
		// TailOps whose own checks failed would): a target its pattern
		// matches is not the user's to start; a service it matches is.
		bed.WriteUnit(t, "tailops-probe.target", "[Unit]\nDescription=TailOps test target\n")
		start := func(unit string) (string, error) {
			out, err := bed.CommandAs(t.Context(), 65534, 65534, "systemctl", "--no-ask-password", "start", unit).CombinedOutput()
			return string(out), err
		}
		if out, err := start("tailops-probe.target"); err == nil {
			t.Errorf("nobody started tailops-probe.target through the rule for tailops-*: %s", out)
		}
		if out, _ := bed.Command(t.Context(), "systemctl", "is-active", "tailops-probe.target").Output(); strings.TrimSpace(string(out)) == "active" {
			t.Error("tailops-probe.target is active")
		}
		if out, err := start("tailops-test.service"); err != nil {
			t.Errorf("nobody could not start tailops-test.service, which the rule allows: %v %s", err, out)
		}
	})
}

// helper is this test binary running in the bed as nobody, calling the
// tools on request (TestHelperProcess).
type helper struct{ *systemdtest.Helper }

// startHelper starts the helper in the bed as nobody: through nsenter, or,
// with a unit name, as that transient service (systemd-run).
func startHelper(t *testing.T, bed *systemdtest.Bed, allow, unit string) *helper {
	t.Helper()
	bin := bed.InstallSelf(t, "systemd.test")
	cmd := bed.CommandAs(t.Context(), 65534, 65534, "/usr/bin/env", "-i", "TAILOPS_SYSTEMDTEST_HELPER="+allow, bin, "-test.run=^TestHelperProcess$")
	if unit != "" {
		cmd = bed.Command(t.Context(), "systemd-run", "--unit="+unit, "--pipe", "--quiet", "-p", "User=nobody", "-p", "Group=nogroup",
			"--setenv=TAILOPS_SYSTEMDTEST_HELPER="+allow, bin, "-test.run=^TestHelperProcess$")
	}
	return &helper{systemdtest.StartHelper(t, cmd)}
}

// call asks the helper to call tool on unit and returns the result's text
// (a tool error's message, or the JSON result).
func (h *helper) call(t *testing.T, tool, unit string) string {
	t.Helper()
	var s string
	json.Unmarshal([]byte(h.Ask(t, tool+" "+unit)), &s)
	return s
}

// TestHelperProcess is the helper's body when the test binary runs in the
// bed (TAILOPS_SYSTEMDTEST_HELPER is the allow pattern); it does nothing
// otherwise. It reads "tool unit" lines and answers each with the
// result's text as a JSON string.
func TestHelperProcess(t *testing.T) {
	allow := os.Getenv("TAILOPS_SYSTEMDTEST_HELPER")
	if allow == "" {
		return
	}
	ts, err := systemd.New(systemd.Config{Allow: []string{allow}})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	h := toolstest.Direct(ts.Tools())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		tool, unit, _ := strings.Cut(sc.Text(), " ")
		b, _ := json.Marshal(toolstest.Text(toolstest.Call(t, h, tool, map[string]any{"unit": unit})))
		fmt.Printf("%s\n", b)
	}
}

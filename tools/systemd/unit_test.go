// SPDX-License-Identifier: Apache-2.0

package systemd

import (
	"strings"
	"testing"
)

func TestUnitName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "nginx", want: "nginx.service"},
		{in: "nginx.service", want: "nginx.service"},
		{in: "ssh.socket", want: "ssh.socket"},
		{in: "getty@tty1.service", want: "getty@tty1.service"},
		{in: "getty@tty1", want: "getty@tty1.service"},
		{in: "dev-sda1.device", want: "dev-sda1.device"},
		{in: `sys-devices-pci0000:00-0000:00:1f.2.device`, want: `sys-devices-pci0000:00-0000:00:1f.2.device`},
		{in: `run-user-1000\x2dx.mount`, want: `run-user-1000\x2dx.mount`},
		{in: "nginx.conf", want: "nginx.conf.service"},
		{in: "-.mount", want: "-.mount"},
		{in: "", err: "empty"},
		{in: "getty@.service", err: "template"},
		{in: "@x.service", err: "begins with '@'"},
		{in: ".service", err: "nothing before"},
		{in: "a b.service", err: "character"},
		{in: "../etc/passwd", err: "character"},
		{in: "x;reboot", err: "character"},
		{in: "nginx\n", err: "character"},
		{in: "ng*nx", err: "character"},
		{in: "é.service", err: "character"},
		{in: strings.Repeat("a", 247) + ".service", want: strings.Repeat("a", 247) + ".service"},
		{in: strings.Repeat("a", 248) + ".service", err: "longer"},
		{in: strings.Repeat("a", 247), want: strings.Repeat("a", 247) + ".service"},
		{in: strings.Repeat("a", 248), err: "longer"},
	} {
		got, err := UnitName(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("UnitName(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("UnitName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzUnitName: whatever it is given, UnitName accepts only names of
// systemd's charset and length that end in a unit type, with something
// before the type and not a template, and accepts its own output as is.
func FuzzUnitName(f *testing.F) {
	for _, s := range []string{"nginx", "getty@tty1.service", "a@.service", "-.mount", "x.y.z", `a\x2d.b`, "", "@", ".service"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := UnitName(s)
		if err != nil {
			return
		}
		if len(name) > maxUnitName || unitType(name) == "" {
			t.Fatalf("UnitName(%q) = %q: too long or no type", s, name)
		}
		for i := 0; i < len(name); i++ {
			if !isUnitChar(name[i]) {
				t.Fatalf("UnitName(%q) = %q with %q", s, name, name[i])
			}
		}
		prefix := name[:strings.LastIndexByte(name, '.')]
		if at := strings.IndexByte(prefix, '@'); prefix == "" || at == 0 || at == len(prefix)-1 {
			t.Fatalf("UnitName(%q) = %q: bad prefix", s, name)
		}
		if again, err := UnitName(name); err != nil || again != name {
			t.Fatalf("UnitName(%q) = %q, %v; want it unchanged", name, again, err)
		}
	})
}

// FuzzPattern: a pattern that parses matches the unit names globMatch
// says, and a literal pattern matches exactly itself.
func FuzzPattern(f *testing.F) {
	for _, s := range [][2]string{{"nginx", "nginx.service"}, {"web-*", "web-1.service"}, {"a?c.socket", "abc.socket"}, {"*", "x"}, {"**a*", "aaa"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pat, name string) {
		p, err := ParsePattern(pat)
		if err != nil {
			return
		}
		if !strings.ContainsAny(string(p), "*?") && p.Match(name) != (string(p) == name) {
			t.Fatalf("literal %q matching %q: %v", p, name, p.Match(name))
		}
		if !Pattern("*").Match(name) {
			t.Fatalf("* does not match %q", name)
		}
	})
}

func TestPatterns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"nginx", "nginx.service", true},
		{"nginx", "nginx.socket", false},
		{"web-*", "web-1.service", true},
		{"web-*", "web-1.socket", true},
		{"web-*.service", "web-1.socket", false},
		{"app?.service", "app1.service", true},
		{"app?.service", "app12.service", false},
		{"*", "anything.timer", true},
		{"a*b*c.service", "axxbyyc.service", true},
		{"a*b*c.service", "axxbyy.service", false},
	} {
		p, err := ParsePattern(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Match(tc.name); got != tc.want {
			t.Errorf("%q (%q) matching %q: %v, want %v", tc.pattern, p, tc.name, got, tc.want)
		}
	}
	for _, bad := range []string{"", "a b", "[ab].service", "x/y", strings.Repeat("a", 256)} {
		if _, err := ParsePattern(bad); err == nil {
			t.Errorf("ParsePattern(%q) succeeded", bad)
		}
	}
}

// TestProtected: the units that keep the host reachable are protected,
// and ordinary ones are not.
func TestProtected(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"tailscaled.service", "ssh.service", "sshd.service", "ssh.socket", "dbus.service", "dbus-broker.service",
		"systemd-networkd.service", "systemd-journald.service", "systemd-resolved.service", "getty@tty1.service",
		"serial-getty@ttyS0.service", "NetworkManager.service", "networking.service", "polkit.service", "user@1000.service"} {
		if protected(u) == "" {
			t.Errorf("%s is not protected", u)
		}
	}
	for _, u := range []string{"nginx.service", "docker.service", "postgresql@15-main.service", "cron.service", "tailops-test.service"} {
		if p := protected(u); p != "" {
			t.Errorf("%s is protected (by %s)", u, p)
		}
	}
}

func TestPolkitRule(t *testing.T) {
	t.Parallel()
	rule, err := PolkitRule("tailops", []string{"nginx", "web-*"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`subject.user != "tailops"`, `org.freedesktop.systemd1.manage-units`, `action.lookup("unit")`, `action.lookup("verb")`,
		`/^nginx\.service$/`, `/^web\-.*$/`, `/^systemd\-.*$/`, `["start", "stop", "restart", "reload"]`} {
		if !strings.Contains(rule, want) {
			t.Errorf("the rule lacks %s:\n%s", want, rule)
		}
	}
	for _, bad := range []string{`x"; polkit.Result.YES; "`, "Root", "", strings.Repeat("a", 40)} {
		if _, err := PolkitRule(bad, nil); err == nil {
			t.Errorf("PolkitRule(%q) succeeded", bad)
		}
	}
	if _, err := PolkitRule("tailops", []string{"a b"}); err == nil {
		t.Error("a bad pattern gave a rule")
	}
}

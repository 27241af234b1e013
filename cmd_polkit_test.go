// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tailops/tailops/tools/packages"
	"github.com/tailops/tailops/tools/systemd"
)

// TestPolkitRuleCommand: `tailops polkit-rule` prints the rule for the
// allow-list serve would use, from the flag, its environment twin or the
// config file key, refuses to guess a user when run as root, and takes
// the user from the command line only.
func TestPolkitRuleCommand(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.hujson")
	os.WriteFile(cfg, []byte(`{"service_allow": ["from-file"]}`), 0o600)
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"flag", nil, []string{"--service-allow", "web-*"}, `/^web\-.*$/`},
		{"environment twin", []string{"TAILOPS_SERVICE_ALLOW=nginx"}, nil, `/^nginx\.service$/`},
		{"config file key", []string{"TAILOPS_CONFIG=" + cfg}, nil, `/^from\-file\.service$/`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := tailops(t, tc.env, append([]string{"polkit-rule", "--user", "tailops"}, tc.args...)...)
			want, err := systemd.PolkitRule("tailops", nil)
			if err != nil {
				t.Fatal(err)
			}
			if code != 0 || !strings.Contains(out, "var allow = ["+tc.want+"];") || !strings.HasPrefix(out, want[:strings.Index(want, "polkit.addRule")]) {
				t.Errorf("exit %d, stderr %s, rule:\n%s", code, stderr, out)
			}
		})
	}
	if _, stderr, code := tailops(t, nil, "polkit-rule"); code == 0 || !strings.Contains(stderr, "give --user") {
		t.Errorf("as root without --user: exit %d, %s", code, stderr)
	}
	if out, stderr, code := tailops(t, []string{"TAILOPS_USER=mallory"}, "polkit-rule"); code == 0 || strings.Contains(out, "mallory") ||
		!strings.Contains(stderr, "does not read TAILOPS_USER") {
		t.Errorf("the user from TAILOPS_USER: exit %d, %s\n%s", code, stderr, out)
	}
	if _, stderr, code := tailops(t, nil, "polkit-rule", "--user", `x"; return polkit.Result.YES; //`); code == 0 || !strings.Contains(stderr, "not a valid user name") {
		t.Errorf("a user name that would inject JavaScript: exit %d, %s", code, stderr)
	}
}

// TestPolkitRuleCommandPackageKit: `tailops polkit-rule` adds PackageKit's
// rule when the server would serve install_package or upgrade_packages,
// and leaves it out when the selection drops them.
func TestPolkitRuleCommandPackageKit(t *testing.T) {
	pk, err := packages.PolkitRule("tailops")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{"--toolsets", "packages"}, true},
		{[]string{"--tools", "upgrade_packages"}, true},
		{[]string{"--toolsets", "systemd"}, false},
		{[]string{"--read-only"}, false},
		{[]string{"--disable-tools", "install_package,upgrade_packages"}, false},
	} {
		out, stderr, code := tailops(t, nil, append([]string{"polkit-rule", "--user", "tailops"}, tc.args...)...)
		if code != 0 || strings.Contains(out, pk) != tc.want || !strings.Contains(out, "org.freedesktop.systemd1.manage-units") {
			t.Errorf("%v: exit %d, stderr %s, PackageKit's rule wanted %v:\n%s", tc.args, code, stderr, tc.want, out)
		}
	}
}

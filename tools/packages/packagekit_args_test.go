// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tailops/tailops/toolstest"
)

// TestPackageKitArgsRefusedBeforeTheBus: invalid names and versions are
// refused, naming the argument, before any D-Bus call: the bus address is
// a socket that does not exist, so a call that went on would fail on it.
func TestPackageKitArgsRefusedBeforeTheBus(t *testing.T) {
	t.Parallel()
	ts, err := New(Config{BusAddress: "unix:path=" + filepath.Join(t.TempDir(), "no-bus"), Status: mustAbs(t, "testdata/status"),
		Lists: mustAbs(t, "testdata/lists")})
	if err != nil {
		t.Fatal(err)
	}
	h := toolstest.Direct(ts.Tools())
	many := make([]any, maxUpgradeNames+1)
	for i := range many {
		many[i] = "alpha"
	}
	for _, c := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"install_package", map[string]any{"name": "Nginx"}, `"name"`},
		{"install_package", map[string]any{"name": "a"}, `"name"`},
		{"install_package", map[string]any{"name": "-rf"}, `"name"`},
		{"install_package", map[string]any{"name": "nginx;1.0;amd64;x"}, `"name"`},
		{"install_package", map[string]any{"name": "../../etc/passwd"}, `"name"`},
		{"install_package", map[string]any{"name": strings.Repeat("a", 200)}, "more than 128"},
		{"install_package", map[string]any{"name": "nginx", "version": "1.0;amd64"}, `"version"`},
		{"install_package", map[string]any{"name": "nginx", "version": "a1.0"}, `"version"`},
		{"install_package", map[string]any{"name": "nginx", "version": "x:1.0"}, `"version"`},
		{"install_package", map[string]any{"name": "nginx", "version": "1.0-"}, `"version"`},
		{"install_package", map[string]any{"name": "nginx", "version": "1.0 2"}, `"version"`},
		{"install_package", map[string]any{"name": "nginx", "version": strings.Repeat("1", 300)}, "more than 256"},
		{"upgrade_packages", map[string]any{"packages": []any{"alpha", "Bad"}}, `"packages"`},
		{"upgrade_packages", map[string]any{"packages": []any{"alpha;1"}}, `"packages"`},
		{"upgrade_packages", map[string]any{"packages": many}, "more than 500"},
		// A valid name that is not installed is refused from the dpkg
		// status, before the bus too.
		{"upgrade_packages", map[string]any{"packages": []any{"alpha", "not-installed-here"}}, "not installed, so not upgraded: not-installed-here"},
	} {
		msg := toolstest.Err(t, h, c.tool, c.args)
		if !strings.Contains(msg, c.want) || strings.Contains(msg, "bus") {
			t.Errorf("%s %v: %q, want it to say %q before any bus call", c.tool, c.args, msg, c.want)
		}
	}
	// A valid call does reach for the bus, and says it is not there.
	if msg := toolstest.Err(t, h, "install_package", map[string]any{"name": "nginx"}); !strings.Contains(msg, "the system bus is not reachable") {
		t.Errorf("install_package with no bus: %q", msg)
	}
}

// TestPolkitRule: the rule names the user and exactly PackageKit's
// refresh, install and update actions, and refuses a user name that would
// break out of its JavaScript string.
func TestPolkitRule(t *testing.T) {
	t.Parallel()
	rule, err := PolkitRule("tailops")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`subject.user == "tailops"`, `["org.freedesktop.packagekit.system-sources-refresh","org.freedesktop.packagekit.package-install","org.freedesktop.packagekit.system-update"]`} {
		if !strings.Contains(rule, want) {
			t.Errorf("the rule lacks %s:\n%s", want, rule)
		}
	}
	for _, bad := range []string{"untrusted", "remove", "downgrade"} {
		if strings.Contains(rule, "packagekit.package-"+bad) {
			t.Errorf("the rule allows %s:\n%s", bad, rule)
		}
	}
	if _, err := PolkitRule(`x" || true || "`); err == nil {
		t.Error("a user name that injects JavaScript was accepted")
	}
}

// TestTransactionError: PackageKit's numbers become its names, and each
// error says what to do; polkit's refusal names the action and the rule.
func TestTransactionError(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  *TransactionError
		want []string
	}{
		{&TransactionError{Doing: "installing x", Exit: enumName(pkExits, 2), Code: enumName(pkErrors, errNotAuthorized), Action: actionInstall},
			[]string{"installing x: PackageKit's transaction ended failed with error not-authorized", actionInstall, "tailops polkit-rule", PolkitRuleFile}},
		{&TransactionError{Doing: "upgrading y", Exit: "failed", Code: enumName(pkErrors, 26), Details: "E: Could not get lock /var/lib/dpkg/lock-frontend"},
			[]string{"cannot-get-lock: E: Could not get lock", "call again when it is done"}},
		{&TransactionError{Doing: "installing z", Exit: enumName(pkExits, 99), Code: enumName(pkErrors, 999)},
			[]string{"ended unknown (99) with error unknown (999)"}},
		{&TransactionError{Doing: "installing z", Exit: "failed", Code: "missing-gpg-signature"}, []string{"trusted (signed) sources"}},
	} {
		msg := c.err.Error()
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%q lacks %q", msg, w)
			}
		}
	}
	if got := enumName(pkStatuses, 30); got != "waiting for the package manager lock" {
		t.Errorf("status 30 is %q", got)
	}
}

// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strings"
	"testing"

	"github.com/tailops/tailops/internal/systemdtest"
)

// TestPackageKitUnderSandbox runs install_package in the real binary
// under the enforced sandbox, approved by a webhook, against the real
// PackageKit of a systemd bed (root overlaid, so nothing reaches the
// host): the policy grants the bus socket and the dpkg status file, so the
// call reaches PackageKit, which looks the package up and says it is not
// in the apt sources (tools/packages' TestPackageKit installs and
// upgrades for real).
func TestPackageKitUnderSandbox(t *testing.T) {
	bed := systemdtest.StartWith(t, systemdtest.Options{WritableRoot: true})
	hook, secret := approvingWebhook(t)
	p := runBinaryEnv(t, []string{"DBUS_SYSTEM_BUS_ADDRESS=" + bed.BusAddress()}, binPath, "--toolsets", "packages",
		"--approval-webhook", hook, "--approval-webhook-secret-file", secret)
	if !p.waitLog("sandbox applied") {
		t.Fatalf("the sandbox is not applied:\n%s", p.Stderr)
	}
	cs := sdkSession(t, p.URL, p.token(t, "system:admin"))
	text, isErr := callText(t, cs, "install_package", map[string]any{"name": "tailops-no-such-pkg"})
	if !isErr || !strings.Contains(text, "installing tailops-no-such-pkg: package not found in the apt sources") {
		t.Errorf("install_package under the sandbox did not get PackageKit's answer: %s", text)
	}
	if out, _ := bed.Command(t.Context(), "systemctl", "is-active", "packagekit.service").Output(); strings.TrimSpace(string(out)) != "active" {
		t.Errorf("PackageKit was not started by the call: %s", out)
	}
}

// SPDX-License-Identifier: Apache-2.0

package sandbox

import "testing"

func TestHostPaths(t *testing.T) {
	t.Parallel()
	h := HostPaths{Proc: "/host/proc", Sys: "/host/sys/", Etc: "/etc", Var: "/host/var", Run: "/host/run"}
	for in, want := range map[string]string{
		"/proc/loadavg":          "/host/proc/loadavg",
		"/proc":                  "/host/proc",
		"/proc/":                 "/host/proc",
		"/sys/class/net/lo":      "/host/sys/class/net/lo",
		"/sys":                   "/host/sys",
		"/procfs/x":              "/procfs/x",
		"/etc/os-release":        "/etc/os-release",
		"/var/log/../log/syslog": "/host/var/log/syslog",
		"/var/log/journal":       "/host/var/log/journal",
		"/run/log/journal":       "/host/run/log/journal",
		"/variable":              "/variable",
		"/runner/x":              "/runner/x",
		"/proc/../etc/shadow":    "/etc/shadow",
	} {
		if got := h.Path(in); got != want {
			t.Errorf("Path(%q) = %q, want %q", in, got, want)
		}
	}
	if got := (HostPaths{}).Path("/proc/self/status"); got != "/proc/self/status" {
		t.Errorf("the zero HostPaths rewrote /proc/self/status to %q", got)
	}
}

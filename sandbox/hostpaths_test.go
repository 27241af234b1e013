// SPDX-License-Identifier: Apache-2.0

package sandbox

import "testing"

func TestHostPaths(t *testing.T) {
	t.Parallel()
	h := HostPaths{Proc: "/host/proc", Sys: "/host/sys/", Etc: "/etc"}
	for in, want := range map[string]string{
		"/proc/loadavg":          "/host/proc/loadavg",
		"/proc":                  "/host/proc",
		"/proc/":                 "/host/proc",
		"/sys/class/net/lo":      "/host/sys/class/net/lo",
		"/sys":                   "/host/sys",
		"/procfs/x":              "/procfs/x",
		"/etc/os-release":        "/etc/os-release",
		"/var/log/../log/syslog": "/var/log/syslog",
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

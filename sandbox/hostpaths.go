// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"path/filepath"
	"strings"
)

// HostPaths are where the host's /proc, /sys, /etc, /var and /run are as
// this process sees them: a container given the host's under /host sets
// HOST_PROC, HOST_SYS, HOST_ETC, HOST_VAR and HOST_RUN, as gopsutil reads
// them. An empty field means the real one.
type HostPaths struct {
	Proc, Sys, Etc, Var, Run string
}

// Path rewrites p, cleaned, when it is /proc, /sys, /etc, /var or /run or lies
// beneath one of them and that one is replaced; any other path comes
// back cleaned. It is the one place host prefixes are applied: a toolset
// reads, and declares for the sandbox, the paths it returns.
func (h HostPaths) Path(p string) string {
	p = filepath.Clean(p)
	for _, r := range []struct{ from, to string }{{"/proc", h.Proc}, {"/sys", h.Sys}, {"/etc", h.Etc}, {"/var", h.Var}, {"/run", h.Run}} {
		if r.to == "" || r.to == r.from {
			continue
		}
		if p == r.from {
			return filepath.Clean(r.to)
		}
		if rest, ok := strings.CutPrefix(p, r.from+"/"); ok {
			return filepath.Join(r.to, rest)
		}
	}
	return p
}

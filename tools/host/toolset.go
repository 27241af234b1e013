// SPDX-License-Identifier: Apache-2.0

// Package host is the toolset that reports on the host: the server's own
// health, system status (OS, load, CPU, memory, disks, temperatures), the
// busiest processes, and network interfaces, counters and sockets, read
// through gopsutil.
package host

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/shirou/gopsutil/v4/common"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
)

// Config configures the host toolset. The zero value reports the host
// this process sees, as version "dev".
type Config struct {
	// Version is the TailOps version health_check reports; empty means
	// "dev".
	Version string
	// Host is where the host's /proc, /sys, /etc, /var and /run are
	// (HOST_PROC, HOST_SYS, HOST_ETC, HOST_VAR and HOST_RUN, which main
	// reads), so that a container given the host's reports the host; each
	// set one must be absolute. The zero value means the real ones.
	Host sandbox.HostPaths
}

// Toolset is the host toolset, built by New.
type Toolset struct {
	cfg    Config
	env    common.EnvMap
	static *hostStatic
	specs  []tools.Spec
}

var _ tools.Toolset = (*Toolset)(nil)

// New validates cfg and declares the host tools. On error the Toolset is
// still returned, its tools declared but unavailable (tools.Unavailable),
// so that a server can name them and start without them when none is
// enabled.
func New(cfg Config) (*Toolset, error) {
	cfg.Version = cmp.Or(cfg.Version, "dev")
	t := &Toolset{cfg: cfg, env: gopsutilEnv(cfg.Host), static: &hostStatic{}}
	t.specs = t.declare()
	err := checkHost(cfg.Host)
	if err != nil {
		t.specs = tools.Unavailable(t.specs, fmt.Errorf("the host tools are unavailable: %w", err))
	}
	return t, err
}

// Name returns "host".
func (t *Toolset) Name() string { return "host" }

// Tools returns the host tools.
func (t *Toolset) Tools() []tools.Spec { return slices.Clone(t.specs) }

// checkHost checks that the host paths that are set are absolute.
func checkHost(h sandbox.HostPaths) error {
	for _, p := range []struct{ env, path string }{{"HOST_PROC", h.Proc}, {"HOST_SYS", h.Sys}, {"HOST_ETC", h.Etc}, {"HOST_VAR", h.Var}, {"HOST_RUN", h.Run}} {
		if p.path != "" && !filepath.IsAbs(p.path) {
			return fmt.Errorf("%s %q: must be an absolute path", p.env, p.path)
		}
	}
	return nil
}

// gopsutilEnv is where gopsutil finds the host's files, handed to it in
// every call's context (common.EnvKey) rather than through the process
// environment. gopsutil falls back to the process environment for a key
// whose value is empty, so every key is set: the host paths TailOps
// rewrites to theirs (or the real ones), and those it does not (HOST_DEV,
// HOST_ROOT) to the real ones, which is what the sandbox grants. HOST_PROC_MOUNTINFO cannot be pinned that way (its
// default is empty), and TailOps does not support it.
func gopsutilEnv(h sandbox.HostPaths) common.EnvMap {
	return common.EnvMap{
		common.HostProcEnvKey: cmp.Or(h.Proc, "/proc"),
		common.HostSysEnvKey:  cmp.Or(h.Sys, "/sys"),
		common.HostEtcEnvKey:  cmp.Or(h.Etc, "/etc"),
		common.HostVarEnvKey:  cmp.Or(h.Var, "/var"),
		common.HostRunEnvKey:  cmp.Or(h.Run, "/run"),
		common.HostDevEnvKey:  "/dev",
		common.HostRootEnvKey: "/",
	}
}

// ctx returns ctx carrying gopsutilEnv, for every gopsutil call.
func (t *Toolset) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, common.EnvKey, t.env)
}

// systemPaths are what the gopsutil-based tools read, before the host
// paths are applied.
var systemPaths = []string{"/proc", "/sys", "/etc/os-release", "/etc/hostname", "/usr/lib/os-release", "/run/utmp", "/var/run/utmp",
	// gopsutil reads the distribution's own release file for the version.
	"/etc/debian_version", "/etc/lsb-release", "/etc/redhat-release", "/etc/alpine-release", "/etc/arch-release", "/etc/SuSE-release"}

// systemNeeds is what the gopsutil-based tools need from the sandbox: the
// system paths where this host has them (HostPaths applied), sysinfo (the
// uptime) and statfs (the disk usage).
func (t *Toolset) systemNeeds() sandbox.Needs {
	read := make([]string, len(systemPaths))
	for i, p := range systemPaths {
		read[i] = t.cfg.Host.Path(p)
	}
	return sandbox.Needs{Read: read, Syscalls: []string{"sysinfo", "statfs"}}
}

// interfaceNeeds is systemNeeds plus the route netlink socket through
// which Go's net.Interfaces (under gopsutil) lists links and addresses.
func (t *Toolset) interfaceNeeds() sandbox.Needs {
	n := t.systemNeeds()
	n.Netlink = []string{"NETLINK_ROUTE"}
	return n
}

// declare declares the host tools.
func (t *Toolset) declare() []tools.Spec {
	cs := &cpuSampler{host: t.static}
	pt := &procSampler{}
	return []tools.Spec{
		tools.TypedSpec[tools.NoArgs, HealthResult]{
			Name: "health_check", Title: "Health check",
			Description: "Reports that the TailOps server is up, with its time and version. Any authenticated caller may use it.",
			Scope:       auth.ScopeAuthenticated, Risk: tools.RiskLow, Hints: tools.ReadHints,
			Run: func(ctx context.Context, _ tools.NoArgs) (HealthResult, error) {
				return HealthResult{Status: "ok", Time: time.Now().UTC().Format(time.RFC3339), Version: t.cfg.Version}, nil
			},
			Text: func(r HealthResult) string { return fmt.Sprintf("ok (tailops %s, %s)", r.Version, r.Time) },
		}.Spec(),
		tools.TypedSpec[tools.NoArgs, SystemStatus]{
			Name: "get_system_status", Title: "System status",
			Description: "Host, OS, kernel, uptime, load, CPU utilisation, memory, swap, disks and temperatures of the host.",
			Scope:       auth.ScopeSystemRead, Risk: tools.RiskLow, Hints: tools.ReadHints, Needs: t.systemNeeds(),
			Run:  func(ctx context.Context, _ tools.NoArgs) (SystemStatus, error) { return systemStatus(t.ctx(ctx), cs) },
			Text: systemStatusText,
		}.Spec(),
		tools.TypedSpec[TopProcessesArgs, TopProcesses]{
			Name: "get_top_processes", Title: "Top processes",
			Description: "The processes using the most CPU or memory.",
			Scope:       auth.ScopeSystemRead, Risk: tools.RiskLow, Hints: tools.ReadHints, Needs: t.systemNeeds(),
			Run: func(ctx context.Context, in TopProcessesArgs) (TopProcesses, error) {
				return topProcesses(t.ctx(ctx), pt, in)
			},
		}.Spec(),
		tools.TypedSpec[tools.NoArgs, NetworkStatus]{
			Name: "get_network_status", Title: "Network interfaces",
			Description: "Network interfaces with their addresses, flags and operational state.",
			Scope:       auth.ScopeNetworkRead, Risk: tools.RiskLow, Hints: tools.ReadHints, Needs: t.interfaceNeeds(),
			Run: func(ctx context.Context, _ tools.NoArgs) (NetworkStatus, error) {
				return networkStatus(t.ctx(ctx), t.cfg.Host)
			},
		}.Spec(),
		tools.TypedSpec[tools.NoArgs, IOCounters]{
			Name: "get_network_io_counters", Title: "Network I/O counters",
			Description: "Bytes, packets, errors and drops per network interface since boot.",
			Scope:       auth.ScopeNetworkRead, Risk: tools.RiskLow, Hints: tools.ReadHints, Needs: t.systemNeeds(),
			Run: func(ctx context.Context, _ tools.NoArgs) (IOCounters, error) { return ioCounters(t.ctx(ctx)) },
		}.Spec(),
		tools.TypedSpec[ConnectionsArgs, Connections]{
			Name: "get_active_connections", Title: "Active connections",
			Description: "TCP and UDP sockets on the host with their local and remote addresses, state and owning process.",
			Scope:       auth.ScopeNetworkRead, Risk: tools.RiskModerate, Hints: tools.ReadHints, Needs: t.systemNeeds(),
			Run: func(ctx context.Context, in ConnectionsArgs) (Connections, error) {
				return activeConnections(t.ctx(ctx), in)
			},
		}.Spec(),
	}
}

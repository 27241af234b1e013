// SPDX-License-Identifier: Apache-2.0

// Package systemd is the toolset of systemd's units, over D-Bus on the
// system bus (no systemctl is run): listing services with their state,
// enablement, memory and restarts; one unit's status with its last
// journal lines; and starting, stopping, restarting and reloading the
// units an allow-list names, which polkit must also authorize.
package systemd

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/internal/sysbus"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
)

// Config configures the systemd tools. The zero value reaches the system
// bus at its usual socket, changes no unit, and reads no journal.
type Config struct {
	// BusAddress is the system bus (DBUS_SYSTEM_BUS_ADDRESS), of the form
	// unix:path=/path/to/socket; empty means DefaultBusAddress.
	BusAddress string
	// Allow are the unit patterns (ParsePattern: '*' and '?' globs, ".service"
	// added to a name without a type) that start_service, stop_service,
	// restart_service and reload_service may act on (--service-allow);
	// empty means none. ProtectedUnits and TailOps's own unit are refused
	// whatever it says.
	Allow []string
	// HighRisk are unit patterns whose restart_service and stop_service
	// calls are high risk, not critical, and so run without approval
	// (service_high_risk); empty means every such call waits for approval.
	HighRisk []string
	// JournalDirs are the journal directories get_service_status reads
	// a unit's last lines from; empty means it returns none (and says so).
	JournalDirs []string
	// Logger receives the tools' own log lines; nil means slog.Default().
	Logger *slog.Logger
}

// Toolset is the systemd toolset, built by New.
type Toolset struct {
	bus      bus
	allow    []Pattern
	high     []Pattern
	journals []string
	log      *slog.Logger
	socket   string
	specs    []tools.Spec
}

var _ tools.Toolset = (*Toolset)(nil)

// New checks cfg and declares the systemd tools; it connects to nothing
// (the bus is dialled on first use). On error (a bus address or pattern
// the tools cannot use) the Toolset is still returned, its tools
// unavailable (tools.Unavailable), naming the setting.
func New(cfg Config) (*Toolset, error) {
	t := &Toolset{bus: bus{addr: cmp.Or(cfg.BusAddress, DefaultBusAddress)}, journals: slices.Clone(cfg.JournalDirs),
		log: cmp.Or(cfg.Logger, slog.Default())}
	err := t.configure(cfg)
	t.specs = t.declare()
	if err != nil {
		t.specs = tools.Unavailable(t.specs, fmt.Errorf("the systemd tools are unavailable: %w", err))
	}
	return t, err
}

func (t *Toolset) configure(cfg Config) error {
	var err error
	if t.socket, err = sysbus.SocketPath(t.bus.addr); err != nil {
		return err
	}
	for _, a := range cfg.Allow {
		p, err := ParsePattern(a)
		if err != nil {
			return fmt.Errorf("--service-allow: %w", err)
		}
		t.allow = append(t.allow, p)
	}
	for _, a := range cfg.HighRisk {
		p, err := ParsePattern(a)
		if err != nil {
			return fmt.Errorf("service_high_risk: %w", err)
		}
		t.high = append(t.high, p)
	}
	return nil
}

// Name returns "systemd".
func (t *Toolset) Name() string { return "systemd" }

// Tools returns the systemd tools.
func (t *Toolset) Tools() []tools.Spec { return slices.Clone(t.specs) }

// Close closes the bus connections.
func (t *Toolset) Close() error {
	t.bus.close()
	return nil
}

// Socket is the system bus socket the tools connect to (their Needs say
// the same); "" when New failed.
func (t *Toolset) Socket() string { return t.socket }

// needs are what every systemd tool needs from the sandbox: the bus
// socket; withJournal adds the journal directories, read only.
func (t *Toolset) needs(withJournal bool) sandbox.Needs {
	n := sandbox.Needs{}
	if t.socket != "" {
		n.Sockets = []string{t.socket}
	}
	if withJournal {
		n.Read = slices.Clone(t.journals)
	}
	return n
}

// restartRisk is the effective risk of a restart_service or stop_service
// call: high for a unit service_high_risk names, else critical.
func (t *Toolset) restartRisk(args any) tools.Risk {
	m, _ := args.(map[string]any)
	s, _ := m["unit"].(string)
	if name, err := UnitName(s); err == nil && matchAny(t.high, name) {
		return tools.RiskHigh
	}
	return tools.RiskCritical
}

func (t *Toolset) declare() []tools.Spec {
	read, act := t.needs(false), t.needs(false)
	mutating := tools.Hints{ReadOnly: false, Destructive: true, Idempotent: false, OpenWorld: false}
	return []tools.Spec{
		tools.TypedSpec[ListArgs, ServiceList]{
			Name: "list_services", Title: "List services",
			Description: "systemd's loaded services with their description, load, active and sub state, enablement (UnitFileState), " +
				"memory in use and restart count. state filters by active state (active, inactive, failed, activating, deactivating, reloading); " +
				"pattern by a unit-name glob such as nginx* (* and ?).",
			Scope: auth.ScopeSystemRead, Risk: tools.RiskLow, Hints: tools.ReadHints, Needs: read,
			Run: t.listServices,
		}.Spec(),
		tools.TypedSpec[StatusArgs, ServiceStatus]{
			Name: "get_service_status", Title: "Service status",
			Description: "One unit's states, main PID, since when it is active, memory and CPU use, tasks, restarts and last result, " +
				"with its last journal lines (lines, default 20, at most 200; secrets redacted). A name without a type suffix is a service: nginx is nginx.service.",
			Scope: auth.ScopeSystemRead, Risk: tools.RiskLow, Hints: tools.ReadHints, Needs: t.needs(true),
			Run:       t.serviceStatus,
			Untrusted: true, // the unit's log lines
		}.Spec(),
		tools.TypedSpec[UnitArg, ServiceAction]{
			Name: "start_service", Title: "Start a service",
			Description: "Starts a unit --service-allow names and waits for systemd's job to finish. Starting an active unit changes nothing.",
			Scope:       auth.ScopeSystemAdmin, Risk: tools.RiskHigh, Needs: act,
			Hints: tools.Hints{ReadOnly: false, Destructive: false, Idempotent: true, OpenWorld: false},
			Run:   t.verb("start"),
		}.Spec(),
		tools.TypedSpec[UnitArg, ServiceAction]{
			Name: "stop_service", Title: "Stop a service",
			Description: "Stops a unit --service-allow names and waits for systemd's job to finish. Critical (waits for approval) " +
				"unless service_high_risk names the unit.",
			Scope: auth.ScopeSystemAdmin, Risk: tools.RiskCritical, Needs: act, RiskFor: t.restartRisk,
			Hints: tools.Hints{ReadOnly: false, Destructive: true, Idempotent: true, OpenWorld: false},
			Run:   t.verb("stop"),
		}.Spec(),
		tools.TypedSpec[UnitArg, ServiceAction]{
			Name: "restart_service", Title: "Restart a service",
			Description: "Restarts a unit --service-allow names (starting it if it is stopped) and waits for systemd's job to finish. " +
				"Critical (waits for approval) unless service_high_risk names the unit.",
			Scope: auth.ScopeSystemAdmin, Risk: tools.RiskCritical, Needs: act, RiskFor: t.restartRisk, Hints: mutating,
			Run: t.verb("restart"),
		}.Spec(),
		tools.TypedSpec[UnitArg, ServiceAction]{
			Name: "reload_service", Title: "Reload a service",
			Description: "Asks a unit --service-allow names to reload its configuration (its ExecReload) and waits for systemd's job to finish.",
			Scope:       auth.ScopeSystemAdmin, Risk: tools.RiskHigh, Needs: act,
			Hints: tools.Hints{ReadOnly: false, Destructive: false, Idempotent: true, OpenWorld: false},
			Run:   t.verb("reload"),
		}.Spec(),
	}
}

// SPDX-License-Identifier: Apache-2.0

package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/tailops/tailops/internal/sysbus"
	"github.com/tailops/tailops/tools"
)

// UnitArg is the input of a tool that acts on one unit.
type UnitArg struct {
	Unit string `json:"unit" jsonschema:"required" jsonschema_description:"unit name, such as nginx.service (nginx is enough for a service)"`
}

// ServiceAction is the result of starting, stopping, restarting or
// reloading a unit.
type ServiceAction struct {
	Unit string `json:"unit"`
	Verb string `json:"verb"`
	// Job is systemd's job result: done, or skipped for a reload of a
	// stopped unit.
	Job         string `json:"job"`
	ActiveState string `json:"active_state"`
	SubState    string `json:"sub_state"`
	MainPID     uint32 `json:"main_pid,omitempty"`
}

// ErrNotAllowed is the cause of a refusal by the allow-list or the
// protected list, before systemd is asked.
var ErrNotAllowed = errors.New("unit not allowed")

// check refuses what no tool may change: an invalid name, a unit type
// that is not a service's, a protected unit, TailOps's own, one that
// --service-allow does not name.
func (t *Toolset) check(unit string) (string, error) {
	name, err := UnitName(unit)
	if err != nil {
		return "", tools.ArgErrorf("unit", "%v", err)
	}
	switch {
	case !slices.Contains(actionTypes, unitType(name)):
		return "", fmt.Errorf("%w: %s is a %s; only %s units can be changed", ErrNotAllowed, name, unitType(name), strings.Join(actionTypes, ", "))
	case protected(name) != "":
		return "", fmt.Errorf("%w: %s keeps the host reachable or manageable (protected as %s), and TailOps never changes it", ErrNotAllowed, name, protected(name))
	case len(t.allow) == 0:
		return "", fmt.Errorf("%w: no unit may be changed: --service-allow (config key service_allow) is empty; add a pattern that names %s", ErrNotAllowed, name)
	case !matchAny(t.allow, name):
		return "", fmt.Errorf("%w: %s is not on --service-allow (config key service_allow)", ErrNotAllowed, name)
	}
	return name, nil
}

// verb returns the Run of the tool that asks systemd to verb a unit.
func (t *Toolset) verb(verb string) func(context.Context, UnitArg) (ServiceAction, error) {
	return func(ctx context.Context, in UnitArg) (ServiceAction, error) {
		name, err := t.check(in.Unit)
		if err != nil {
			return ServiceAction{}, err
		}
		conn, _, err := t.bus.get(ctx)
		if err != nil {
			return ServiceAction{}, err
		}
		// A name may be an alias (Alias=, a symlinked unit file) of a
		// unit the checks protect under another name: every name of the
		// unit systemd resolves it to is checked.
		names, err := conn.GetUnitPropertyContext(ctx, name, "Names")
		if err != nil {
			return ServiceAction{}, t.fail(err, "resolving "+name)
		}
		all, _ := names.Value.Value().([]string)
		self := t.bus.selfUnit()
		for _, n := range append(all, name) {
			switch {
			case self != "" && self == n:
				return ServiceAction{}, fmt.Errorf("%w: %s is the unit TailOps itself runs in", ErrNotAllowed, name)
			case protected(n) != "":
				return ServiceAction{}, fmt.Errorf("%w: %s is %s, which keeps the host reachable or manageable (protected as %s), and TailOps never changes it",
					ErrNotAllowed, name, n, protected(n))
			}
		}
		ch := make(chan string, 1)
		calls := map[string]func(context.Context, string, string, chan<- string) (int, error){
			"start": conn.StartUnitContext, "stop": conn.StopUnitContext, "restart": conn.RestartUnitContext, "reload": conn.ReloadUnitContext,
		}
		if _, err := calls[verb](ctx, name, "replace", ch); err != nil {
			return ServiceAction{}, t.fail(err, verb+"ing "+name)
		}
		out := ServiceAction{Unit: name, Verb: verb}
		select {
		case out.Job = <-ch:
		case <-ctx.Done():
			return ServiceAction{}, fmt.Errorf("waiting for systemd to %s %s: %w (the job goes on)", verb, name, ctx.Err())
		}
		if u, err := conn.GetUnitPropertiesContext(ctx, name); err == nil {
			out.ActiveState, _ = u["ActiveState"].(string)
			out.SubState, _ = u["SubState"].(string)
		}
		if unitType(name) == "service" {
			if p, err := conn.GetServicePropertyContext(ctx, name, "MainPID"); err == nil {
				out.MainPID, _ = p.Value.Value().(uint32)
			}
		}
		if out.Job == "invalid" && verb == "reload" {
			return out, fmt.Errorf("systemd could not reload %s: it is %s; only an active unit can be reloaded (start_service starts it)", name, out.ActiveState)
		}
		if out.Job != "done" && out.Job != "skipped" {
			return out, fmt.Errorf("systemd could not %s %s: its job ended %q (now %s/%s); get_service_status shows its last journal lines",
				verb, name, out.Job, out.ActiveState, out.SubState)
		}
		return out, nil
	}
}

// fail turns a D-Bus error into a tool error a person can act on: above
// all, polkit's refusal names the rule to install.
func (t *Toolset) fail(err error, doing string) error {
	var de dbus.Error
	if errors.As(err, &de) {
		switch de.Name {
		case "org.freedesktop.DBus.Error.AccessDenied", "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired":
			return fmt.Errorf("%s: polkit did not authorize uid %d for org.freedesktop.systemd1.manage-units on this unit "+
				"(the rule that allows the --service-allow units is missing or older than the list): "+
				"run `tailops polkit-rule --user USER` with the same --service-allow and install its output as %s "+
				"(on NixOS, set services.tailops.serviceAllow), then call again", doing, os.Getuid(), PolkitRuleFile)
		case "org.freedesktop.systemd1.NoSuchUnit", "org.freedesktop.systemd1.LoadFailed":
			return fmt.Errorf("%s: no such unit (%s)", doing, strings.Join(sysbus.ErrorStrings(de.Body), "; "))
		}
		return fmt.Errorf("%s: %s", doing, strings.Join(sysbus.ErrorStrings(de.Body), "; "))
	}
	return fmt.Errorf("%s: %w", doing, err)
}

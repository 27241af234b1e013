// SPDX-License-Identifier: Apache-2.0

package systemd

import (
	"fmt"
	"slices"
	"strings"
)

// unitTypes are systemd's unit types: the suffix every unit name ends with.
var unitTypes = []string{"service", "socket", "target", "device", "mount", "automount", "swap", "timer", "path", "slice", "scope"}

// actionTypes are the unit types the mutating tools act on: services and
// what starts them. Targets, mounts, swaps, devices, slices and scopes are
// the host's skeleton, never the model's to stop.
var actionTypes = []string{"service", "socket", "timer", "path"}

// maxUnitName is systemd's longest unit name (UNIT_NAME_MAX less the NUL).
const maxUnitName = 255

// isUnitChar reports whether c may appear in a unit name: systemd's
// VALID_CHARS with '@'.
func isUnitChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(":-_.\\@", c) >= 0
}

// unitType returns the unit type name ends with, or "" when its suffix is
// none.
func unitType(name string) string {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 || !slices.Contains(unitTypes, name[dot+1:]) {
		return ""
	}
	return name[dot+1:]
}

// UnitName checks s by systemd's rules for a unit that can be asked about
// or acted on (unit_name_is_valid with plain and instance names) and
// returns it with ".service" added when it has no unit type suffix, as
// systemctl does: "nginx" is "nginx.service". Templates ("getty@.service")
// are refused: they are not units.
func UnitName(s string) (string, error) {
	switch {
	case s == "":
		return "", fmt.Errorf("empty unit name")
	case len(s) > maxUnitName:
		return "", fmt.Errorf("unit name longer than %d characters", maxUnitName)
	}
	for i := 0; i < len(s); i++ {
		if !isUnitChar(s[i]) {
			return "", fmt.Errorf("unit name %q has a character systemd does not allow (%q); allowed: letters, digits, and : - _ . \\ @", s, s[i])
		}
	}
	name := s
	if unitType(name) == "" {
		name += ".service"
		if len(name) > maxUnitName {
			return "", fmt.Errorf("unit name longer than %d characters with .service added", maxUnitName)
		}
	}
	prefix := name[:strings.LastIndexByte(name, '.')]
	at := strings.IndexByte(prefix, '@')
	switch {
	case prefix == "":
		return "", fmt.Errorf("unit name %q has nothing before its type suffix", s)
	case at == 0:
		return "", fmt.Errorf("unit name %q begins with '@'", s)
	case at > 0 && at == len(prefix)-1:
		return "", fmt.Errorf("%q is a template, not a unit: name an instance, such as %s", s, prefix+"NAME"+name[len(prefix):])
	}
	return name, nil
}

// Pattern is a unit-name glob: unit name characters, '*' (any run of
// characters) and '?' (any one character); nothing else is special.
type Pattern string

// ParsePattern checks a pattern of --service-allow or service_high_risk
// and returns it with ".service" added when it ends with no unit type
// suffix and no '*' ("nginx" is "nginx.service", "web-*" stays "web-*").
func ParsePattern(s string) (Pattern, error) {
	switch {
	case s == "":
		return "", fmt.Errorf("empty unit pattern")
	case len(s) > maxUnitName:
		return "", fmt.Errorf("unit pattern longer than %d characters", maxUnitName)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isUnitChar(c) && c != '*' && c != '?' {
			return "", fmt.Errorf("unit pattern %q has %q: use unit name characters, * and ?", s, c)
		}
	}
	if unitType(s) == "" && !strings.HasSuffix(s, "*") {
		s += ".service"
	}
	return Pattern(s), nil
}

// Match reports whether the unit name matches the pattern.
func (p Pattern) Match(name string) bool { return globMatch(string(p), name) }

// globMatch matches name against a pattern of '*', '?' and literal bytes,
// in time linear in their lengths (the last star backtracks only).
func globMatch(p, name string) bool {
	pi, ni, star, mark := 0, 0, -1, 0
	for ni < len(name) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ni
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == name[ni]):
			pi, ni = pi+1, ni+1
		case star >= 0:
			pi, mark = star+1, mark+1
			ni = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// ProtectedUnits are the units no tool changes, whatever --service-allow
// says: those that keep the host reachable and manageable (Tailscale, SSH,
// the system bus, polkit, systemd's own, consoles and gettys, the network
// managers). TailOps's own unit is refused too, found at run time.
var ProtectedUnits = []Pattern{
	"tailscaled.service", "tailops.service",
	"ssh.service", "ssh.socket", "ssh@*.service", "sshd.service", "sshd.socket", "sshd@*.service", "sshd-keygen*.service",
	"dbus.service", "dbus.socket", "dbus-broker.service", "dbus-*.service",
	"polkit.service", "polkitd.service",
	"systemd-*",
	"getty@*.service", "serial-getty@*.service", "console-getty.service", "container-getty@*.service", "autovt@*.service",
	"networking.service", "NetworkManager.service", "NetworkManager-*.service", "wpa_supplicant*.service",
	"ifup@*.service", "dhcpcd.service", "iwd.service", "connman.service",
	"user@*.service", "user-runtime-dir@*.service", "init.scope",
}

// protected returns the protected pattern name matches, or "".
func protected(name string) Pattern {
	for _, p := range ProtectedUnits {
		if p.Match(name) {
			return p
		}
	}
	return ""
}

// matchAny reports whether name matches one of ps.
func matchAny(ps []Pattern, name string) bool {
	return slices.ContainsFunc(ps, func(p Pattern) bool { return p.Match(name) })
}

// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Need is one thing the server itself needs besides its tools, by name,
// with why: a netlink protocol ("NETLINK_ROUTE") or a capability
// ("CAP_NET_BIND_SERVICE").
type Need struct {
	Name string
	Why  string
}

// NamedRule grants one numbered kernel object, a netlink protocol or a
// capability, to those in Why.
type NamedRule struct {
	Name   string
	Number int
	Why    []string
}

// netlinkProtocols are Linux's netlink protocols by name
// (linux/netlink.h); the numbers are the same on every architecture.
var netlinkProtocols = map[string]int{
	"NETLINK_ROUTE": 0, "NETLINK_USERSOCK": 2, "NETLINK_FIREWALL": 3, "NETLINK_SOCK_DIAG": 4,
	"NETLINK_NFLOG": 5, "NETLINK_XFRM": 6, "NETLINK_SELINUX": 7, "NETLINK_ISCSI": 8,
	"NETLINK_AUDIT": 9, "NETLINK_FIB_LOOKUP": 10, "NETLINK_CONNECTOR": 11, "NETLINK_NETFILTER": 12,
	"NETLINK_IP6_FW": 13, "NETLINK_DNRTMSG": 14, "NETLINK_KOBJECT_UEVENT": 15, "NETLINK_GENERIC": 16,
	"NETLINK_SCSITRANSPORT": 18, "NETLINK_ECRYPTFS": 19, "NETLINK_RDMA": 20, "NETLINK_CRYPTO": 21,
	"NETLINK_SMC": 22,
}

// capabilityNames are Linux's capabilities, index i for capability i
// (linux/capability.h); the numbers are the same on every architecture.
var capabilityNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// Capability numbers the sandbox itself refers to.
const (
	capDACOverride   = 1
	capDACReadSearch = 2
	capSetPCAP       = 8
)

// capabilityNumber returns the number of a capability name, or false.
func capabilityNumber(name string) (int, bool) {
	i := slices.Index(capabilityNames, name)
	return i, i >= 0
}

// addNamed adds name (numbered n) for why to rules, keeping them sorted
// by number and each reason once.
func addNamed(rules []NamedRule, name string, n int, why string) []NamedRule {
	for i := range rules {
		if rules[i].Number == n {
			if !slices.Contains(rules[i].Why, why) {
				rules[i].Why = append(rules[i].Why, why)
			}
			return rules
		}
	}
	rules = append(rules, NamedRule{Name: name, Number: n, Why: []string{why}})
	slices.SortFunc(rules, func(a, b NamedRule) int { return cmp.Compare(a.Number, b.Number) })
	return rules
}

// addNetlink grants the netlink protocol name to why.
func (p *Policy) addNetlink(name, why string) error {
	n, ok := netlinkProtocols[name]
	if !ok {
		return fmt.Errorf("%s declares unknown netlink protocol %q (known: NETLINK_ROUTE, NETLINK_SOCK_DIAG, NETLINK_GENERIC…)", why, name)
	}
	p.Netlink = addNamed(p.Netlink, name, n, why)
	return nil
}

// addCapability keeps the capability name for why.
func (p *Policy) addCapability(name, why string) error {
	n, ok := capabilityNumber(name)
	if !ok {
		return fmt.Errorf("%s declares unknown capability %q (want a name such as CAP_DAC_READ_SEARCH)", why, name)
	}
	p.Capabilities = addNamed(p.Capabilities, name, n, why)
	return nil
}

// capSet is a set of capabilities as a bit mask, bit i for capability i,
// as the kernel's capability sets and /proc/PID/status show them.
type capSet uint64

// keptCaps returns the capabilities the policy keeps, as a set.
func (p *Policy) keptCaps() capSet {
	var s capSet
	for _, r := range p.Capabilities {
		s |= 1 << r.Number
	}
	return s
}

// has reports whether capability n is in the set.
func (s capSet) has(n int) bool { return s&(1<<n) != 0 }

// String names the capabilities in the set, "none" for the empty set;
// bits beyond the known names show as numbers.
func (s capSet) String() string {
	if s == 0 {
		return "none"
	}
	var names []string
	for i := range 64 {
		switch {
		case !s.has(i):
		case i < len(capabilityNames):
			names = append(names, capabilityNames[i])
		default:
			names = append(names, fmt.Sprintf("cap_%d", i))
		}
	}
	return strings.Join(names, ", ")
}

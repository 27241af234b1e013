// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Mode says how much of the sandbox Apply insists on.
type Mode string

// Sandbox modes, as given to --sandbox.
const (
	// ModeEnforce applies everything and refuses to start when the kernel
	// lacks Landlock (ABI 4 or later) or seccomp.
	ModeEnforce Mode = "enforce"
	// ModeBestEffort applies what the kernel offers and reports the rest.
	ModeBestEffort Mode = "best-effort"
	// ModeOff applies nothing.
	ModeOff Mode = "off"
)

// ParseMode parses a --sandbox value. The empty string is enforce, the
// default.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeEnforce, ModeBestEffort, ModeOff:
		return m, nil
	case "":
		return ModeEnforce, nil
	}
	return "", fmt.Errorf("unknown sandbox mode %q (want enforce, best-effort or off)", s)
}

// Config is what the server itself needs, besides its grants, and what
// the policy reads from the environment: main reads the environment once
// and passes it here.
type Config struct {
	// Mode is enforce, best-effort or off; empty means enforce.
	Mode Mode
	// StateDir is read-write. Compute refuses one that is not a
	// directory of its own (see CheckOwnDir).
	StateDir string
	// AuditDir is read-write; it may equal StateDir or lie inside it.
	// Compute refuses it as it does StateDir.
	AuditDir string
	// ConfigFile is read-only (it is re-read on SIGHUP); empty means none.
	ConfigFile string
	// ReadPaths are extra read-only paths from the configuration.
	ReadPaths []string
	// BindPorts are the TCP ports the server listens on.
	BindPorts []uint16
	// ConnectPorts are TCP ports outbound connections may use whatever
	// the grants (an approval webhook, for example); they come with DNS.
	ConnectPorts []uint16
	// Tailnet is set when the server is its own tailnet node (tsnet): the
	// Tailscale engine runs inside the process and keeps needing, after
	// Apply, UDP on any port (WireGuard, disco and STUN to peers, relays
	// and STUN servers on whatever ports they use), outbound TCP to any
	// port (the control server, DERP relays over HTTPS, and ACME for the
	// node's certificate) and read-write access to its state under
	// StateDir/tailscale. Its netlink protocols are in Netlink.
	Tailnet bool
	// TailscaledSocket is the host tailscaled's LocalAPI socket in local
	// mode, which may be connected to (Landlock ABI 9); empty means none.
	TailscaledSocket string
	// HostEtc is where the host's /etc is (HOST_ETC): the files the
	// sandbox must never expose count under it as under /etc. The grants'
	// paths come with it applied already; the server's own baseline
	// (resolver, CA files, users) always uses the real /etc.
	HostEtc string
	// SSLCertFile and SSLCertDir are SSL_CERT_FILE and SSL_CERT_DIR (a
	// list separated by colons), which Go's crypto/x509 reads the system
	// roots from besides the usual places: read-only when set.
	SSLCertFile, SSLCertDir string
	// ZoneInfo is ZONEINFO, which Go's time package reads time zones
	// from besides /usr/share/zoneinfo: read-only when set.
	ZoneInfo string
	// Netlink are the netlink protocols the server itself opens, besides
	// its grants' (Needs.Netlink): the tsnet engine's interface monitor,
	// for one. Every other protocol is refused.
	Netlink []Need
	// Capabilities are the capabilities the server itself keeps after
	// Apply, besides its grants' (Needs.Capabilities); every other one is
	// dropped.
	Capabilities []Need
}

// Access is a set of rights on a path.
type Access uint8

// Path rights. Everything not granted is refused, including execute.
const (
	// AccessRead reads files and lists directories.
	AccessRead Access = 1 << iota
	// AccessWrite creates, writes, truncates, renames and removes files
	// and directories.
	AccessWrite
	// AccessExec executes the file.
	AccessExec
	// AccessConnect connects to the unix socket (Landlock ABI 9).
	AccessConnect
)

// String returns the rights joined by "+", such as "read+write".
func (a Access) String() string {
	var parts []string
	for _, r := range []struct {
		bit  Access
		name string
	}{{AccessRead, "read"}, {AccessWrite, "write"}, {AccessExec, "exec"}, {AccessConnect, "connect"}} {
		if a&r.bit != 0 {
			parts = append(parts, r.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

// PathRule grants rights beneath one path (the path itself if it is a
// file).
type PathRule struct {
	Path   string
	Access Access
	// Why lists who asked for the path: "baseline: resolver", "tool
	// system_info", "config: state dir"...
	Why []string
}

// PortRule allows one TCP port.
type PortRule struct {
	Port uint16
	Why  []string
}

// CmpOp is a comparison on a syscall argument.
type CmpOp int

// Comparisons available in a seccomp rule.
const (
	// CmpEqual holds when the argument equals Value.
	CmpEqual CmpOp = iota + 1
	// CmpLess holds when the argument is less than Value (unsigned).
	CmpLess
	// CmpMaskedEqual holds when the argument AND Mask equals Value.
	CmpMaskedEqual
	// CmpEqualOwnPID holds when the argument is the pid of the process
	// that applies the policy.
	CmpEqualOwnPID
)

// ArgCmp is one comparison on a syscall argument.
type ArgCmp struct {
	Arg   uint
	Op    CmpOp
	Mask  uint64
	Value uint64
}

// String describes the comparison, such as "arg2 < 262".
func (c ArgCmp) String() string {
	switch c.Op {
	case CmpEqual:
		if c.Value > 0xff {
			return fmt.Sprintf("arg%d == %#x", c.Arg, c.Value)
		}
		return fmt.Sprintf("arg%d == %d", c.Arg, c.Value)
	case CmpLess:
		return fmt.Sprintf("arg%d < %d", c.Arg, c.Value)
	case CmpMaskedEqual:
		return fmt.Sprintf("arg%d & %#x == %#x", c.Arg, c.Mask, c.Value)
	case CmpEqualOwnPID:
		return fmt.Sprintf("arg%d == own pid", c.Arg)
	}
	return fmt.Sprintf("arg%d ?", c.Arg)
}

// SyscallRule is one entry of the seccomp allow-list.
type SyscallRule struct {
	Name string
	// When, if not empty, lists alternatives: the call is allowed when
	// every comparison of one alternative holds. Otherwise it fails with
	// EPERM like any call not on the list.
	When [][]ArgCmp
	// Errno, if not zero, makes the call fail with this errno instead of
	// being allowed (clone3 fails with ENOSYS so that libc falls back to
	// clone, whose flags can be inspected).
	Errno syscall.Errno
	// Why says which group or tool asked for the call, and what the
	// condition means.
	Why string
}

// Conditional reports whether the rule allows the call only sometimes.
func (r SyscallRule) Conditional() bool { return len(r.When) > 0 || r.Errno != 0 }

// Policy is the complete sandbox of one server: every path with its
// rights, every TCP port, and the syscall allow-list. It is derived by
// Compute and only read afterwards.
type Policy struct {
	Mode Mode
	// Grantees are who the grants the policy was derived from were for,
	// in order ("tool read_file").
	Grantees []string
	// KernelLandlockABI and KernelSeccomp are what the kernel offered
	// when the policy was computed.
	KernelLandlockABI int
	KernelSeccomp     bool

	// Paths are granted; everything else on the file system is refused.
	Paths []PathRule
	// Missing are paths that were asked for but do not exist. Landlock
	// needs existing paths, so they are left out (which only refuses
	// more).
	Missing []PathRule
	// Unreachable are paths that were asked for but that this process may
	// not reach (permission denied on the path): left out, as the kernel
	// refuses them to it anyway. A tool that needs one fails with
	// "permission denied" until the permissions change and TailOps
	// restarts.
	Unreachable []PathRule

	// Bind are the TCP ports that may be bound.
	Bind []PortRule
	// Connect are the TCP ports that may be connected to, unless
	// ConnectAny.
	Connect []PortRule
	// ConnectAny allows TCP connect to any port, because those in
	// ConnectAnyWhy connect anywhere (their destinations are checked by
	// their own policy, not the kernel).
	ConnectAny    bool
	ConnectAnyWhy []string
	// DNS allows name resolution for outbound connections: TCP port 53
	// is in Connect, and on Landlock ABI 10 or later UDP port 53 too.
	DNS bool
	// UDPAny leaves UDP unrestricted by Landlock (ABI 10 or later would
	// restrict it), for the reasons in UDPAnyWhy: the tsnet engine.
	UDPAny    bool
	UDPAnyWhy []string
	// The unix sockets that may be connected to are the Paths with
	// AccessConnect: see Sockets.

	// Exec reports whether any grantee executes binaries; ExecBinaries are
	// the files that may be executed (with their ELF interpreters).
	Exec         bool
	ExecBinaries []string

	// Syscalls is the seccomp allow-list, sorted by name. Any other call
	// fails with EPERM.
	Syscalls []SyscallRule
	// Denied are refused whatever any grantee declares.
	Denied []string
	// Netlink are the only netlink protocols sockets may be opened for
	// (seccomp); empty means no netlink socket at all.
	Netlink []NamedRule
	// Capabilities are the only capabilities the process keeps, of those
	// it has, in its effective, permitted and bounding sets; Apply empties
	// the inheritable and ambient sets and drops every other one.
	Capabilities []NamedRule

	// ConfigFile is how the config file is granted (its directory, or
	// the file alone and why); nil without a config file.
	ConfigFile *ConfigFileGrant

	// Notes are remarks for explain (inode-bound file rules and such).
	Notes []string

	// NeverExposed are the existing files the sandbox must never let the
	// process read (see NeverExposed; HOST_ETC applied), found by
	// Compute: Check tries to read each.
	NeverExposed []string
}

// Compute derives the policy from the grants and the server's own needs.
// It reads the file system (which paths exist, which ELF interpreter a
// binary needs) and asks the kernel what it supports, but changes
// nothing.
func Compute(grants []Grant, cfg Config) (*Policy, error) {
	mode := cfg.Mode
	if mode == "" {
		mode = ModeEnforce
	}
	if _, err := ParseMode(string(mode)); err != nil {
		return nil, fmt.Errorf("computing sandbox policy: %w", err)
	}
	abi, sc := Supported()
	b := &builder{paths: map[string]*PathRule{}}
	p := &Policy{Mode: mode, KernelLandlockABI: abi, KernelSeccomp: sc, Denied: slices.Clone(alwaysDenied)}
	for _, f := range neverExposedFiles(cfg.HostEtc) {
		p.NeverExposed = append(p.NeverExposed, f.Path)
	}

	b.baseline(cfg)

	var (
		dns        bool
		extraCalls = map[string][]string{}
		execs      []string
	)
	for _, g := range grants {
		who, n := g.Who, g.Needs
		p.Grantees = append(p.Grantees, who)
		for _, rp := range n.Read {
			b.add(rp, AccessRead, who)
		}
		for _, wp := range n.Write {
			b.add(wp, AccessRead|AccessWrite, who)
		}
		for _, sock := range n.Sockets {
			b.add(sock, AccessConnect, who)
		}
		for _, port := range n.TCPPorts {
			if port == 0 {
				return nil, fmt.Errorf("computing sandbox policy: %s declares TCP port 0", who)
			}
			p.Connect = addPort(p.Connect, port, who)
		}
		if n.AnyTCPPort {
			p.ConnectAny = true
			p.ConnectAnyWhy = append(p.ConnectAnyWhy, who)
		}
		dns = dns || n.DNS
		for _, e := range n.Exec {
			execs = append(execs, e)
			b.execWhy(e, who)
		}
		for _, nl := range n.Netlink {
			if err := p.addNetlink(nl, who); err != nil {
				return nil, fmt.Errorf("computing sandbox policy: %w", err)
			}
		}
		for _, c := range n.Capabilities {
			if err := p.addCapability(c, who); err != nil {
				return nil, fmt.Errorf("computing sandbox policy: %w", err)
			}
		}
		for _, c := range n.Syscalls {
			if slices.Contains(alwaysDenied, c) {
				return nil, fmt.Errorf("computing sandbox policy: %s declares syscall %s, which is always refused", who, c)
			}
			if !syscallKnown(c) {
				return nil, fmt.Errorf("computing sandbox policy: %s declares unknown syscall %q", who, c)
			}
			extraCalls[c] = append(extraCalls[c], who)
		}
	}

	for _, n := range cfg.Netlink {
		if err := p.addNetlink(n.Name, n.Why); err != nil {
			return nil, fmt.Errorf("computing sandbox policy: %w", err)
		}
	}
	for _, c := range cfg.Capabilities {
		if err := p.addCapability(c.Name, c.Why); err != nil {
			return nil, fmt.Errorf("computing sandbox policy: %w", err)
		}
	}
	// Read-write on the whole tree: each must be a directory of its own,
	// not /var/log or /etc (serve refuses them earlier, naming the flag).
	for _, d := range []struct{ dir, what string }{{cfg.StateDir, "state dir"}, {cfg.AuditDir, "audit dir"}} {
		if d.dir == "" {
			continue
		}
		if err := CheckOwnDir(d.dir, cfg.HostEtc); err != nil {
			return nil, fmt.Errorf("computing sandbox policy: %s %s %w", d.what, d.dir, err)
		}
		b.add(d.dir, AccessRead|AccessWrite, "config: "+d.what)
	}
	if cfg.ConfigFile != "" {
		g := grantConfigFile(cfg.ConfigFile, neverExposed, immutableDirs, []string{cfg.StateDir, cfg.AuditDir})
		p.ConfigFile = &g
		if g.CoveredBy == "" {
			b.add(g.Path, AccessRead, g.why())
		}
		p.Notes = append(p.Notes, g.Note())
	}
	for _, rp := range cfg.ReadPaths {
		b.add(rp, AccessRead, "config: read path")
	}

	if cfg.Tailnet {
		why := "tailnet (tsnet): control server, DERP relays, ACME for the node's certificate"
		p.ConnectAny = true
		p.ConnectAnyWhy = append(p.ConnectAnyWhy, why)
		p.UDPAny = true
		p.UDPAnyWhy = append(p.UDPAnyWhy, "tailnet (tsnet): WireGuard, disco and STUN on the ports peers, relays and STUN servers use")
		if cfg.StateDir != "" {
			b.add(filepath.Join(cfg.StateDir, "tailscale"), AccessRead|AccessWrite, "tailnet (tsnet): node state, certificates")
		}
		p.Notes = append(p.Notes, "tsnet runs the Tailscale engine in this process: outbound TCP and UDP stay open to any port "+
			"(Landlock restricts ports, not hosts); what peers may reach is decided by the tailnet policy and TailOps' WhoIs check")
		p.Notes = append(p.Notes, engineListenNote)
	}
	if cfg.TailscaledSocket != "" {
		b.add(cfg.TailscaledSocket, AccessConnect, "tailnet (local): tailscaled's LocalAPI socket")
	}

	if len(execs) > 0 {
		p.Exec = true
		bins, err := b.addExec(execs)
		if err != nil {
			return nil, fmt.Errorf("computing sandbox policy: %w", err)
		}
		p.ExecBinaries = bins
		// os/exec opens /dev/null for unset stdin, stdout and stderr.
		b.add("/dev/null", AccessRead|AccessWrite, "exec: os/exec's /dev/null")
	}

	if err := b.finish(p); err != nil {
		return nil, err
	}
	for _, r := range p.Sockets() {
		p.Notes = append(p.Notes, fmt.Sprintf("the rule for the socket %s (%s) follows the socket's inode: when the process serving it "+
			"restarts and recreates it, restart TailOps too (Landlock ABI 9 or later)", r.Path, strings.Join(r.Why, "; ")))
	}

	for _, port := range cfg.BindPorts {
		if port == 0 {
			return nil, errors.New("computing sandbox policy: bind port 0")
		}
		p.Bind = addPort(p.Bind, port, "config: serving port")
	}
	for _, port := range cfg.ConnectPorts {
		if port == 0 {
			return nil, errors.New("computing sandbox policy: connect port 0")
		}
		p.Connect = addPort(p.Connect, port, "config: connect port")
	}
	// The server's own outbound connections resolve names (the webhook's
	// host, tsnet's control server), and so do grantees that say so.
	if dns || len(cfg.ConnectPorts) > 0 || cfg.Tailnet {
		p.DNS = true
		if !p.ConnectAny {
			p.Connect = addPort(p.Connect, 53, "DNS over TCP for outbound names")
		}
	}

	p.Syscalls = buildSyscalls(p.Exec, extraCalls, p.Netlink)
	return p, nil
}

// Sockets returns the rules that let the process connect to a unix socket
// (those granted that exist and it may reach).
func (p *Policy) Sockets() []PathRule {
	var out []PathRule
	for _, r := range p.Paths {
		if r.Access&AccessConnect != 0 {
			out = append(out, r)
		}
	}
	return out
}

// buildSyscalls merges the groups, the conditional rules and the tools'
// extra calls into one list sorted by name. A tool's declared call that
// is not allowed yet is allowed without conditions; one that is allowed
// with conditions keeps them.
func buildSyscalls(exec bool, extra map[string][]string, netlink []NamedRule) []SyscallRule {
	rules := map[string]SyscallRule{}
	groups := []syscallGroup{runtimeGroup, filesGroup, netGroup}
	if exec {
		groups = append(groups, execGroup)
	}
	for _, g := range groups {
		for _, c := range g.calls {
			rules[c] = SyscallRule{Name: c, Why: g.name}
		}
	}
	for _, r := range conditionalRules(exec, netlink) {
		rules[r.Name] = r
	}
	for c, why := range extra {
		r, ok := rules[c]
		if !ok {
			rules[c] = SyscallRule{Name: c, Why: strings.Join(why, ", ")}
			continue
		}
		// Already allowed: a plain name does not lift the conditions
		// (MPTCP, namespaces, PROT_EXEC) of a conditional rule.
		r.Why += "; also " + strings.Join(why, ", ")
		rules[c] = r
	}
	out := make([]SyscallRule, 0, len(rules))
	for _, r := range rules {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b SyscallRule) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

func addPort(rules []PortRule, port uint16, why string) []PortRule {
	for i := range rules {
		if rules[i].Port == port {
			if !slices.Contains(rules[i].Why, why) {
				rules[i].Why = append(rules[i].Why, why)
			}
			return rules
		}
	}
	rules = append(rules, PortRule{Port: port, Why: []string{why}})
	slices.SortFunc(rules, func(a, b PortRule) int { return cmp.Compare(a.Port, b.Port) })
	return rules
}

// builder collects path rules, merging rights and reasons per path.
type builder struct {
	paths   map[string]*PathRule
	order   []string
	execFor map[string][]string
	missing []PathRule // could not even be named
	err     error
}

func (b *builder) add(path string, a Access, why string) {
	if b.err != nil {
		return
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		b.err = fmt.Errorf("computing sandbox policy: making %q absolute: %w", path, err)
		return
	}
	r, ok := b.paths[abs]
	if !ok {
		r = &PathRule{Path: abs}
		b.paths[abs] = r
		b.order = append(b.order, abs)
	}
	r.Access |= a
	if !slices.Contains(r.Why, why) {
		r.Why = append(r.Why, why)
	}
}

func (b *builder) execWhy(bin, why string) {
	if b.execFor == nil {
		b.execFor = map[string][]string{}
	}
	b.execFor[bin] = append(b.execFor[bin], why)
}

// baseline adds what every server reads whatever its grants: resolver and
// CA files (and SSL_CERT_FILE, SSL_CERT_DIR), time zones (and ZONEINFO),
// users and groups, its own threads' status, and the listen backlog
// limit. Paths that do not exist end up in Missing.
func (b *builder) baseline(cfg Config) {
	for _, f := range []string{"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf"} {
		b.add(f, AccessRead, "baseline: resolver")
	}
	// What Go's crypto/x509 reads on Linux (root_linux.go's certFiles
	// and certDirectories), and where their symbolic links lead, since
	// Landlock checks the file a link points to: /etc/ssl/certs into
	// /usr/share/ca-certificates (Debian), /etc/ca-certificates/extracted
	// (Arch) or /var/lib/ca-certificates (openSUSE), /etc/pki/tls/certs
	// into /etc/pki/ca-trust/extracted (Fedora, RHEL). Not /etc/pki
	// whole: it holds private keys (/etc/pki/tls/private, CA/private,
	// libvirt/private) and the NSS database.
	for _, f := range []string{"/etc/ssl/certs", "/etc/ssl/cert.pem", "/etc/ssl/ca-bundle.pem",
		"/etc/pki/tls/certs", "/etc/pki/tls/cacert.pem", "/etc/pki/ca-trust/extracted",
		"/etc/ca-certificates", "/usr/share/ca-certificates", "/usr/local/share/ca-certificates", "/var/lib/ca-certificates"} {
		b.add(f, AccessRead, "baseline: CA certificates")
	}
	if f := cfg.SSLCertFile; f != "" {
		b.add(f, AccessRead, "baseline: CA certificates (SSL_CERT_FILE)")
	}
	for _, d := range filepath.SplitList(cfg.SSLCertDir) {
		if d != "" {
			b.add(d, AccessRead, "baseline: CA certificates (SSL_CERT_DIR)")
		}
	}
	b.add("/usr/share/zoneinfo", AccessRead, "baseline: time zones")
	if z := cfg.ZoneInfo; z != "" {
		b.add(z, AccessRead, "baseline: time zones (ZONEINFO)")
	}
	b.add("/etc/localtime", AccessRead, "baseline: time zones")
	b.add("/etc/passwd", AccessRead, "baseline: os/user")
	b.add("/etc/group", AccessRead, "baseline: os/user")
	// Resolved through /proc/self to this process's own task directory
	// when the rule is added: the threads' status (Apply verifies every
	// thread's Seccomp and NoNewPrivs there), nothing of other processes.
	b.add("/proc/self/task", AccessRead, "baseline: own threads' status")
	// Read once by net.Listen; without it Go assumes a backlog of 128.
	b.add("/proc/sys/net/core/somaxconn", AccessRead, "baseline: listen backlog")
}

// finish sorts the collected rules into p.Paths, p.Missing and
// p.Unreachable.
func (b *builder) finish(p *Policy) error {
	if b.err != nil {
		return b.err
	}
	for _, path := range b.order {
		r := *b.paths[path]
		if _, err := os.Stat(path); err != nil {
			switch {
			case errors.Is(err, os.ErrNotExist):
				p.Missing = append(p.Missing, r)
			case errors.Is(err, os.ErrPermission):
				p.Unreachable = append(p.Unreachable, r)
			default:
				return fmt.Errorf("computing sandbox policy: checking %s: %w", path, err)
			}
			continue
		}
		p.Paths = append(p.Paths, r)
	}
	p.Missing = append(p.Missing, b.missing...)
	slices.SortFunc(p.Paths, func(a, b PathRule) int { return cmp.Compare(a.Path, b.Path) })
	slices.SortFunc(p.Missing, func(a, b PathRule) int { return cmp.Compare(a.Path, b.Path) })
	slices.SortFunc(p.Unreachable, func(a, b PathRule) int { return cmp.Compare(a.Path, b.Path) })
	return nil
}

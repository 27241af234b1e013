// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// grant is a tool's grant, as tools.Grants makes it.
func grant(name string, n Needs) Grant {
	return Grant{Who: "tool " + name, Needs: n}
}

func findPath(p *Policy, path string) (PathRule, bool) {
	for _, r := range p.Paths {
		if r.Path == path {
			return r, true
		}
	}
	return PathRule{}, false
}

func findSyscall(p *Policy, name string) (SyscallRule, bool) {
	for _, r := range p.Syscalls {
		if r.Name == name {
			return r, true
		}
	}
	return SyscallRule{}, false
}

func portList(rules []PortRule) []uint16 {
	var out []uint16
	for _, r := range rules {
		out = append(out, r.Port)
	}
	return out
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": ModeEnforce, "enforce": ModeEnforce, "best-effort": ModeBestEffort, "off": ModeOff} {
		got, err := ParseMode(in)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseMode("strict"); err == nil || !strings.Contains(err.Error(), "best-effort") {
		t.Errorf("ParseMode(strict) error = %v, want one listing the modes", err)
	}
}

func TestCompute(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	roots := filepath.Join(dir, "logs")
	sock := filepath.Join(dir, "docker.sock")
	for _, d := range []string{state, roots} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(sock, nil, 0o600); err != nil { // stands in for the socket: only existence matters here
		t.Fatal(err)
	}
	// DOCKER_CERT_PATH as in ~/.docker: the client's TLS files beside
	// registry credentials.
	certs := filepath.Join(dir, "docker-certs")
	if err := os.Mkdir(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ca.pem", "cert.pem", "key.pem", "config.json"} {
		if err := os.WriteFile(filepath.Join(certs, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	certFiles := []string{filepath.Join(certs, "ca.pem"), filepath.Join(certs, "cert.pem"), filepath.Join(certs, "key.pem")}
	base := Config{StateDir: state, BindPorts: []uint16{8080}}

	tests := []struct {
		name   string
		grants []Grant
		cfg    func(Config) Config
		check  func(t *testing.T, p *Policy)
	}{{
		name:   "a grant's read and write paths, for it",
		grants: []Grant{grant("file_read", Needs{Read: []string{roots}}), grant("spool", Needs{Write: []string{certs}})},
		check: func(t *testing.T, p *Policy) {
			r, ok := findPath(p, roots)
			if !ok || r.Access != AccessRead || !slices.Equal(r.Why, []string{"tool file_read"}) {
				t.Errorf("roots rule = %+v, %v; want read-only for tool file_read", r, ok)
			}
			if r, ok := findPath(p, certs); !ok || r.Access != AccessRead|AccessWrite || !slices.Equal(r.Why, []string{"tool spool"}) {
				t.Errorf("write rule = %+v, %v; want read+write for tool spool", r, ok)
			}
			if !slices.Equal(p.Grantees, []string{"tool file_read", "tool spool"}) {
				t.Errorf("Grantees = %v", p.Grantees)
			}
		},
	}, {
		name:   "nothing but what the grants declare: roots absent",
		grants: []Grant{grant("system_info", Needs{Read: []string{"/proc"}})},
		check: func(t *testing.T, p *Policy) {
			if _, ok := findPath(p, roots); ok {
				t.Errorf("roots present without a grant that needs them")
			}
			if r, ok := findPath(p, "/proc"); !ok || r.Access != AccessRead || r.Why[0] != "tool system_info" {
				t.Errorf("/proc rule = %+v, %v", r, ok)
			}
		},
	}, {
		name: "no tools: baseline, state and ports only; no exec, no outbound",
		check: func(t *testing.T, p *Policy) {
			if p.Exec || len(p.ExecBinaries) > 0 {
				t.Errorf("Exec = %v %v, want none", p.Exec, p.ExecBinaries)
			}
			for _, c := range []string{"execve", "execveat", "ptrace", "mount", "unshare"} {
				if _, ok := findSyscall(p, c); ok {
					t.Errorf("%s allowed without a tool that needs it", c)
				}
			}
			for _, d := range []string{"ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root", "chroot",
				"unshare", "setns", "bpf", "keyctl", "add_key", "kexec_load", "kexec_file_load", "init_module", "finit_module",
				"perf_event_open", "userfaultfd"} {
				if !slices.Contains(p.Denied, d) {
					t.Errorf("%s missing from the always-denied list", d)
				}
			}
			for _, r := range p.Paths {
				if r.Access&AccessExec != 0 {
					t.Errorf("%s executable without exec", r.Path)
				}
				if r.Access&AccessWrite != 0 && r.Path != state {
					t.Errorf("%s writable; only the state dir may be", r.Path)
				}
			}
			if r, ok := findPath(p, state); !ok || r.Access != AccessRead|AccessWrite {
				t.Errorf("state rule = %+v, %v", r, ok)
			}
			if r, ok := findPath(p, "/etc/passwd"); !ok || r.Access != AccessRead {
				t.Errorf("/etc/passwd rule = %+v, %v", r, ok)
			}
			if _, ok := findPath(p, "/etc/shadow"); ok {
				t.Errorf("/etc/shadow in the policy")
			}
			if !slices.Equal(portList(p.Bind), []uint16{8080}) || len(p.Connect) != 0 || p.ConnectAny || p.DNS {
				t.Errorf("ports: bind %v connect %v any %v dns %v", portList(p.Bind), portList(p.Connect), p.ConnectAny, p.DNS)
			}
			if len(p.Sockets()) != 0 {
				t.Errorf("sockets %v without a grant that needs one", p.Sockets())
			}
			// MPTCP, SCTP and SMC refused (stream protocols Landlock's TCP
			// rules do not cover), namespaces refused, clone3 falls back.
			s, _ := findSyscall(p, "socket")
			for _, alt := range s.When {
				unixOnly := slices.Contains(alt, ArgCmp{Arg: 0, Op: CmpEqual, Value: linuxAFUnix})
				pinned := false
				for _, c := range alt {
					switch {
					case c.Arg != 2:
					case c.Op == CmpEqual && c.Value < 262 && c.Value != 132 && c.Value != 256:
						pinned = true
					case c.Op == CmpLess && c.Value <= 262 && unixOnly:
						pinned = true
					}
				}
				if !pinned {
					t.Errorf("socket alternative %v lets MPTCP, SCTP or SMC through", alt)
				}
			}
			if c3, _ := findSyscall(p, "clone3"); c3.Errno != syscall.ENOSYS {
				t.Errorf("clone3 = %+v, want ENOSYS", c3)
			}
			if m, _ := findSyscall(p, "mmap"); len(m.When) == 0 {
				t.Errorf("mmap unconditional without exec; want no PROT_EXEC")
			}
			for _, c := range []string{"fchmod", "fchmodat", "fchown", "setxattr"} {
				if _, ok := findSyscall(p, c); ok {
					t.Errorf("%s allowed: Landlock does not cover it", c)
				}
			}
		},
	}, {
		name:   "exec: execve allowed, binary and its ELF interpreter executable",
		grants: []Grant{grant("runner", Needs{Exec: []string{"/bin/true"}})},
		check: func(t *testing.T, p *Policy) {
			if !p.Exec || !slices.Equal(p.ExecBinaries, []string{"/bin/true"}) {
				t.Errorf("Exec = %v %v", p.Exec, p.ExecBinaries)
			}
			for _, c := range []string{"execve", "wait4"} {
				if _, ok := findSyscall(p, c); !ok {
					t.Errorf("%s not allowed with exec", c)
				}
			}
			if r, ok := findPath(p, "/bin/true"); !ok || r.Access != AccessRead|AccessExec {
				t.Errorf("/bin/true rule = %+v, %v", r, ok)
			}
			interp := false
			for _, r := range p.Paths {
				if r.Access&AccessExec != 0 && strings.Contains(r.Path, "ld-linux") {
					interp = true
				}
			}
			if !interp {
				t.Errorf("no executable ELF interpreter in %v", p.Paths)
			}
			if m, _ := findSyscall(p, "mmap"); len(m.When) != 0 {
				t.Errorf("mmap conditional with exec: children could not load libraries")
			}
		},
	}, {
		name:   "a socket, for the grant that connects to it",
		grants: []Grant{grant("docker_ps", Needs{Sockets: []string{sock}})},
		check: func(t *testing.T, p *Policy) {
			if r, ok := findPath(p, sock); !ok || r.Access != AccessConnect || !slices.Equal(r.Why, []string{"tool docker_ps"}) {
				t.Errorf("socket rule = %+v, %v", r, ok)
			}
			if got := p.Sockets(); len(got) != 1 || got[0].Path != sock {
				t.Errorf("Sockets() = %v", got)
			}
			if !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, sock) && strings.Contains(n, "inode") }) {
				t.Errorf("no note on the socket rule following its inode: %v", p.Notes)
			}
		},
	}, {
		name: "a TCP port with DNS, and TLS files: that port, DNS, the three files readable",
		grants: []Grant{grant("docker_ps", Needs{TCPPorts: []uint16{2376}, DNS: true, Read: certFiles}),
			grant("docker_logs", Needs{TCPPorts: []uint16{2376}, DNS: true, Read: certFiles})},
		check: func(t *testing.T, p *Policy) {
			if !slices.Equal(portList(p.Connect), []uint16{53, 2376}) || p.ConnectAny || !p.DNS {
				t.Errorf("connect %v any %v dns %v", portList(p.Connect), p.ConnectAny, p.DNS)
			}
			for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
				if r, ok := findPath(p, filepath.Join(certs, f)); !ok || r.Access != AccessRead {
					t.Errorf("DOCKER_CERT_PATH %s rule = %+v, %v", f, r, ok)
				}
			}
			for _, other := range []string{certs, filepath.Join(certs, "config.json")} {
				if _, ok := findPath(p, other); ok {
					t.Errorf("%s granted: only the client's three TLS files may be", other)
				}
			}
			if !slices.Equal(p.Connect[1].Why, []string{"tool docker_ps", "tool docker_logs"}) {
				t.Errorf("port 2376 for %v, want both tools", p.Connect[1].Why)
			}
		},
	}, {
		name:   "a TCP port without DNS: that port only",
		grants: []Grant{grant("docker_ps", Needs{TCPPorts: []uint16{2376}})},
		check: func(t *testing.T, p *Policy) {
			if !slices.Equal(portList(p.Connect), []uint16{2376}) || p.DNS {
				t.Errorf("connect %v dns %v", portList(p.Connect), p.DNS)
			}
		},
	}, {
		name:   "any TCP port, with DNS",
		grants: []Grant{grant("http_probe", Needs{AnyTCPPort: true, DNS: true})},
		check: func(t *testing.T, p *Policy) {
			if !p.ConnectAny || !p.DNS || !slices.Equal(p.ConnectAnyWhy, []string{"tool http_probe"}) {
				t.Errorf("ConnectAny %v DNS %v why %v", p.ConnectAny, p.DNS, p.ConnectAnyWhy)
			}
		},
	}, {
		name: "configured connect ports add DNS over TCP",
		cfg:  func(c Config) Config { c.ConnectPorts = []uint16{443, 443}; return c },
		check: func(t *testing.T, p *Policy) {
			if !slices.Equal(portList(p.Connect), []uint16{53, 443}) || p.ConnectAny || !p.DNS {
				t.Errorf("connect %v any %v dns %v", portList(p.Connect), p.ConnectAny, p.DNS)
			}
		},
	}, {
		name:   "a grant's paths are granted as declared: host prefixes are its toolset's (HostPaths); HOST_ETC changes neither them nor the baseline",
		grants: []Grant{grant("system_info", Needs{Read: []string{"/host/proc", "/proc/self/status"}})},
		cfg:    func(c Config) Config { c.HostEtc = "/host/etc"; return c },
		check: func(t *testing.T, p *Policy) {
			if !slices.ContainsFunc(p.Missing, func(r PathRule) bool { return r.Path == "/host/proc" }) {
				t.Errorf("/host/proc not in Missing %v", p.Missing)
			}
			if _, ok := findPath(p, "/proc/self/status"); !ok {
				t.Errorf("/proc/self/status not granted as declared")
			}
			if _, ok := findPath(p, "/etc/passwd"); !ok {
				t.Errorf("baseline /etc/passwd rewritten")
			}
		},
	}, {
		name: "the environment's CA and time zone paths, as Config passes them",
		cfg: func(c Config) Config {
			c.SSLCertFile, c.SSLCertDir, c.ZoneInfo = filepath.Join(certs, "ca.pem"), roots+":"+sock, certs
			return c
		},
		check: func(t *testing.T, p *Policy) {
			for path, why := range map[string]string{filepath.Join(certs, "ca.pem"): "baseline: CA certificates (SSL_CERT_FILE)",
				roots: "baseline: CA certificates (SSL_CERT_DIR)", sock: "baseline: CA certificates (SSL_CERT_DIR)",
				certs: "baseline: time zones (ZONEINFO)"} {
				if r, ok := findPath(p, path); !ok || r.Access != AccessRead || !slices.Contains(r.Why, why) {
					t.Errorf("%s rule = %+v, %v; want read for %q", path, r, ok, why)
				}
			}
		},
	}, {
		name:   "tool syscalls: extra ones allowed, conditional ones keep their conditions",
		grants: []Grant{grant("netlink", Needs{Syscalls: []string{"inotify_init1", "socket"}})},
		check: func(t *testing.T, p *Policy) {
			if r, ok := findSyscall(p, "inotify_init1"); !ok || r.Conditional() {
				t.Errorf("inotify_init1 = %+v, %v", r, ok)
			}
			if r, _ := findSyscall(p, "socket"); len(r.When) == 0 {
				t.Errorf("a tool declaring socket lifted the MPTCP condition")
			}
		},
	}, {
		name: "missing paths are left out and noted",
		cfg:  func(c Config) Config { c.ReadPaths = []string{"/nonexistent/tailops"}; return c },
		check: func(t *testing.T, p *Policy) {
			if _, ok := findPath(p, "/nonexistent/tailops"); ok {
				t.Errorf("missing path granted")
			}
			if !slices.ContainsFunc(p.Missing, func(r PathRule) bool { return r.Path == "/nonexistent/tailops" }) {
				t.Errorf("missing path not noted: %v", p.Missing)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			if tt.cfg != nil {
				cfg = tt.cfg(cfg)
			}
			p, err := Compute(tt.grants, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if p.Mode != ModeEnforce {
				t.Errorf("Mode = %q, want enforce by default", p.Mode)
			}
			tt.check(t, p)
		})
	}
}

// TestBaselineCAFilesKeepPKIKeysOut: the baseline lets Go's crypto/x509
// read the system roots wherever it looks on Linux (root_linux.go's
// certFiles and certDirectories, Go 1.26) and where their links lead on
// Debian, Fedora, Arch and openSUSE; it granted /etc/pki whole, which on
// Fedora and RHEL holds TLS, CA and libvirt private keys and the NSS
// database. Those are never exposed now.
func TestBaselineCAFilesKeepPKIKeysOut(t *testing.T) {
	t.Parallel()
	p, err := Compute(nil, Config{Mode: ModeEnforce})
	if err != nil {
		t.Fatal(err)
	}
	rules := slices.Concat(p.Paths, p.Missing, p.Unreachable)
	readable := func(path string) []string {
		var by []string
		for _, r := range rules {
			if r.Access&AccessRead != 0 && within(path, r.Path) {
				by = append(by, r.Path)
			}
		}
		return by
	}
	for _, f := range []string{
		// certFiles
		"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem",
		"/etc/pki/tls/cacert.pem", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem",
		// certDirectories
		"/etc/ssl/certs/ISRG_Root_X1.pem", "/etc/pki/tls/certs/ca-bundle.trust.crt",
		// where links lead
		"/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt", "/etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt",
		"/etc/ca-certificates/extracted/tls-ca-bundle.pem", "/var/lib/ca-certificates/ca-bundle.pem",
	} {
		if len(readable(f)) == 0 {
			t.Errorf("%s, which crypto/x509 reads, is not granted", f)
		}
	}
	for _, f := range []string{"/etc/pki/tls/private/localhost.key", "/etc/pki/CA/private/cakey.pem",
		"/etc/pki/libvirt/private/serverkey.pem", "/etc/pki/nssdb/key4.db"} {
		if by := readable(f); len(by) > 0 {
			t.Errorf("%s is readable under %v", f, by)
		}
	}
	for _, f := range []string{"/etc/pki/tls/private/localhost.key", "/etc/pki/CA/private/cakey.pem", "/etc/pki/libvirt/private/serverkey.pem"} {
		if !slices.ContainsFunc(NeverExposed(), func(g string) bool { ok, _ := filepath.Match(g, f); return ok }) {
			t.Errorf("%s matches no never-exposed entry", f)
		}
	}
}

// TestComputeRefusesSharedStateAndAuditDirs: the state and audit
// directories are granted read-write, whole. An audit log in /etc gave
// read-write on /etc (and /etc/shadow), one in /var/log on every log:
// Compute refuses a directory that is, or resolves to, a shared system
// directory or that holds a never-exposed file (with HOST_ETC, its copy
// there too), and grants a directory of its own, then covering none.
func TestComputeRefusesSharedStateAndAuditDirs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	link := filepath.Join(dir, "etclink")
	if err := os.Symlink("/etc", link); err != nil {
		t.Fatal(err)
	}
	hostEtc := filepath.Join(dir, "host", "etc")
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{StateDir: dir, AuditDir: "/etc"}, "audit dir /etc is a shared system directory"},
		{Config{StateDir: dir, AuditDir: "/var/log"}, "audit dir /var/log is a shared system directory"},
		{Config{StateDir: "/var/lib"}, "state dir /var/lib is a shared system directory"},
		{Config{StateDir: "/var/lib/../log"}, "state dir /var/lib/../log is a shared system directory"},
		{Config{StateDir: "/tmp"}, "state dir /tmp is a shared system directory"},
		{Config{StateDir: "/"}, "state dir / is a shared system directory"},
		{Config{StateDir: "/home/alice"}, "state dir /home/alice is a shared system directory"},
		{Config{StateDir: "/var/lib/tailscale"}, "state dir /var/lib/tailscale holds /var/lib/tailscale/tailscaled.state, which must stay unreadable"},
		{Config{StateDir: "/etc/ssh"}, "state dir /etc/ssh holds /etc/ssh/ssh_host_*_key"},
		{Config{StateDir: link}, "state dir " + link + " resolves to /etc, which is a shared system directory"},
		{Config{StateDir: filepath.Join(dir, "host"), HostEtc: hostEtc}, "holds " + filepath.Join(hostEtc, "shadow")},
	} {
		tc.cfg.Mode = ModeEnforce
		if _, err := Compute(nil, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("state dir %q, audit dir %q: error %v, want %q", tc.cfg.StateDir, tc.cfg.AuditDir, err, tc.want)
		}
	}
	state := filepath.Join(dir, "state")
	for _, cfg := range []Config{
		{StateDir: state, AuditDir: filepath.Join(state, "audit")},
		{StateDir: "/var/lib/tailops", AuditDir: "/var/log/tailops"},
		{StateDir: filepath.Join(dir, "host", "tailops"), HostEtc: hostEtc},
	} {
		cfg.Mode = ModeEnforce
		p, err := Compute(nil, cfg)
		if err != nil {
			t.Errorf("state dir %q, audit dir %q: %v", cfg.StateDir, cfg.AuditDir, err)
			continue
		}
		for _, r := range slices.Concat(p.Paths, p.Missing) {
			for _, f := range p.NeverExposed {
				if within(f, r.Path) {
					t.Errorf("state dir %q: rule %s (%s, %v) covers %s", cfg.StateDir, r.Path, r.Access, r.Why, f)
				}
			}
		}
	}
}

func TestComputeRefuses(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		grants []Grant
		cfg    Config
		want   string
	}{
		"always-denied syscall": {grants: []Grant{grant("debugger", Needs{Syscalls: []string{"ptrace"}})}, want: "tool debugger declares syscall ptrace, which is always refused"},
		"unknown syscall":       {grants: []Grant{grant("typo", Needs{Syscalls: []string{"opnat"}})}, want: "tool typo declares unknown syscall"},
		"grant's TCP port 0":    {grants: []Grant{grant("dialer", Needs{TCPPorts: []uint16{0}})}, want: "tool dialer declares TCP port 0"},
		"bind port 0":           {cfg: Config{BindPorts: []uint16{0}}, want: "port 0"},
		"unknown mode":          {cfg: Config{Mode: "strict"}, want: "unknown sandbox mode"},
	} {
		if _, err := Compute(tc.grants, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}
}

// TestComputeReadsNoEnvironment: the environment reaches the policy only
// through Config (main reads it once): SSL_CERT_FILE, SSL_CERT_DIR and
// ZONEINFO set in the process environment change nothing.
func TestComputeReadsNoEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SSL_CERT_FILE", dir)
	t.Setenv("SSL_CERT_DIR", dir)
	t.Setenv("ZONEINFO", dir)
	t.Setenv("HOST_PROC", dir)
	p, err := Compute([]Grant{grant("system_info", Needs{Read: []string{"/proc"}})}, Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findPath(p, dir); ok {
		t.Errorf("%s, named only in the environment, is granted", dir)
	}
	if _, ok := findPath(p, "/proc"); !ok {
		t.Errorf("/proc, declared, is not granted")
	}
}

func TestExplain(t *testing.T) {
	dir := t.TempDir()
	p, err := Compute([]Grant{grant("system_info", Needs{Read: []string{"/proc"}})},
		Config{StateDir: dir, BindPorts: []uint16{8443}, ConnectPorts: []uint16{9000}, ConfigFile: "/nonexistent/tailops.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := p.Explain(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log(out)
	abi, _ := Supported()
	for _, want := range []string{
		"mode:   enforce",
		"grants:\n        tool system_info\n",
		"Landlock ABI",
		"read        /proc ", // rights column, path
		"read+write  " + dir,
		"read        /etc/resolv.conf",
		"left out, since they do not exist",
		"/nonexistent/tailops.yaml",
		"TCP bind:      8443 (config: serving port)",
		"TCP connect:   53 (DNS over TCP for outbound names), 9000 (config: connect port)",
		"MPTCP:",
		"exec:    no (execve and execveat refused",
		"always denied (no tool may declare them):",
		"ptrace process_vm_readv process_vm_writev mount",
		"clone3",
		"fails with ENOSYS",
		"socket",
		"arg2 < 262",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q", want)
		}
	}
	if abi > 0 && abi < 9 && !strings.Contains(out, "unix sockets are not restricted by Landlock (resolve_unix needs ABI 9") {
		t.Errorf("explain does not say that unix sockets are unrestricted on ABI %d", abi)
	}
	if !strings.Contains(out, "allowed: ") || strings.Contains(out, "allowed: 0 ") {
		t.Errorf("explain has no syscall count")
	}
}

func TestEnforceError(t *testing.T) {
	if err := enforceError(7, true, ""); err != nil {
		t.Errorf("ABI 7 with seccomp: %v", err)
	}
	for _, tc := range []struct {
		abi  int
		sc   bool
		want []string
	}{
		{0, true, []string{"kernel has no Landlock", "lsm=", "--sandbox best-effort"}},
		{3, true, []string{"ABI 3 cannot restrict TCP", "--sandbox best-effort"}},
		{7, false, []string{"no seccomp here", "--sandbox best-effort"}},
	} {
		err := enforceError(tc.abi, tc.sc, "no seccomp here")
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("enforceError(%d, %v) = %v, want %q", tc.abi, tc.sc, err, w)
			}
		}
	}
}

// TestBelowEnforce: a best-effort sandbox says what enforce mode would
// have refused to start without, Landlock below ABI 4 included, which
// skips no rule; enforce mode, and a kernel enforce accepts, say nothing.
func TestBelowEnforce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rep  Report
		want []string // substrings, one per item
	}{
		{Report{Mode: ModeBestEffort, LandlockABI: 3, Landlock: true, Seccomp: true},
			[]string{"Landlock ABI 3 is below the 4 enforce requires: TCP bind and connect are not restricted"}},
		{Report{Mode: ModeBestEffort, LandlockABI: 1, Landlock: true}, []string{"Landlock ABI 1", "no seccomp filter"}},
		{Report{Mode: ModeBestEffort, Seccomp: true}, []string{"the kernel has no Landlock"}},
		{Report{Mode: ModeBestEffort, LandlockABI: 6, Seccomp: true}, []string{"Landlock was not applied"}},
		{Report{Mode: ModeBestEffort, LandlockABI: 6, Landlock: true, Seccomp: true}, nil},
		{Report{Mode: ModeEnforce, LandlockABI: 6, Landlock: true, Seccomp: true}, nil},
		{Report{Mode: ModeOff}, nil},
	} {
		got := tc.rep.BelowEnforce()
		if len(got) != len(tc.want) || slices.ContainsFunc(tc.want, func(w string) bool {
			return !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, w) })
		}) {
			t.Errorf("%s: %q, want %q", tc.rep.String(), got, tc.want)
		}
	}
}

func TestListenConfig(t *testing.T) {
	if ListenConfig().MultipathTCP() {
		t.Error("ListenConfig has MPTCP on")
	}
}

// SPDX-License-Identifier: Apache-2.0

package diag

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tailops/tailops/netpolicy/policytest"
	"github.com/tailops/tailops/toolstest"
)

// The namespace tests run the diagnostics tools across a router, to
// addresses that exist only inside network namespaces the test creates:
//
//	client (10.77.0.1, fd77::1) — router (10.77.0.254 | 10.77.1.254,
//	fd77::fe | fd77:1::fe) — target (10.77.1.2, fd77:1::2)
//
// None of them has a link to the host's namespace, so nothing the tools
// send can leave them. The test binary re-runs itself in the client
// namespace (ip netns exec), with diagNetnsEnv set.
const (
	diagNetnsEnv       = "TAILOPS_DIAG_NETNS"
	diagParentNetnsEnv = "TAILOPS_DIAG_PARENT_NETNS" // the namespace the tests started in
	diagNetnsPrefix    = "tailops-diag-"
)

// netnsLab is the three namespaces.
type netnsLab struct{ client, router, target string }

func newNetnsLab(t *testing.T) *netnsLab {
	t.Helper()
	sweepStaleNetns(t)
	p := fmt.Sprintf("%s%d-", diagNetnsPrefix, os.Getpid())
	lab := &netnsLab{client: p + "client", router: p + "router", target: p + "target"}
	for _, ns := range []string{lab.client, lab.router, lab.target} {
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("deleting network namespace %s: %v: %s", ns, err, out)
			}
		})
		ipCmd(t, "-n", ns, "link", "set", "lo", "up")
		// No duplicate address detection: link-local addresses would stay
		// tentative for a while, and neighbour discovery with them.
		ipCmd(t, "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
	}
	c, r, tg := lab.client, lab.router, lab.target
	// The veth pairs are created inside the namespaces, never in the
	// host's.
	ipCmd(t, "-n", c, "link", "add", "vc", "type", "veth", "peer", "name", "vr0", "netns", r)
	ipCmd(t, "-n", r, "link", "add", "vr1", "type", "veth", "peer", "name", "vt", "netns", tg)
	for _, a := range [][]string{
		{c, "10.77.0.1/24", "vc"}, {c, "fd77::1/64", "vc"},
		{r, "10.77.0.254/24", "vr0"}, {r, "fd77::fe/64", "vr0"},
		{r, "10.77.1.254/24", "vr1"}, {r, "fd77:1::fe/64", "vr1"},
		{tg, "10.77.1.2/24", "vt"}, {tg, "fd77:1::2/64", "vt"},
	} {
		args := []string{"-n", a[0], "addr", "add", a[1], "dev", a[2]}
		if strings.Contains(a[1], ":") {
			args = append(args, "nodad")
		}
		ipCmd(t, args...)
		ipCmd(t, "-n", a[0], "link", "set", a[2], "up")
	}
	ipCmd(t, "-n", c, "route", "add", "10.77.1.0/24", "via", "10.77.0.254")
	ipCmd(t, "-n", c, "-6", "route", "add", "fd77:1::/64", "via", "fd77::fe")
	ipCmd(t, "-n", tg, "route", "add", "10.77.0.0/24", "via", "10.77.1.254")
	ipCmd(t, "-n", tg, "-6", "route", "add", "fd77::/64", "via", "fd77:1::fe")
	// Forwarding on the router; no ICMP rate limits, so every probe is
	// answered.
	ipCmd(t, "netns", "exec", r, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	for _, ns := range []string{r, tg} {
		ipCmd(t, "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0")
	}
	return lab
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// sweepStaleNetns deletes namespaces left by test processes that died
// before their cleanup ran.
func sweepStaleNetns(t *testing.T) {
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), diagNetnsPrefix)
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			t.Logf("deleting stale network namespace %s", e.Name())
			exec.Command("ip", "netns", "del", e.Name()).Run()
		}
	}
}

// TestDiagNetns runs ping, traceroute and the port test across the
// router, in the client namespace.
func TestDiagNetns(t *testing.T) {
	switch os.Getenv(diagNetnsEnv) {
	case "":
	case "nobody":
		diagNetnsNobody(t)
		return
	default:
		diagNetnsClient(t)
		return
	}
	t.Parallel() // the namespaces are this process's own, by name
	lab := newNetnsLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", lab.client, os.Args[0],
		"-test.run", "^TestDiagNetns$", "-test.v", "-test.count=1", "-test.timeout=150s")
	parent, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), diagNetnsEnv+"="+lab.client, diagParentNetnsEnv+"="+parent)
	out, err := cmd.CombinedOutput()
	t.Logf("in namespace %s:\n%s", lab.client, out)
	if err != nil {
		t.Fatalf("the tests in the namespace failed: %v", err)
	}
	for _, sub := range []string{"ping_unprivileged", "ping_raw", "ping_no_icmp_socket", "traceroute_ipv4", "traceroute_ipv6", "ports"} {
		if !strings.Contains(string(out), "--- PASS: TestDiagNetns/"+sub) {
			t.Errorf("subtest %s did not pass in the namespace", sub)
		}
	}
}

// checkOwnNetns fails unless the process is in a network namespace other
// than the one the tests started in, and it holds the client address:
// the client tests change per-namespace sysctls.
func checkOwnNetns(t *testing.T) {
	self, err := os.Readlink("/proc/self/ns/net")
	if parent := os.Getenv(diagParentNetnsEnv); err != nil || parent == "" || self == parent {
		t.Fatalf("not in a namespace of the test's own (self %s, parent %s)", self, parent)
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if strings.HasPrefix(a.String(), "10.77.0.1/") {
			return
		}
	}
	t.Fatalf("10.77.0.1 is not on any interface (%v): not the client namespace", addrs)
}

func setPingGroupRange(t *testing.T, v string) {
	t.Helper()
	checkOwnNetns(t)
	if err := os.WriteFile("/proc/sys/net/ipv4/ping_group_range", []byte(v), 0o644); err != nil {
		t.Fatal(err)
	}
}

func diagNetnsClient(t *testing.T) {
	checkOwnNetns(t)
	dns := policytest.StartDNS(t, "127.0.0.1", policytest.Zone(t,
		"target.test. 60 IN A 10.77.1.2",
		"target.test. 60 IN AAAA fd77:1::2",
		"254.0.77.10.in-addr.arpa. 60 IN PTR router.test.",
		"2.1.77.10.in-addr.arpa. 60 IN PTR target.test.",
		reverse(t, "fd77::fe")+" 60 IN PTR router.test.",
		reverse(t, "fd77:1::2")+" 60 IN PTR target.test.",
	))
	ts, err := New(Config{Allow: []string{"10.77.0.0/16", "fd77::/16"}, Resolver: dns.Addr})
	if err != nil {
		t.Fatal(err)
	}
	k := serve(t, ts)
	g := &ts.diag

	t.Run("refused_without_entry", func(t *testing.T) {
		k0 := serveDiag(t, Config{Resolver: dns.Addr})
		wantRefused(t, "ping", toolstest.Err(t, k0, "ping_host", map[string]any{"host": "10.77.1.2"}),
			"10.77.1.2 is private (RFC 1918) (10.0.0.0/8, default deny); allow it with --diag-allow 10.77.1.2/32")
		wantRefused(t, "traceroute", toolstest.Err(t, k0, "traceroute", map[string]any{"host": "target.test"}),
			"allow the name with --diag-allow target.test or the address with --diag-allow 10.77.1.2/32")
		wantRefused(t, "traceroute v6", toolstest.Err(t, k0, "traceroute", map[string]any{"host": "fd77:1::2"}), "unique local (ULA) (fc00::/7, default deny)")
	})
	pingBoth := func(t *testing.T, method string) {
		for _, host := range []string{"10.77.1.2", "fd77:1::2", "target.test"} {
			r := toolstest.OK[PingResult](t, k, "ping_host", map[string]any{"host": host, "count": 2, "interval_ms": 200})
			if r.Method != method || r.Received != 2 || r.LossPercent != 0 || r.Replies[0].TTL != 63 && r.Replies[0].TTL != 0 {
				t.Errorf("ping %s: %+v; want 2 replies over %s", host, r, method)
			}
		}
		r := toolstest.OK[PingResult](t, k, "ping_host", map[string]any{"host": "10.77.1.99", "count": 2, "interval_ms": 200, "timeout_ms": 300})
		if r.Transmitted != 2 || r.Received != 0 || r.LossPercent != 100 || r.RTTAvgMS != 0 {
			t.Errorf("ping to nobody: %+v", r)
		}
	}
	t.Run("ping_unprivileged", func(t *testing.T) {
		setPingGroupRange(t, "0 2147483647")
		pingBoth(t, "icmp-datagram")
	})
	t.Run("ping_raw", func(t *testing.T) {
		setPingGroupRange(t, "1 0")
		pingBoth(t, "raw")
		_, err := g.ping(context.Background(), PingArgs{Host: "10.77.1.2"}, pingDatagram)
		if err == nil || !strings.Contains(err.Error(), `net.ipv4.ping_group_range (now "1 0")`) {
			t.Errorf("unprivileged socket outside ping_group_range: %v", err)
		}
	})
	t.Run("ping_no_icmp_socket", func(t *testing.T) {
		setPingGroupRange(t, "1 0")
		runAsNobody(t)
	})
	t.Run("traceroute_ipv4", func(t *testing.T) {
		r := toolstest.OK[TracerouteResult](t, k, "traceroute", map[string]any{"host": "target.test", "max_hops": 5, "probes": 2, "timeout_ms": 1000})
		if !r.Reached || r.Address != "10.77.1.2" || len(r.Hops) != 2 ||
			r.Hops[0].Address != "10.77.0.254" || r.Hops[0].Name != "router.test" || len(r.Hops[0].RTTsMS) != 2 ||
			r.Hops[1].Address != "10.77.1.2" || r.Hops[1].Name != "target.test" || r.Hops[1].Probes[0].Note != "reached" {
			t.Errorf("traceroute target.test: %+v", r)
		}
		r = toolstest.OK[TracerouteResult](t, k, "traceroute", map[string]any{"host": "10.77.5.1", "max_hops": 3, "probes": 1, "resolve_names": false})
		if r.Reached || !strings.Contains(r.Stopped, "no route") || len(r.Hops) != 1 {
			t.Errorf("traceroute to an unrouted address: %+v", r)
		}
	})
	t.Run("traceroute_ipv6", func(t *testing.T) {
		r := toolstest.OK[TracerouteResult](t, k, "traceroute", map[string]any{"host": "fd77:1::2", "max_hops": 5, "probes": 1})
		if !r.Reached || len(r.Hops) != 2 || r.Hops[0].Address != "fd77::fe" || r.Hops[0].Name != "router.test" ||
			r.Hops[1].Address != "fd77:1::2" || r.Hops[1].Name != "target.test" {
			t.Errorf("traceroute fd77:1::2: %+v", r)
		}
	})
	t.Run("ports", func(t *testing.T) {
		r := toolstest.OK[PortResult](t, k, "test_port_connectivity", map[string]any{"host": "10.77.1.2", "ports": []any{80, 443}, "timeout_ms": 1000})
		if r.Closed != 2 {
			t.Errorf("closed ports on the target: %+v", r)
		}
		// Not .99, which ping_unprivileged already asked for: after about
		// 3 s of unanswered ARP the router answers for it at once with
		// "host unreachable", and how long the subtests in between take
		// (slower under -race) decided which answer this one got.
		r = toolstest.OK[PortResult](t, k, "test_port_connectivity", map[string]any{"host": "10.77.1.98", "ports": []any{80}, "timeout_ms": 300})
		if r.Filtered != 1 || !strings.Contains(r.Ports[0].Detail, "no answer within 300ms") {
			t.Errorf("a silent address: %+v", r)
		}
		r = toolstest.OK[PortResult](t, k, "test_port_connectivity", map[string]any{"host": "10.77.5.1", "ports": []any{80}, "timeout_ms": 300})
		if r.Filtered != 1 || r.Ports[0].Detail != "network unreachable" {
			t.Errorf("an unrouted address: %+v", r)
		}
	})
}

func reverse(t *testing.T, addr string) string {
	r, err := dns.ReverseAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runAsNobody reruns the test binary as nobody (no capabilities), from a
// copy nobody can execute, and expects diagNetnsNobody to pass.
func runAsNobody(t *testing.T) {
	dir, err := os.MkdirTemp("", "tailops-diag-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "tools.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run", "^TestDiagNetns$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = []string{diagNetnsEnv + "=nobody", diagParentNetnsEnv + "=" + os.Getenv(diagParentNetnsEnv), "PATH=/usr/bin:/bin", "HOME=/"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestDiagNetns") {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
}

// diagNetnsNobody runs as nobody in the client namespace, whose
// ping_group_range is "1 0": neither ICMP socket is allowed, and the
// error says what to change.
func diagNetnsNobody(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Fatal("running as root")
	}
	k := serveDiag(t, Config{Allow: []string{"10.77.0.0/16"}})
	got := toolstest.Err(t, k, "ping_host", map[string]any{"host": "10.77.1.2", "count": 1})
	for _, want := range []string{
		"pinging needs an ICMP socket and neither kind is allowed",
		"this process's group (65534) within net.ipv4.ping_group_range (now \"1 0\")",
		`sysctl -w net.ipv4.ping_group_range="65534 65534"`,
		"raw sockets need CAP_NET_RAW",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("error %q; want it to contain %q", got, want)
		}
	}
}

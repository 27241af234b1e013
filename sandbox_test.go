// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/internal/systemdtest"
	"github.com/tailops/tailops/labtest"
)

// procServer is the tailops binary running as its own process.
type procServer struct {
	URL, State string
	Cmd        *exec.Cmd
	Stderr     *syncBuffer
}

// runBinary runs `bin serve` on a free loopback port with args and
// waits until it serves /healthz.
func runBinary(t *testing.T, bin string, args ...string) *procServer {
	t.Helper()
	return runBinaryEnv(t, nil, bin, args...)
}

// runBinaryEnv is runBinary with extra environment variables.
func runBinaryEnv(t *testing.T, env []string, bin string, args ...string) *procServer {
	t.Helper()
	return runBinaryAs(t, nil, t.TempDir(), env, bin, args...)
}

// runBinaryAs is runBinaryEnv as the user cred (nil: this process's) with
// the given state directory.
func runBinaryAs(t *testing.T, cred *syscall.Credential, state string, env []string, bin string, args ...string) *procServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &procServer{URL: "http://" + addr, State: state, Stderr: &syncBuffer{}}
	p.Cmd = exec.Command(bin, append([]string{"serve", "--listen", addr, "--state-dir", state}, args...)...)
	p.Cmd.Stderr = p.Stderr
	p.Cmd.Env = append(os.Environ(), env...)
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Cmd.Process.Signal(os.Interrupt)
		p.Cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if code, err := httpGet(p.URL + "/healthz"); err == nil && code == 200 {
			return p
		}
		if time.Now().After(deadline) || p.Cmd.ProcessState != nil {
			t.Fatalf("server did not come up:\n%s", p.Stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitLog reports whether the server's stderr holds want within five
// seconds: /healthz can answer before exec's copying goroutine has passed
// on the lines logged before it.
func (p *procServer) waitLog(want string) bool {
	for deadline := time.Now().Add(5 * time.Second); ; {
		if strings.Contains(p.Stderr.String(), want) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// token mints a token with the CLI against the server's state dir.
func (p *procServer) token(t *testing.T, scopes string) string {
	t.Helper()
	out, stderr, code := tailops(t, nil, "token", "mint", "--state-dir", p.State, "--agent", "sandbox-test", "--scopes", scopes)
	if code != 0 {
		t.Fatalf("mint: %s", stderr)
	}
	return strings.TrimSpace(out)
}

// port returns the port of a http://host:port URL.
func port(t *testing.T, u string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(strings.TrimPrefix(u, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

func callText(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) (string, bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res.Content[0].(*sdk.TextContent).Text, res.IsError
}

// TestSandboxedServerRunsEveryTool starts the real binary with the
// sandbox enforced, a real dockerd beside it, and calls every tool: the
// policy derived from the tools' declarations must be enough for each of
// them (critical tools stop at the approval gate), and every thread of the
// running server must be under seccomp with no_new_privs.
func TestSandboxedServerRunsEveryTool(t *testing.T) {
	d := labtest.StartDockerd(t)
	image := d.BusyboxImage(t, "local/busybox:latest")
	d.Run(t, "--name", "sbx-web", image, "sleep", "3600")
	// A stack in a stack root, its container labelled as compose labels
	// what it deploys from there (deploy_stack itself stops at the gate).
	stackRoot := t.TempDir()
	stackDir := filepath.Join(stackRoot, "sbx")
	os.Mkdir(stackDir, 0o755)
	os.WriteFile(filepath.Join(stackDir, "compose.yaml"), []byte("services:\n  app:\n    image: local/busybox:latest\n    pull_policy: never\n    command: [sleep, '3600']\n"), 0o644)
	d.Run(t, "--name", "sbx-app-1", "--label", "com.docker.compose.project=sbx", "--label", "com.docker.compose.service=app",
		"--label", "com.docker.compose.oneoff=False", "--label", "com.docker.compose.project.working_dir="+stackDir,
		"--label", "com.docker.compose.container-number=1", image, "sleep", "3600")
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "app.log"), []byte("one\ntwo\nthree\n"), 0o644)
	// A credential for scan_secrets to find under the sandbox.
	os.WriteFile(filepath.Join(root, "deploy.conf"), []byte("aws_access_key_id = AKIAZ7VQ3XK2LMN4PQRS\n"), 0o644)
	// Unprivileged ping (the sandbox refuses raw sockets) needs root's group
	// in ping_group_range; this is the test's own network namespace.
	if err := os.WriteFile("/proc/sys/net/ipv4/ping_group_range", []byte("0 2147483647"), 0o644); err != nil {
		t.Fatalf("allowing unprivileged ping in the test's namespace: %v", err)
	}
	jdir := testJournalDir(t)
	// A real systemd, its bus reached through its PID 1's root.
	bed := systemdtest.Start(t)
	bed.WriteUnit(t, "tailops-sbx.service", "[Service]\nExecStart=/bin/sleep infinity\nExecReload=/bin/true\n")
	bed.Run(t, "systemctl", "start", "tailops-sbx.service") // reload_service may come first
	// check_vulnerabilities fetches the tracker's data from this loopback
	// server, which the destination policy allows (--vuln-data-allow).
	tracker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, "tools/packages/testdata/tracker.json")
	}))
	defer tracker.Close()
	p := runBinaryEnv(t, []string{"DOCKER_HOST=" + d.Host, "DBUS_SYSTEM_BUS_ADDRESS=" + bed.BusAddress()}, binPath,
		"--file-root", root, "--stack-root", stackRoot, "--diag-allow", "127.0.0.1/32", "--journal-dir", jdir, "--firewall", "--service-allow", "tailops-sbx",
		"--vuln-data", tracker.URL+"/tracker/data/json", "--vuln-data-allow", "127.0.0.1/32")
	cs := sdkSession(t, p.URL, p.token(t, "admin"))
	lt, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	web := map[string]any{"container": "sbx-web"}
	args := map[string]map[string]any{
		"list_directory": {"path": root}, "get_file_info": {"path": "app.log"}, "read_file": {"path": "app.log"},
		"tail_file": {"path": "app.log", "lines": 2}, "search_files": {"path": root, "content_regex": "tw."},
		"inspect_container": web, "get_container_logs": web, "get_container_stats": web, "start_container": web,
		"stop_container": {"container": "sbx-web", "timeout": 1}, "restart_container": {"container": "sbx-web", "timeout": 1},
		"update_container": web, "remove_container": web, "pull_image": {"image": "local/busybox:latest"},
		"exec_in_container": {"container": "sbx-web", "argv": []string{"true"}}, "check_image_updates": web,
		"approve_request": {"id": "0123456789abcdef"}, "deny_request": {"id": "0123456789abcdef"},
		"ping_host": {"host": "127.0.0.1", "count": 1}, "traceroute": {"host": "127.0.0.1", "max_hops": 2, "probes": 1},
		"test_port_connectivity": {"host": "127.0.0.1", "ports": []int{port(t, p.URL)}},
		"http_request_test":      {"url": p.URL + "/healthz"},
		"dns_lookup":             {"name": "example.test", "type": "A", "resolver": "127.0.0.1:1", "timeout_ms": 500},
		"check_ssl_certificate":  {"host": "127.0.0.1", "port": port(t, p.URL), "timeout_ms": 1000},
		"get_journal":            {"unit": "web", "priority": "err"},
		// The packages tools read this machine's dpkg database and apt lists.
		"check_updates":           {"limit": 5},
		"list_installed_packages": {"name": "dpkg"},
		"check_vulnerabilities":   {"limit": 5},
		"scan_secrets":            {"path": root, "max_files": 50},
		// PackageKit's tools stop at the approval gate here
		// (TestPackageKitUnderSandbox runs one to PackageKit).
		"install_package": {"name": "tailops-test-pkg"}, "upgrade_packages": {"packages": []string{"tailops-test-pkg"}},
		// The firewall tools act on the test binary's own network
		// namespace (TestMain), never on the host's; the writes stop at
		// the approval gate here (TestFirewallToolsUnderSandbox runs them).
		"get_firewall_rules":   {},
		"add_firewall_rule":    {"chain": "input", "protocol": "tcp", "dport": "2222", "verdict": "drop"},
		"delete_firewall_rule": {"handle": 1},
		"list_services":        {"pattern": "*"}, "get_service_status": {"unit": "dbus", "lines": 5},
		"start_service": {"unit": "tailops-sbx"}, "reload_service": {"unit": "tailops-sbx"},
		"restart_service": {"unit": "tailops-sbx"}, "stop_service": {"unit": "tailops-sbx"},
		"get_stack_status": {"name": "sbx"}, "get_stack_logs": {"name": "sbx"}, "get_stack_history": {"name": "sbx"}, "get_stack_compose": {"name": "sbx"},
		"get_audit_records": {"limit": 5},
		"restart_stack":     {"name": "sbx"}, "pull_stack_images": {"name": "sbx"}, "deploy_stack": {"name": "sbx"},
		"remove_stack": {"name": "sbx"}, "update_stack": {"name": "sbx"}, "rollback_stack": {"name": "sbx", "deployment": "1"},
	}
	// These reach a loopback address where nothing answers their protocol:
	// they must fail as network errors, never as a sandbox refusal.
	networkError := map[string]bool{"dns_lookup": true, "check_ssl_certificate": true}
	// Deciding a request that does not exist fails, but only after the
	// tool ran under the sandbox.
	noSuchRequest := map[string]bool{"list_approvals": true, "approve_request": true, "deny_request": true}
	// Which tools stop at the approval gate comes from the registry, not a
	// list kept here.
	critical := map[string]bool{}
	for _, spec := range allTools() {
		critical[spec.Name()] = spec.NeedsApproval()
	}
	for _, tool := range lt.Tools {
		text, isErr := callText(t, cs, tool.Name, args[tool.Name])
		switch {
		case critical[tool.Name] && (!isErr || !strings.Contains(text, "approval required")):
			t.Errorf("%s is critical and must stop at the approval gate: %s", tool.Name, text)
		case noSuchRequest[tool.Name] && isErr && (strings.Contains(text, "not enabled") || strings.Contains(text, "not found")):
		case networkError[tool.Name] && isErr && !strings.Contains(text, "not permitted") && !strings.Contains(text, "permission denied"):
		case !critical[tool.Name] && isErr:
			t.Errorf("%s failed under the sandbox: %s", tool.Name, text)
		}
	}
	// get_journal read the journal under the sandbox, not just answered.
	if text, _ := callText(t, cs, "get_journal", map[string]any{"unit": "web"}); !strings.Contains(text, "web failed") {
		t.Errorf("get_journal under the sandbox: %s", text)
	}
	// The packages tools read the dpkg database and the apt lists under
	// the sandbox, not just answered.
	if text, _ := callText(t, cs, "list_installed_packages", map[string]any{"name": "dpkg"}); !strings.Contains(text, `"install ok installed"`) {
		t.Errorf("list_installed_packages under the sandbox: %s", text)
	}
	if text, _ := callText(t, cs, "check_updates", map[string]any{"limit": 1}); !strings.Contains(text, `"upgradable"`) || strings.Contains(text, `"notes"`) {
		t.Errorf("check_updates under the sandbox: %s", text)
	}
	// check_vulnerabilities fetched the data over TCP and read the host's
	// release under the sandbox, not just answered.
	if text, isErr := callText(t, cs, "check_vulnerabilities", map[string]any{"limit": 1}); isErr || !strings.Contains(text, `"source_packages_checked"`) {
		t.Errorf("check_vulnerabilities under the sandbox: %s", text)
	}
	// scan_secrets walked and read the root under the sandbox.
	if text, isErr := callText(t, cs, "scan_secrets", map[string]any{"path": root}); isErr || !strings.Contains(text, `"aws-access-token"`) {
		t.Errorf("scan_secrets under the sandbox: %s", text)
	}
	// get_inventory reads every part under the sandbox, through the
	// needs its parts declare: each is ok, none a sandbox refusal.
	{
		text, _ := callText(t, cs, "get_inventory", nil)
		var inv struct {
			Parts []struct{ Name, Status, Error string }
		}
		json.Unmarshal([]byte(text), &inv)
		seen := map[string]bool{}
		for _, pt := range inv.Parts {
			seen[pt.Name] = true
			if pt.Status != "ok" {
				t.Errorf("get_inventory part %s under the sandbox: %s %s", pt.Name, pt.Status, pt.Error)
			}
		}
		for _, n := range []string{"system", "listening", "containers", "stacks", "services", "packages"} {
			if !seen[n] {
				t.Errorf("get_inventory has no %s part: %s", n, text)
			}
		}
		if !strings.Contains(text, `"sbx-web"`) || !strings.Contains(text, `"mode": "enforce"`) {
			t.Errorf("get_inventory under the sandbox lacks the container or the sandbox state: %s", text)
		}
	}
	// The release facts gopsutil reads must be inside the policy too.
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "get_system_status"})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := json.Marshal(res.StructuredContent)
	if !strings.Contains(string(st), `"platform":"`) || strings.Contains(string(st), `"platform_version":""`) {
		t.Errorf("get_system_status under the sandbox lacks the OS release: %s", st)
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", p.Cmd.Process.Pid))
	if len(tasks) < 2 {
		t.Fatalf("only %d threads found", len(tasks))
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited
		}
		if !strings.Contains(string(b), "\nSeccomp:\t2\n") || !strings.Contains(string(b), "\nNoNewPrivs:\t1\n") {
			t.Errorf("%s is not confined:\n%s", f, b)
		}
	}
	if !p.waitLog("sandbox applied") {
		t.Errorf("no sandbox report in the log:\n%s", p.Stderr)
	}
}

// TestDockerOverTCPUnderSandbox: with DOCKER_HOST=tcp://…, the enforced
// sandbox lets the Docker tools connect to that port, plain and with TLS
// client certificates from DOCKER_CERT_PATH (sandbox.TestCompute checks
// that these rules come only with a Docker tool). The daemon is the
// real dockerd, reached through a TCP-to-socket relay in the test, as a
// remote Docker API would be. A tcp:// endpoint without a port is refused
// by name.
func TestDockerOverTCPUnderSandbox(t *testing.T) {
	d := labtest.StartDockerd(t)
	d.Run(t, "--name", "tcp-web", d.BusyboxImage(t, "local/busybox:latest"), "sleep", "3600")
	sock := strings.TrimPrefix(d.Host, "unix://")
	relay := labtest.RelayToUnix(t, listenLoopback(t), sock)
	// Plain TCP, whatever the environment says about TLS.
	p := runBinaryEnv(t, []string{"DOCKER_HOST=tcp://" + relay, "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH="}, binPath,
		"--tools", "list_containers,inspect_container")
	cs := sdkSession(t, p.URL, p.token(t, "container:read"))
	text, isErr := callText(t, cs, "list_containers", nil)
	if isErr || !strings.Contains(text, "tcp-web") {
		t.Fatalf("list_containers over tcp under the sandbox: %s", text)
	}
	if !p.waitLog("sandbox applied") {
		t.Errorf("no sandbox report in the log:\n%s", p.Stderr)
	}

	// With TLS and a client certificate (DOCKER_TLS_VERIFY,
	// DOCKER_CERT_PATH): the client reads its files on first use, after
	// the sandbox is on, so the policy must grant them.
	ca := labtest.NewCA(t)
	certs := t.TempDir()
	ca.WriteDockerCertPath(t, certs, ca.ClientLeaf(t, "tailops"))
	tlsRelay := labtest.RelayToUnix(t, tls.NewListener(listenLoopback(t), &tls.Config{
		Certificates: []tls.Certificate{ca.Leaf(t, time.Hour, "127.0.0.1")},
		ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool,
	}), sock)
	pt := runBinaryEnv(t, []string{"DOCKER_HOST=tcp://" + tlsRelay, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + certs}, binPath,
		"--tools", "list_containers")
	text, isErr = callText(t, sdkSession(t, pt.URL, pt.token(t, "container:read")), "list_containers", nil)
	if isErr || !strings.Contains(text, "tcp-web") {
		t.Errorf("list_containers over TLS under the sandbox: %s", text)
	}

	// Without a port the tools could not reach anything: the policy (and
	// so the start) is refused, saying why.
	_, stderr, code := tailops(t, []string{"DOCKER_HOST=tcp://127.0.0.1"}, "sandbox", "explain",
		"--state-dir", t.TempDir(), "--tools", "list_containers")
	if code == 0 || !strings.Contains(stderr, "DOCKER_HOST: a tcp:// endpoint needs its port") {
		t.Errorf("tcp:// without a port: exit %d, %s", code, stderr)
	}
	// Without a Docker tool enabled, DOCKER_HOST is not the server's concern.
	if _, stderr, code := tailops(t, []string{"DOCKER_HOST=ssh://admin@docker.lan"}, "sandbox", "explain",
		"--state-dir", t.TempDir(), "--tools", "health_check"); code != 0 {
		t.Errorf("a DOCKER_HOST the tools cannot use stopped a server without Docker tools: exit %d, %s", code, stderr)
	}
}

// TestDockerPermissionDeniedSaysSo: a server whose user may not reach the
// Docker socket says so, instead of asking whether dockerd is running, and
// still starts: the sandbox leaves out a path its user may not reach (here
// a socket in a directory only root may enter, as rootless Docker's
// /run/user/UID is to other users), with a warning in the log and on
// /readyz (without the path: it answers anyone) and a row in sandbox
// explain. The binary runs as uid 65532 against a real listening socket.
func TestDockerPermissionDeniedSaysSo(t *testing.T) {
	const uid = 65532
	// Everything the unprivileged server needs, outside root's 0700 temp dirs.
	dir, err := os.MkdirTemp("", "tailops-uid-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin, state, private := filepath.Join(dir, "tailops"), filepath.Join(dir, "state"), filepath.Join(dir, "private")
	b, err := os.ReadFile(binPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{os.Chmod(dir, 0o755), os.WriteFile(bin, b, 0o755), os.Mkdir(state, 0o700),
		os.Chown(state, uid, uid), os.Mkdir(private, 0o700)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(private, "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	p := runBinaryAs(t, &syscall.Credential{Uid: uid, Gid: uid}, state, []string{"DOCKER_HOST=unix://" + sock, "HOME=" + state},
		bin, "--sandbox", "enforce", "--tools", "list_containers")
	stderr := p.Stderr
	cs := sdkSession(t, p.URL, p.token(t, "container:read"))
	text, isErr := callText(t, cs, "list_containers", nil)
	if !isErr || !strings.Contains(text, "permission denied") || !strings.Contains(text, "needs access to the socket") ||
		strings.Contains(text, "is dockerd running") {
		t.Errorf("list_containers without access to the socket: %s", text)
	}
	// The server started all the same (the other tools work), and said why
	// the socket has no sandbox rule.
	if log := stderr.String(); !strings.Contains(log, "not reachable by this user") || !strings.Contains(log, sock) {
		t.Errorf("no warning about the unreachable socket in the log:\n%s", log)
	}
	// /readyz answers anyone: it warns, but names no host path.
	if body, err := httpGetBody(p.URL + "/readyz"); err != nil || !strings.Contains(body, "WARNING: 1 path(s) the tools need are not reachable by this user") ||
		strings.Contains(body, private) {
		t.Errorf("/readyz on the unreachable socket: %q, %v", body, err)
	}
	// sandbox explain, as the same user, lists it as left out.
	explain := exec.Command(bin, "sandbox", "explain", "--state-dir", state, "--tools", "list_containers")
	explain.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "HOME="+state)
	explain.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	if out, err := explain.CombinedOutput(); err != nil || !strings.Contains(string(out), "may not reach them") || !strings.Contains(string(out), sock) {
		t.Errorf("sandbox explain as uid %d: %v\n%s", uid, err, out)
	}
}

// listenLoopback listens on a free loopback port.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestForbiddenSyscallsInAHandlerGetEPERM calls the test-only sandbox_probe
// tool, which tries exec, ptrace, mount, unshare and /etc/shadow from a
// fresh OS thread inside a handler: each is refused by the kernel and the
// server keeps serving.
func TestForbiddenSyscallsInAHandlerGetEPERM(t *testing.T) {
	p := runBinary(t, probePath)
	cs := sdkSession(t, p.URL, p.token(t, "readonly"))
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "sandbox_probe"})
	if err != nil || res.IsError {
		t.Fatalf("probe: %v %+v", err, res)
	}
	var out struct{ Attempts map[string]string }
	b, _ := json.Marshal(res.StructuredContent)
	json.Unmarshal(b, &out)
	want := map[string]string{"exec /bin/sh": "EPERM", "read /etc/shadow": "EACCES", "ptrace pid 1": "EPERM",
		"mount tmpfs": "EPERM", "unshare user ns": "EPERM"}
	for k, v := range want {
		if got := out.Attempts[k]; !strings.Contains(got, v) && !(k == "exec /bin/sh" && strings.Contains(got, "EACCES")) {
			t.Errorf("%s: got %q, want %s", k, got, v)
		}
	}
	if text, isErr := callText(t, cs, "health_check", nil); isErr {
		t.Errorf("server stopped serving after the probe: %s", text)
	}
}

// TestLandlockAloneStopsFileEscapes uses a build with the file tools' own
// path checks compiled out (tailops_nocheck): with the sandbox off the
// escapes work — so the test can fail — and with it on, Landlock alone
// refuses every one of them.
func TestLandlockAloneStopsFileEscapes(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.txt")
	os.WriteFile(secret, []byte("TOP-SECRET-CONTENT"), 0o600)
	os.Symlink(secret, filepath.Join(root, "link-to-secret"))
	os.Symlink("/etc/shadow", filepath.Join(root, "link-to-shadow"))
	rel, _ := filepath.Rel(root, secret)
	escapes := []string{secret, rel, "link-to-secret", "/etc/shadow", "link-to-shadow", "/proc/self/root" + secret}
	for _, mode := range []string{"off", "enforce"} {
		p := runBinary(t, probePath, "--file-root", root, "--sandbox", mode)
		cs := sdkSession(t, p.URL, p.token(t, "file:read"))
		for _, path := range escapes {
			text, isErr := callText(t, cs, "read_file", map[string]any{"path": path})
			leaked := !isErr && (strings.Contains(text, "TOP-SECRET-CONTENT") || strings.Contains(text, "root:"))
			switch {
			case mode == "off" && !leaked && path != "link-to-shadow" && path != "/etc/shadow":
				t.Errorf("without the sandbox, %q should escape in the nocheck build (else this test proves nothing): %s", path, text)
			case mode == "enforce" && leaked:
				t.Errorf("Landlock let %q through: %s", path, text)
			case mode == "enforce" && !isErr:
				t.Errorf("read of %q did not fail: %s", path, text)
			}
		}
	}
}

// TestSandboxCheckCommandPasses runs `tailops sandbox check`, which applies
// serve's policy to itself and attacks itself from several threads.
func TestSandboxCheckCommandPasses(t *testing.T) {
	out, stderr, code := tailops(t, nil, "sandbox", "check", "--state-dir", t.TempDir(), "--listen", "127.0.0.1:18080")
	if code != 0 || !strings.Contains(out, "ok: every attempt was refused") {
		t.Fatalf("sandbox check: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"/etc/shadow", "exec /bin/sh", "ptrace", "mount", "unshare", "Seccomp: 2, NoNewPrivs: 1",
		"NETLINK_AUDIT", "NETLINK_KOBJECT_UEVENT", "NETLINK_NETFILTER", "(a process outside the sandbox)", "capabilities"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q", want)
		}
	}
	out, _, code = tailops(t, nil, "sandbox", "explain", "--state-dir", t.TempDir(), "--disable-tools", "list_directory,get_file_info,read_file,tail_file,search_files,scan_secrets")
	// No file root: /var/log itself is not granted (/var/log/journal, the
	// journal tools' directory, may be).
	if code != 0 || strings.Contains(out, " /var/log ") || !strings.Contains(out, "TCP bind:      8080") || !strings.Contains(out, "exec:    no") {
		t.Errorf("explain without file tools should grant no file root, bind 8080 only, no exec:\n%s", out)
	}
	// The Docker socket rule is the socket the Docker tools use
	// (DOCKER_HOST, as for Podman), and a TCP endpoint gets no socket rule.
	for _, tc := range []struct{ env, want, not string }{
		{"DOCKER_HOST=unix:///run/podman/podman.sock", "/run/podman/podman.sock", "/var/run/docker.sock"},
		{"DOCKER_HOST=tcp://127.0.0.1:2375", "", "docker.sock"},
	} {
		out, _, code := tailops(t, []string{tc.env}, "sandbox", "explain", "--state-dir", t.TempDir())
		if code != 0 || (tc.want != "" && !strings.Contains(out, tc.want)) || strings.Contains(out, tc.not) {
			t.Errorf("%s: explain should name %q and not %q:\n%s", tc.env, tc.want, tc.not, out)
		}
	}
}

func TestSandboxOffIsLoud(t *testing.T) {
	p := runBinary(t, binPath, "--sandbox", "off")
	if !p.waitLog("KERNEL SANDBOX OFF") {
		t.Errorf("no loud warning at start:\n%s", p.Stderr)
	}
	resp, err := httpGetBody(p.URL + "/readyz")
	if err != nil || !strings.Contains(resp, "WARNING: kernel sandbox is off") {
		t.Errorf("/readyz = %q %v", resp, err)
	}
}

// TestLandlockConnectRuleFollowsDiagPolicy: with a diagnostics port
// allow-list, the kernel's connect rule is that list, not any port; the
// approval webhook's port is always allowed.
func TestLandlockConnectRuleFollowsDiagPolicy(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		want, not string
	}{
		{nil, "any port", ""},
		{[]string{"--diag-port", "443"}, "443 (tool ping_host; tool traceroute", "any port"},
		{[]string{"--disable-tools", "ping_host,traceroute,test_port_connectivity,dns_lookup,check_ssl_certificate,http_request_test",
			"--approval-webhook", "http://127.0.0.1:9999/hook", "--approval-webhook-secret-file", "/dev/null"}, "9999 (config: connect port)", "any port"},
	} {
		out, stderr, code := tailops(t, nil, append([]string{"sandbox", "explain", "--state-dir", t.TempDir()}, tc.args...)...)
		var line string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "TCP connect:") {
				line = l
			}
		}
		if code != 0 || !strings.Contains(line, tc.want) || (tc.not != "" && strings.Contains(line, tc.not)) {
			t.Errorf("%v: exit %d, connect rule %q, want %q and not %q\n%s", tc.args, code, line, tc.want, tc.not, stderr)
		}
	}
}

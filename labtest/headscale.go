// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tailscale.com/net/netns"
	"tailscale.com/types/logger"
)

// Headscale is a real Headscale control server (HeadscaleVersion, built
// from its Go module) on 127.0.0.1, with its SQLite database, noise and
// DERP keys and unix socket in a directory of its own, its embedded DERP
// relay and STUN server on loopback and the policy in its database
// (SetPolicy). No DERP map is fetched from anywhere.
//
// Tailscale clients speak DERP only over TLS (but for a debug knob that
// is process-wide), while Headscale serves plain HTTP here, as it does
// behind the TLS reverse proxy of a typical homelab: a TLS relay on
// loopback stands for that proxy, in front of the embedded relay, and
// the DERP map Headscale sends (a file in its derp.paths) names it.
//
// Like NewTailnet, NewHeadscale fails the test unless the process sees
// only loopback: run the test binary through ReexecInLoopbackNetNS.
type Headscale struct {
	// ControlURL is Headscale's server_url (http://127.0.0.1:PORT), what
	// --ts-control-url and --login-server take.
	ControlURL string
	// Dir holds the configuration, database, keys and socket.
	Dir string

	bin, config string
	logs        *syncBuf
	logf        logger.Logf

	mu    sync.Mutex
	users map[string]uint64 // user name → ID
}

// HeadscaleOptions configures NewHeadscale. A nil *HeadscaleOptions is
// ready for use.
type HeadscaleOptions struct {
	// Verbose sends the nodes' logs to t.Logf, and Headscale's when the
	// test ends; by default they are kept only for failure messages.
	Verbose bool
}

// NewHeadscale builds (once) and starts Headscale for the test, and
// stops it when the test ends. Until SetPolicy is called, its policy
// is Headscale's default: every node may reach every other.
func NewHeadscale(t testing.TB, opts *HeadscaleOptions) *Headscale {
	t.Helper()
	if opts == nil {
		opts = &HeadscaleOptions{}
	}
	RequireNodeSandbox(t)
	netns.SetEnabled(false) // as NewTailnet does, for this process's nodes
	bin := HeadscaleBinary(t)
	// A short path: the socket's must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "hs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	h := &Headscale{Dir: dir, bin: bin, config: filepath.Join(dir, "config.yaml"), logs: &syncBuf{},
		logf: logger.Discard, users: map[string]uint64{}}
	if opts.Verbose {
		h.logf = t.Logf
	}
	httpPort, stunPort := freePort(t, "tcp"), freePort(t, "udp")
	h.ControlURL = "http://127.0.0.1:" + strconv.Itoa(httpPort)

	// The TLS proxy in front of the embedded DERP relay.
	ca := NewCA(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, 24*time.Hour, "127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	relay(t, ln, "tcp", "127.0.0.1:"+strconv.Itoa(httpPort))
	derpPath := filepath.Join(dir, "derp.yaml")
	if err := os.WriteFile(derpPath, derpMapYAML(ln.Addr().(*net.TCPAddr).Port, stunPort), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.config, headscaleConfig(dir, httpPort, stunPort, derpPath), 0o600); err != nil {
		t.Fatal(err)
	}
	h.start(t, opts.Verbose)
	return h
}

// headscaleConfig is Headscale's configuration: everything on loopback,
// state in dir, no update checks, no log upload, no external DERP map,
// the policy in the database; and changes sent to the nodes after 50 ms
// rather than 800 ms, which made each node take 2 s to come up.
func headscaleConfig(dir string, httpPort, stunPort int, derpPath string) []byte {
	return fmt.Appendf(nil, `server_url: http://127.0.0.1:%[2]d
listen_addr: 127.0.0.1:%[2]d
metrics_listen_addr: 127.0.0.1:0
grpc_listen_addr: 127.0.0.1:0
grpc_allow_insecure: false
noise:
  private_key_path: %[1]s/noise_private.key
prefixes:
  v4: 100.64.0.0/10
  v6: fd7a:115c:a1e0::/48
  allocation: sequential
derp:
  server:
    enabled: true
    region_id: 999
    region_code: headscale
    region_name: Headscale Embedded DERP
    verify_clients: true
    stun_listen_addr: 127.0.0.1:%[3]d
    private_key_path: %[1]s/derp_server_private.key
    automatically_add_embedded_derp_region: false
    ipv4: 127.0.0.1
  urls: []
  paths: [%[4]s]
  auto_update_enabled: false
disable_check_updates: true
database:
  type: sqlite
  sqlite:
    path: %[1]s/db.sqlite
    write_ahead_log: true
log:
  level: info
  format: text
policy:
  mode: database
dns:
  magic_dns: false
  override_local_dns: false
  nameservers:
    global: []
unix_socket: %[1]s/headscale.sock
unix_socket_permission: "0770"
logtail:
  enabled: false
taildrop:
  enabled: false
tuning:
  batch_change_delay: 50ms
  node_store_batch_timeout: 20ms
`, dir, httpPort, stunPort, derpPath)
}

// derpMapYAML is the DERP map naming the embedded relay (through its TLS
// proxy on derpPort, whose certificate the clients do not check) and
// its STUN server, in the field names Headscale's YAML decoder uses.
func derpMapYAML(derpPort, stunPort int) []byte {
	return fmt.Appendf(nil, `regions:
  999:
    regionid: 999
    regioncode: headscale
    regionname: Headscale Embedded DERP
    nodes:
      - name: "999"
        regionid: 999
        hostname: 127.0.0.1
        ipv4: 127.0.0.1
        ipv6: none
        stuntestip: 127.0.0.1
        derpport: %d
        stunport: %d
        insecurefortests: true
`, derpPort, stunPort)
}

// freePort returns a port on 127.0.0.1 that was free a moment ago
// (Headscale must know its own before it listens: they are in its
// server URL and its DERP map).
func freePort(t testing.TB, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs `headscale serve` and waits until it answers /health and
// its unix socket exists.
func (h *Headscale) start(t testing.TB, verbose bool) {
	t.Helper()
	cmd := exec.Command(h.bin, "serve", "-c", h.config)
	cmd.Env = append(os.Environ(), TailnetEnv...)
	cmd.Stdout, cmd.Stderr = h.logs, h.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting headscale: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if verbose || t.Failed() {
			t.Logf("headscale logs:\n%s", h.Logs())
		}
	})
	sock := filepath.Join(h.Dir, "headscale.sock")
	for deadline := time.Now().Add(60 * time.Second); ; {
		if resp, err := http.Get(h.ControlURL + "/health"); err == nil {
			resp.Body.Close()
			if _, err := os.Stat(sock); err == nil && resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			t.Fatalf("headscale exited:\n%s", h.Logs())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("headscale not ready within a minute:\n%s", h.Logs())
		}
	}
}

// Logs returns what Headscale wrote so far.
func (h *Headscale) Logs() string { return h.logs.String() }

// CLI runs the headscale command line against the running server (over
// its unix socket, with JSON output) and returns its standard output.
func (h *Headscale) CLI(t testing.TB, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.bin, append([]string{"-c", h.config, "--output", "json"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("headscale %s: %v\n%s%s", strings.Join(args, " "), err, out, stderrOf(err))
	}
	return out
}

// User returns the ID of the Headscale user name, creating it the first
// time. Its nodes' login name is the bare name (no domain).
func (h *Headscale) User(t testing.TB, name string) uint64 {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if id, ok := h.users[name]; ok {
		return id
	}
	var u struct {
		ID json.Number `json:"id"`
	}
	if err := json.Unmarshal(h.CLI(t, "users", "create", name), &u); err != nil {
		t.Fatalf("decoding the user headscale created: %v", err)
	}
	id, err := strconv.ParseUint(u.ID.String(), 10, 64)
	if err != nil {
		t.Fatalf("headscale user id %q: %v", u.ID, err)
	}
	h.users[name] = id
	return id
}

// AuthKey creates a reusable, ephemeral pre-auth key. With tags, the
// nodes that join with it are tagged with them (and owned by no user:
// Headscale names their user "tagged-devices"); without, they belong to
// user. Headscale refuses a node that joins with a pre-auth key and
// advertises tags itself: the key's tags are the node's.
func (h *Headscale) AuthKey(t testing.TB, user string, tags ...string) string {
	t.Helper()
	return h.authKey(t, true, user, tags...)
}

// authKey is AuthKey, the key ephemeral or not.
func (h *Headscale) authKey(t testing.TB, ephemeral bool, user string, tags ...string) string {
	t.Helper()
	args := []string{"preauthkeys", "create", "--reusable", "--expiration", "1h"}
	if ephemeral {
		args = append(args, "--ephemeral")
	}
	if len(tags) > 0 {
		args = append(args, "--tags", strings.Join(tags, ","))
	} else {
		args = append(args, "--user", strconv.FormatUint(h.User(t, user), 10))
	}
	var k struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(h.CLI(t, args...), &k); err != nil || k.Key == "" {
		t.Fatalf("decoding the pre-auth key headscale created: %v", err)
	}
	return k.Key
}

// Node starts a tsnet node joined to Headscale, as Tailnet.Node does: a
// node of user when tags is empty, else a tagged node (through a tagged
// pre-auth key). It is ephemeral and closed when the test ends.
func (h *Headscale) Node(t testing.TB, hostname, user string, tags ...string) *Node {
	t.Helper()
	return startNode(t, nodeSpec{hostname: hostname, controlURL: h.ControlURL, authKey: h.AuthKey(t, user, tags...),
		tags: tags, logf: h.logf})
}

// PersistentNode is Node for a node that is not ephemeral: closing it
// does not log it out, so Headscale keeps it and tells its peers it is
// offline, as when its machine goes down. Headscale does that about 10 s
// after the node's connection ends (it waits that long for the node to
// reconnect).
func (h *Headscale) PersistentNode(t testing.TB, hostname, user string, tags ...string) *Node {
	t.Helper()
	return startNode(t, nodeSpec{hostname: hostname, controlURL: h.ControlURL, authKey: h.authKey(t, false, user, tags...),
		tags: tags, persistent: true, logf: h.logf})
}

// SetPolicy replaces the tailnet policy (HuJSON: acls, grants,
// tagOwners, ...) through `headscale policy set`, which checks it and
// fails the test if Headscale refuses it. Headscale then sends every
// node its new packet filter; WaitGrant waits for one to arrive.
func (h *Headscale) SetPolicy(t testing.TB, policy string) {
	t.Helper()
	f := filepath.Join(h.Dir, "policy.hujson")
	if err := os.WriteFile(f, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	h.CLI(t, "policy", "set", "--file", f)
}

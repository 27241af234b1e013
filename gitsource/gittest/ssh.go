// SPDX-License-Identifier: Apache-2.0

package gittest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHServer is a real sshd (Debian's openssh-server) on a loopback port,
// with a generated host key and one authorized deploy key restricted to
// git-upload-pack through git-shell.
type SSHServer struct {
	// Port is the port sshd listens on, on 127.0.0.1.
	Port int
	// KnownHosts is a known_hosts file with the server's host key.
	KnownHosts string
	// KeyFile is the deploy key's private key (OpenSSH PEM, unencrypted).
	KeyFile string
	// HostKey is the server's public host key.
	HostKey ssh.PublicKey
}

// NewKey writes a new ed25519 private key to path (mode 0600) and returns
// its public key.
func NewKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer.PublicKey()
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ServeSSH starts sshd on a free loopback port for the test (killed when
// it ends, its log shown if the test failed); a missing sshd or
// git-shell fails the test.
func ServeSSH(t testing.TB) *SSHServer {
	t.Helper()
	sshd := Need(t, "/usr/sbin/sshd")
	Need(t, "/usr/bin/git-shell")
	dir := t.TempDir()
	s := &SSHServer{Port: FreePort(t), KeyFile: filepath.Join(dir, "deploy_key"), KnownHosts: filepath.Join(dir, "known_hosts")}
	s.HostKey = NewKey(t, filepath.Join(dir, "host_key"))
	deploy := NewKey(t, s.KeyFile)
	// Only git-upload-pack of a quoted path, through git-shell.
	gate := filepath.Join(dir, "gate")
	script := "#!/bin/sh\ncase \"$SSH_ORIGINAL_COMMAND\" in\n\"git-upload-pack '\"*\"'\") exec /usr/bin/git-shell -c \"$SSH_ORIGINAL_COMMAND\";;\n*) echo \"refused: $SSH_ORIGINAL_COMMAND\" >&2; exit 1;;\nesac\n"
	if err := os.WriteFile(gate, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	auth := fmt.Sprintf("command=%q,no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty %s", gate, ssh.MarshalAuthorizedKey(deploy))
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(auth), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s/host_key
AuthorizedKeysFile %s/authorized_keys
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers root
`, s.Port, dir, dir)
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// sshd's privilege separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	logf, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("sshd log:\n%s", b)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(s.Port))
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("sshd exited: %s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd does not listen on %d: %v", s.Port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.WriteFile(s.KnownHosts, []byte(s.KnownHostsLine(s.HostKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// KnownHostsLine is a known_hosts line giving key for the server's
// [127.0.0.1]:port.
func (s *SSHServer) KnownHostsLine(key ssh.PublicKey) string {
	return fmt.Sprintf("[127.0.0.1]:%d %s", s.Port, ssh.MarshalAuthorizedKey(key))
}

// HostPort is the server's host:port, as git_hosts lists it.
func (s *SSHServer) HostPort() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL is the ssh:// URL of the repository at path on the server.
func (s *SSHServer) URL(path string) string {
	return fmt.Sprintf("ssh://root@127.0.0.1:%d%s", s.Port, path)
}

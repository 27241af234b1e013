// SPDX-License-Identifier: Apache-2.0

package labtest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tailops/tailops/labtest"
)

// TestPodmanLifecycle starts a podman service, checks it is confined to
// its namespace and answers the Docker API, and that Close leaves nothing
// behind (namespace, directory, container network namespaces).
func TestPodmanLifecycle(t *testing.T) {
	p, err := labtest.NewPodman()
	if err != nil {
		t.Fatal(err)
	}
	ns, dir := p.NetNS, p.Dir
	if !strings.HasPrefix(p.Host, "unix://"+dir+"/") {
		t.Errorf("host %s is not under %s", p.Host, dir)
	}
	v, err := p.Client().ServerVersion(context.Background())
	if err != nil || !strings.Contains(strings.ToLower(v.Components[0].Name), "podman") {
		t.Errorf("server version %+v, %v", v, err)
	}
	p.BusyboxImage(t, "local/busybox:latest")
	p.Run(t, "--name", "lt-run", "local/busybox:latest", "sleep", "600")
	if out, err := exec.Command("ip", "netns", "exec", ns, "ip", "link", "show", "podman0").CombinedOutput(); err != nil {
		t.Errorf("no podman0 bridge inside %s: %v %s", ns, err, out)
	}
	if exec.Command("ip", "link", "show", "podman0").Run() == nil {
		t.Error("a podman0 bridge exists on the host network")
	}
	// Podman keeps a container's network namespace in the host's
	// /run/netns; other tests create and delete entries there meanwhile,
	// so check these two by name.
	sandbox := p.Podman(t, "inspect", "--format", "{{.NetworkSettings.SandboxKey}}", "lt-run")
	if !strings.HasPrefix(sandbox, "/run/netns/") {
		t.Fatalf("container network namespace %q is not in /run/netns", sandbox)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/run/netns/" + ns, sandbox} {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s still exists after Close: %v", path, err)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists: %v", dir, err)
	}
}

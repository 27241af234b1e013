// SPDX-License-Identifier: Apache-2.0

package labtest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/tailops/tailops/labtest"
)

func TestMain(m *testing.M) {
	m.Run()
	labtest.StopShared()
}

func TestCheck(t *testing.T) {
	if err := labtest.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestDaemonLifecycle starts a daemon of its own and checks it is
// confined to its namespace, answers, and leaves nothing behind.
func TestDaemonLifecycle(t *testing.T) {
	d, err := labtest.NewDockerd()
	if err != nil {
		t.Fatal(err)
	}
	ns, dir := d.NetNS, d.Dir
	if out, err := exec.Command("ip", "netns", "exec", ns, "ip", "link", "show", "docker0").CombinedOutput(); err != nil {
		t.Errorf("no docker0 bridge inside %s: %v %s", ns, err, out)
	}
	if exec.Command("ip", "link", "show", "docker0").Run() == nil {
		t.Error("a docker0 bridge exists on the host network")
	}
	if got := d.Docker(t, "info", "--format", "{{.DockerRootDir}}"); !strings.HasPrefix(got, dir) {
		t.Errorf("data root %s is not under %s", got, dir)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), ns+" ") || strings.Contains(string(out), ns+"\n") {
		t.Errorf("namespace %s still exists", ns)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists: %v", dir, err)
	}
}

func TestSharedDaemon(t *testing.T) {
	d := labtest.Shared(t)
	if d2 := labtest.Shared(t); d2 != d {
		t.Fatal("Shared returned two daemons")
	}
	d.BusyboxImage(t, "local/busybox:latest")
	id := d.Run(t, "--name", "lt-echo", "--init", "local/busybox", "sh", "-c", "echo hello; echo oops >&2; sleep 600")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.Docker(t, "logs", id), "hello") {
		if time.Now().After(deadline) {
			t.Fatal("container wrote nothing")
		}
		time.Sleep(50 * time.Millisecond)
	}

	t.Run("restart", func(t *testing.T) {
		if err := d.StopDaemon(); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Client().Ping(context.Background()); err == nil {
			t.Fatal("daemon still answers after StopDaemon")
		}
		if err := d.StartDaemon(); err != nil {
			t.Fatal(err)
		}
		// The data root survives: the container is still known.
		if got := d.Docker(t, "inspect", "--format", "{{.Name}}", id); got != "/lt-echo" {
			t.Errorf("after restart: %q", got)
		}
	})

	t.Run("registry", func(t *testing.T) {
		r := d.StartRegistry(t)
		if r2 := d.StartRegistry(t); r2 != r {
			t.Fatal("StartRegistry started a second registry")
		}
		d.Image(t, labtest.ImageSpec{Name: "local/marker:v1", Busybox: true, Files: map[string]string{"/etc/marker": "v1"}})
		ref := r.Push(t, "local/marker:v1", "marker:v1")
		d.RemoveImage(t, "local/marker:v1")
		d.RemoveImage(t, ref)
		ctx := context.Background()
		rc, err := d.Client().ImagePull(ctx, ref, image.PullOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b := new(strings.Builder)
		buf := make([]byte, 4096)
		for {
			n, err := rc.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		rc.Close()
		if !strings.Contains(b.String(), "Pull complete") {
			t.Errorf("pull did not download a layer: %s", b)
		}
		if got := d.Docker(t, "run", "--rm", ref, "cat", "/etc/marker"); got != "v1" {
			t.Errorf("pulled image has marker %q", got)
		}
	})
}

// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tailops/tailops/toolstest"
)

// TestSelfFromMountinfo: the container's own hostname, hosts and
// resolv.conf mounts name its id, under Docker's and Podman's layouts; a
// mount of other containers' directories elsewhere, or a process outside
// any container, names none.
func TestSelfFromMountinfo(t *testing.T) {
	const id = "3f4e5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081"
	const other = "0000000000000000000000000000000000000000000000000000000000000001"
	tests := []struct {
		name, mountinfo, want string
	}{
		{"docker", "613 612 0:47 / / rw - overlay overlay rw\n" +
			"620 613 254:1 /var/lib/docker/containers/" + id + "/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/vda1 rw\n" +
			"621 613 254:1 /var/lib/docker/containers/" + id + "/hostname /etc/hostname rw,relatime - ext4 /dev/vda1 rw\n", id},
		{"docker data root on its own file system", "621 613 254:1 /containers/" + id + "/hosts /etc/hosts rw - ext4 /dev/vdb rw\n", id},
		{"podman", "700 699 0:50 /var/lib/containers/storage/overlay-containers/" + id + "/userdata/hostname /etc/hostname rw - xfs /dev/sda2 rw\n", id},
		{"other containers mounted for their logs", "630 613 254:1 /var/lib/docker/containers/" + other + " /host/containers/x rw - ext4 /dev/vda1 rw\n", ""},
		{"not in a container", "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n", ""},
		{"not an id", "621 613 254:1 /var/lib/docker/containers/" + strings.ToUpper(id) + "/hostname /etc/hostname rw - ext4 /dev/vda1 rw\n", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := selfFromMountinfo(tt.mountinfo); got != tt.want {
				t.Errorf("selfFromMountinfo = %q, want %q", got, tt.want)
			}
		})
	}
}

var hexID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// FuzzSelfFromMountinfo: any table gives no id or a 64-hex-digit one
// that the table holds.
func FuzzSelfFromMountinfo(f *testing.F) {
	f.Add("621 613 254:1 /var/lib/docker/containers/3f4e5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081/hostname /etc/hostname rw - ext4 /dev/vda1 rw\n")
	f.Add("22 1 254:1 / / rw - ext4 /dev/vda1 rw\n")
	f.Fuzz(func(t *testing.T, mountinfo string) {
		got := selfFromMountinfo(mountinfo)
		if got != "" && (!hexID.MatchString(got) || !strings.Contains(mountinfo, got)) {
			t.Errorf("selfFromMountinfo = %q", got)
		}
	})
}

// TestOwnContainerIsLeftAlone: the tools that change a container, or run
// a program in one, refuse the container the server runs in (Config.Self)
// and say why, and it keeps running; reads of it work, and another
// container can still be acted on.
func TestOwnContainerIsLeftAlone(t *testing.T) {
	k := newDockerLab(t)
	self := k.d.Run(t, "--name", "tailops-self", busyboxRef, "sleep", "3600")
	k.d.Run(t, "--name", "tailops-self-other", busyboxRef, "sleep", "3600")
	k.e.cfg.Self = k.inspect(t, self).ID
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"stop_container", map[string]any{"container": "tailops-self"}},
		{"restart_container", map[string]any{"container": "tailops-self"}},
		{"remove_container", map[string]any{"container": "tailops-self", "force": true}},
		{"exec_in_container", map[string]any{"container": "tailops-self", "argv": []any{"cat", "/etc/hostname"}}},
		{"update_container", map[string]any{"container": "tailops-self"}},
	} {
		if msg := toolstest.Err(t, k.h, c.tool, c.args); !strings.Contains(msg, "is the one this TailOps server runs in") {
			t.Errorf("%s of the server's own container: %s", c.tool, msg)
		}
	}
	if !k.inspect(t, self).State.Running {
		t.Error("the server's own container stopped")
	}
	toolstest.OK[ContainerDetails](t, k.h, "inspect_container", map[string]any{"container": "tailops-self"})
	toolstest.OK[ContainerAction](t, k.h, "restart_container", map[string]any{"container": "tailops-self-other"})
}

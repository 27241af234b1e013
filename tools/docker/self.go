// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/docker/docker/api/types/container"
)

// SelfContainer returns the id of the container this process runs in, as
// its mount table shows it: Docker and Podman bind the container's
// hostname, hosts and resolv.conf files from a directory named after the
// container's id. It returns "" outside a container, or when the table
// cannot be read. Read it before the sandbox applies.
func SelfContainer() string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	return selfFromMountinfo(string(b))
}

// containerDir is where an engine keeps a container's own files: Docker's
// /var/lib/docker/containers/ID/ and Podman's overlay-containers/ID/.
var containerDir = regexp.MustCompile(`/(?:containers|overlay-containers)/([0-9a-f]{64})/`)

// selfFromMountinfo returns the container id the mounts of a mountinfo
// table (proc(5)) name for this container's own files, or "".
func selfFromMountinfo(mountinfo string) string {
	for line := range strings.Lines(mountinfo) {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		// The root of the mount within its file system, and where it is
		// mounted: /etc/hostname from .../containers/ID/hostname.
		root, point := fields[3], fields[4]
		if point != "/etc/hostname" && point != "/etc/hosts" && point != "/etc/resolv.conf" {
			continue
		}
		if m := containerDir.FindStringSubmatch(root); m != nil {
			return m[1]
		}
	}
	return ""
}

// changeable refuses a change to c, or a program run in it, when c is the
// container this server runs in (Config.Self): stopping, removing or
// updating it cuts the server (and its tailnet node) off, and a program
// run in it runs outside the server's sandbox.
func (e *engine) changeable(c container.InspectResponse) error {
	if e.cfg.Self == "" || c.ID != e.cfg.Self {
		return nil
	}
	return fmt.Errorf("container %q is the one this TailOps server runs in: stopping, removing or changing it, or running a program in it, "+
		"from here would cut the server off or run outside its sandbox; do it on the host", strings.TrimPrefix(c.Name, "/"))
}

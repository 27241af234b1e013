// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tailops/tailops/toolstest"
)

// writeStack writes root/name/compose.yaml (and .env when env is not
// empty) and returns the stack's directory.
func writeStack(t testing.TB, root, name, compose, env string) string {
	t.Helper()
	dir := filepath.Join(root, name)
	toolstest.WriteFile(t, filepath.Join(dir, "compose.yaml"), compose)
	if env != "" {
		toolstest.WriteFile(t, filepath.Join(dir, ".env"), env)
	}
	return dir
}

// TestPolicyRefusals: every key the policy refuses by default is refused
// before anything is created, the error naming the service and the key,
// and the owner's per-stack override (never the caller) allows it.
func TestPolicyRefusals(t *testing.T) {
	t.Parallel()
	root, media := t.TempDir(), t.TempDir()
	sockDir := t.TempDir()
	sock := filepath.Join(sockDir, "docker.sock")
	hostEnv := filepath.Join(media, "host.env")
	if err := os.WriteFile(hostEnv, []byte("HOSTSECRET=topsecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, service, key string
		allow              Policy
	}{
		{"privileged: true", "app", "privileged", Policy{Privileged: true}},
		{"volumes: [/var/run/docker.sock:/var/run/docker.sock]", "app", "volumes", Policy{DockerSocket: true, BindRoots: []string{"/var/run"}}},
		{"volumes: [/run:/host-run]", "app", "volumes", Policy{DockerSocket: true, BindRoots: []string{"/run"}}},
		{"volumes: [" + sock + ":/s]", "app", "volumes", Policy{DockerSocket: true, BindRoots: []string{sockDir}}},
		{"use_api_socket: true", "app", "use_api_socket", Policy{DockerSocket: true}},
		{"pid: host", "app", "pid", Policy{PIDHost: true}},
		{"network_mode: host", "app", "network_mode", Policy{NetworkHost: true}},
		{"ipc: host", "app", "ipc", Policy{HostNamespaces: true}},
		{"userns_mode: host", "app", "userns_mode", Policy{HostNamespaces: true}},
		{"cap_add: [NET_ADMIN]", "app", "cap_add", Policy{CapAdd: []string{"NET_ADMIN"}}},
		{"cap_add: [ALL]", "app", "cap_add", Policy{CapAdd: []string{"ALL"}}},
		{"cap_add: [CAP_SYS_ADMIN]", "app", "cap_add", Policy{CapAdd: []string{"SYS_ADMIN"}}},
		{"devices: [/dev/fuse:/dev/fuse]", "app", "devices", Policy{Devices: true}},
		{"security_opt: [seccomp:unconfined]", "app", "security_opt", Policy{Unconfined: true}},
		{"security_opt: [apparmor=unconfined]", "app", "security_opt", Policy{Unconfined: true}},
		{"volumes: [/etc:/host-etc:ro]", "app", "volumes", Policy{BindRoots: []string{"/etc"}}},
		{"volumes: [../outside:/data]", "app", "volumes", Policy{BindRoots: []string{root}}},
		{"build: .", "app", "build", Policy{}},
		{"provider: {type: model}", "app", "provider", Policy{}},
		// Found in review: each of these got past the policy.
		{"post_start: [{command: [id], privileged: true}]", "app post_start[0]", "privileged", Policy{Privileged: true}},
		{"pre_stop: [{command: [id], privileged: true}]", "app pre_stop[0]", "privileged", Policy{Privileged: true}},
		{"volumes_from: [\"container:portainer\"]", "app", "volumes_from", Policy{DockerSocket: true}},
		{"pid: \"container:other\"", "app", "pid", Policy{PIDHost: true}},
		{"network_mode: \"container:other\"", "app", "network_mode", Policy{NetworkHost: true}},
		{"ipc: \"container:other\"", "app", "ipc", Policy{HostNamespaces: true}},
		{"security_opt: [seccomp=./allow.json]", "app", "security_opt", Policy{Unconfined: true}},
		{"env_file: [" + hostEnv + "]", "app", "env_file", Policy{}},
		{"env_file: [/proc/self/environ]", "app", "env_file", Policy{}},
		{"env_file: [../../../../../../../../proc/self/environ]", "app", "env_file", Policy{}},
		{"label_file: [" + hostEnv + "]", "app", "label_file", Policy{}},
		{"label_file: [/proc/self/environ]", "app", "label_file", Policy{}},
		// SELinux: a type, user or role of the stack's choosing
		// unconfines as label:disable does.
		{"security_opt: [\"label:type:spc_t\"]", "app", "security_opt", Policy{Unconfined: true}},
		{"security_opt: [\"label=type:unconfined_t\"]", "app", "security_opt", Policy{Unconfined: true}},
		{"security_opt: [\"label=user:system_u\"]", "app", "security_opt", Policy{Unconfined: true}},
		{"security_opt: [\"label:role:system_r\"]", "app", "security_opt", Policy{Unconfined: true}},
		{"security_opt: [\"label:disable\"]", "app", "security_opt", Policy{Unconfined: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "p" + strings.NewReplacer(" ", "", ":", "", "[", "", "]", "", "/", "", ".", "", "{", "", "}", "", ",", "", "_", "", "=", "", "\"", "", "-", "").Replace(strings.ToLower(tc.name))
			name = name[:min(len(name), 40)]
			writeStack(t, root, name, "services:\n  app:\n    image: local/busybox:latest\n    "+tc.name+"\n", "")
			ts, err := New(Config{StackRoots: []string{root}, BindRoots: []string{media}, Host: "unix://" + sock})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = ts.prepare(context.Background(), name, nil)
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Service != "service "+tc.service || pe.Key != tc.key {
				t.Fatalf("got %v, want a refusal of service %s's %s", err, tc.service, tc.key)
			}
			if !strings.Contains(err.Error(), "service "+tc.service) || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("the error does not name the service and the key: %v", err)
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("the error shows a host file's content: %v", err)
			}
			if tc.key == "build" || tc.key == "provider" || tc.key == "env_file" || tc.key == "label_file" {
				return // never allowed
			}
			ts, err = New(Config{StackRoots: []string{root}, BindRoots: []string{media}, Host: "unix://" + sock, Policies: map[string]Policy{name: tc.allow}})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := ts.prepare(context.Background(), name, nil); err != nil {
				t.Errorf("with the owner's override %+v: %v", tc.allow, err)
			}
		})
	}
}

// TestPolicyRefusesHostFilesAndNetwork: what a stack reads besides its
// binds (included compose files, env files, an include's env file) must
// come from its own directory, symbolic links followed; and the host's
// network joined by name needs network_host, as network_mode: host does.
func TestPolicyRefusesHostFilesAndNetwork(t *testing.T) {
	t.Parallel()
	root, outside := t.TempDir(), t.TempDir()
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(outside, "host.env"), "HOSTSECRET=topsecret\n")
	write(filepath.Join(outside, "inc.yaml"), "services:\n  inc:\n    image: local/busybox:latest\n")
	const svc = "services:\n  app:\n    image: local/busybox:latest\n"
	for _, tc := range []struct {
		name, compose, service, key string
		setup                       func(dir string)
		allow                       *Policy // nil: never allowed
	}{
		{"host network by name", svc + "networks:\n  default:\n    name: host\n    external: true\n", "network default", "name", nil, &Policy{NetworkHost: true}},
		{"include from outside", "include:\n  - " + filepath.Join(outside, "inc.yaml") + "\n" + svc, "project", "include", nil, nil},
		{"include's env_file from outside", "include:\n  - path: inc.yaml\n    env_file: " + filepath.Join(outside, "host.env") + "\n" + svc, "project", "include",
			func(dir string) {
				write(filepath.Join(dir, "inc.yaml"), "services:\n  inc:\n    image: local/busybox:${HOSTSECRET}\n")
			}, nil},
		{"env_file through a symlink", svc + "    env_file: [linked.env]\n", "service app", "env_file",
			func(dir string) { os.Symlink(filepath.Join(outside, "host.env"), filepath.Join(dir, "linked.env")) }, nil},
		// Found in review: an extended file in the directory that extends
		// one outside it.
		{"extends through a file that extends outside", "services:\n  app:\n    extends:\n      file: base.yaml\n      service: inc\n", "service inc", "extends",
			func(dir string) {
				write(filepath.Join(dir, "base.yaml"), "services:\n  inc:\n    extends:\n      file: "+filepath.Join(outside, "inc.yaml")+"\n      service: inc\n")
			}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(strings.ReplaceAll(tc.name, " ", ""), "'", "")
			dir := writeStack(t, root, name, tc.compose, "")
			if tc.setup != nil {
				tc.setup(dir)
			}
			ts, err := New(Config{StackRoots: []string{root}})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = ts.prepare(context.Background(), name, nil)
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Service != tc.service || pe.Key != tc.key || strings.Contains(err.Error(), "topsecret") {
				t.Fatalf("got %v, want a refusal of %s's %s", err, tc.service, tc.key)
			}
			if tc.allow == nil {
				return
			}
			ts, err = New(Config{StackRoots: []string{root}, Policies: map[string]Policy{name: *tc.allow}})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := ts.prepare(context.Background(), name, nil); err != nil {
				t.Errorf("with the owner's override %+v: %v", *tc.allow, err)
			}
		})
	}
}

// TestPolicyAllowsDockgeGlobalEnv: Dockge keeps global.env beside the
// stacks, in the stack root, and stacks name it as ../global.env: that one
// file outside the stack's directory may be an env file; a sibling
// stack's .env may not.
func TestPolicyAllowsDockgeGlobalEnv(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "global.env"), []byte("TZ=Europe/Berlin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeStack(t, root, "other", "services:\n  x:\n    image: local/busybox:latest\n", "DB_PASSWORD=secret\n")
	writeStack(t, root, "web", "services:\n  app:\n    image: local/busybox:latest\n    env_file: [../global.env]\n", "")
	writeStack(t, root, "nosy", "services:\n  app:\n    image: local/busybox:latest\n    env_file: [../other/.env]\n", "")
	ts, err := New(Config{StackRoots: []string{root}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ts.prepare(context.Background(), "web", nil); err != nil {
		t.Errorf("../global.env: %v", err)
	}
	var pe *PolicyError
	if _, _, err := ts.prepare(context.Background(), "nosy", nil); !errors.As(err, &pe) || pe.Key != "env_file" {
		t.Errorf("../other/.env: %v, want refused", err)
	}
	// A global.env that is a link to a file elsewhere is not Dockge's.
	root2 := t.TempDir()
	if err := os.Symlink(filepath.Join(root, "other", ".env"), filepath.Join(root2, "global.env")); err != nil {
		t.Fatal(err)
	}
	writeStack(t, root2, "linked", "services:\n  app:\n    image: local/busybox:latest\n    env_file: [../global.env]\n", "")
	ts2, err := New(Config{StackRoots: []string{root2}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ts2.prepare(context.Background(), "linked", nil); !errors.As(err, &pe) || pe.Key != "env_file" {
		t.Errorf("a global.env linking elsewhere: %v, want refused", err)
	}
}

// TestPolicyAllowsSafeStacks: what the defaults allow: binds from the
// stack's directory and the bind roots, Docker's default capabilities,
// named volumes (the stack's own, a tmpfs, a bind from its directory),
// the stack's own networks (a bridge's harmless driver_opts, a name
// <stack>_…, network_mode none, an ipam leaving the subnet to Docker's
// pools, link_local_ips), ports.
func TestPolicyAllowsSafeStacks(t *testing.T) {
	t.Parallel()
	root, media := t.TempDir(), t.TempDir()
	writeStack(t, root, "safe", `services:
  app:
    image: local/busybox:latest
    cap_add: [CHOWN, NET_BIND_SERVICE]
    ports: ["8080:80"]
    volumes: ["./data:/data", "`+media+`/films:/films:ro", "named:/var/lib/app", "cache:/cache", "scratch:/tmp", "bound:/bound"]
  back:
    image: local/busybox:latest
    networks: [default, internal, front]
  quiet:
    image: local/busybox:latest
    network_mode: none
  linked:
    image: local/busybox:latest
    networks:
      internal:
        link_local_ips: [169.254.8.8]
volumes:
  named: {}
  cache:
    name: safe_cache
  scratch:
    driver_opts: {type: tmpfs, device: tmpfs, o: "size=64m,uid=1000"}
  bound:
    driver: local
    driver_opts: {type: none, o: bind, device: ./data}
networks:
  internal:
    driver: bridge
    internal: true
    driver_opts: {com.docker.network.driver.mtu: "1400", com.docker.network.bridge.enable_icc: "true"}
    ipam: {}
  front:
    name: safe_front
    ipam:
      driver: default
`, "")
	ts, err := New(Config{StackRoots: []string{root}, BindRoots: []string{media}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ts.prepare(context.Background(), "safe", nil); err != nil {
		t.Fatal(err)
	}
}

// TestPolicyTopLevel: a local volume binding a host directory, and
// secrets and configs from files, are bind mounts too; a local volume
// mounting anything but a tmpfs or a bind (overlay's lowerdir, nfs) is
// refused; another stack's volume, external or named, needs the owner's
// external_volumes; a hook's volume the project does not declare (which
// compose would take as the engine's volume of that name) is refused.
// Another stack's network (external, named other than <stack>_…, or
// joined by network_mode) needs the owner's external_networks, a driver
// other than bridge (macvlan, ipvlan: the LAN) network_drivers, a
// bridge on a host bridge network_host, and a bridge network's ipam
// choosing its addresses (a subnet, range, gateway or aux address, or an
// IPAM plugin) network_ipam.
func TestPolicyTopLevel(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	const volume = "    volumes: [v:/v]\n"
	const network = "    networks: [n]\n"
	for _, tc := range []struct {
		name, uses, compose, service, key string
		allow                             *Policy // nil: never allowed
	}{
		{"volume", volume, "volumes:\n  v:\n    driver_opts: {type: none, o: bind, device: /etc}\n", "volume v", "driver_opts", nil},
		{"secret", "    secrets: [s]\n", "secrets:\n  s:\n    file: /etc/shadow\n", "secret s", "file", nil},
		{"config", "    configs: [c]\n", "configs:\n  c:\n    file: /etc/passwd\n", "config c", "file", nil},
		// The device is the stack's own directory: the host's
		// directories are in o.
		{"overlay", volume, "volumes:\n  v:\n    driver_opts: {type: overlay, o: \"lowerdir=/etc:/root\", device: " + filepath.Join(root, "overlay") + "}\n", "volume v", "driver_opts", nil},
		{"nfs", volume, "volumes:\n  v:\n    driver_opts: {type: nfs, o: \"addr=192.0.2.1,rw\", device: \":/export\"}\n", "volume v", "driver_opts", nil},
		{"tmpfs-bind", volume, "volumes:\n  v:\n    driver_opts: {type: tmpfs, o: bind, device: /etc}\n", "volume v", "driver_opts", nil},
		{"external", volume, "volumes:\n  v:\n    external: true\n    name: vaultwarden_data\n", "volume v", "external", &Policy{ExternalVolumes: []string{"vaultwarden_data"}}},
		{"named", volume, "volumes:\n  v:\n    name: vaultwarden_data\n", "volume v", "name", &Policy{ExternalVolumes: []string{"vaultwarden_data"}}},
		{"plugin", volume, "volumes:\n  v:\n    driver: local-persist\n    driver_opts: {mountpoint: /etc}\n", "volume v", "driver", &Policy{VolumeDrivers: []string{"local-persist"}}},
		{"hook-volume", "    pre_start:\n      - image: local/busybox:latest\n        command: [id]\n        volumes: [vaultwarden_data:/loot]\n", "", "service app pre_start[0]", "volumes", nil},
		// Networks: another stack's private network, external, named or
		// joined by network_mode, needs external_networks; a driver
		// putting containers on the LAN needs network_drivers; a
		// bridge on a host bridge needs network_host.
		{"net-external", network, "networks:\n  n:\n    external: true\n    name: vaultwarden_default\n", "network n", "external", &Policy{ExternalNetworks: []string{"vaultwarden_default"}}},
		{"net-proxy", "    networks: [proxy]\n", "networks:\n  proxy:\n    external: true\n", "network proxy", "external", &Policy{ExternalNetworks: []string{"proxy"}}},
		{"net-named", network, "networks:\n  n:\n    name: vaultwarden_default\n", "network n", "name", &Policy{ExternalNetworks: []string{"vaultwarden_default"}}},
		{"net-default-named", "", "networks:\n  default:\n    name: vaultwarden_default\n", "network default", "name", &Policy{ExternalNetworks: []string{"vaultwarden_default"}}},
		{"net-macvlan", network, "networks:\n  n:\n    driver: macvlan\n    driver_opts: {parent: eth0}\n", "network n", "driver", &Policy{NetworkDrivers: []string{"macvlan"}}},
		{"net-ipvlan", network, "networks:\n  n:\n    driver: ipvlan\n    driver_opts: {parent: eth0, ipvlan_mode: l2}\n", "network n", "driver", &Policy{NetworkDrivers: []string{"ipvlan"}}},
		{"net-overlay", network, "networks:\n  n:\n    driver: overlay\n", "network n", "driver", &Policy{NetworkDrivers: []string{"overlay"}}},
		{"net-host-bridge", network, "networks:\n  n:\n    driver_opts: {com.docker.network.bridge.name: br0}\n", "network n", "driver_opts", &Policy{NetworkHost: true}},
		{"net-host-bridge-named-driver", network, "networks:\n  n:\n    driver: bridge\n    driver_opts: {com.docker.network.bridge.name: br0}\n", "network n", "driver_opts", &Policy{NetworkHost: true}},
		{"net-default-bridge", network, "networks:\n  n:\n    driver_opts: {com.docker.network.bridge.default_bridge: \"true\"}\n", "network n", "driver_opts", &Policy{NetworkHost: true}},
		{"net-mode", "    network_mode: vaultwarden_default\n", "", "service app", "network_mode", &Policy{ExternalNetworks: []string{"vaultwarden_default"}}},
		{"net-mode-bridge", "    network_mode: bridge\n", "", "service app", "network_mode", &Policy{ExternalNetworks: []string{"bridge"}}},
		{"net-hook-mode", "    pre_start:\n      - image: local/busybox:latest\n        command: [id]\n        network_mode: vaultwarden_default\n", "", "service app pre_start[0]", "network_mode", &Policy{ExternalNetworks: []string{"vaultwarden_default"}}},
		// A bridge network's own subnet, range, gateway or reserved
		// addresses become the host's routes and addresses (the
		// tailnet's, the LAN's, the DNS server's), as does what an IPAM
		// plugin picks: network_ipam.
		{"ipam-tailnet", network, "networks:\n  n:\n    ipam:\n      config:\n        - subnet: 100.64.0.0/10\n", "network n", "ipam.config", &Policy{NetworkIPAM: true}},
		{"ipam-lan", "", "networks:\n  default:\n    ipam:\n      config:\n        - subnet: 192.168.1.0/24\n          gateway: 192.168.1.1\n", "network default", "ipam.config", &Policy{NetworkIPAM: true}},
		{"ipam-second-pool", network, "networks:\n  n:\n    enable_ipv6: true\n    ipam:\n      config:\n        - {}\n        - subnet: fd00:1::/64\n", "network n", "ipam.config", &Policy{NetworkIPAM: true}},
		{"ipam-range", network, "networks:\n  n:\n    ipam:\n      config:\n        - ip_range: 10.255.255.52/30\n", "network n", "ipam.config", &Policy{NetworkIPAM: true}},
		{"ipam-gateway", network, "networks:\n  n:\n    ipam:\n      config:\n        - gateway: 10.255.255.53\n", "network n", "ipam.config", &Policy{NetworkIPAM: true}},
		{"ipam-aux", network, "networks:\n  n:\n    ipam:\n      config:\n        - aux_addresses: {dns: 10.255.255.53}\n", "network n", "ipam.config", &Policy{NetworkIPAM: true}},
		{"ipam-driver", network, "networks:\n  n:\n    ipam:\n      driver: infoblox\n", "network n", "ipam.driver", &Policy{NetworkIPAM: true}},
		{"ipam-host-bridge", network, "networks:\n  n:\n    driver_opts: {com.docker.network.bridge.name: br0}\n    ipam:\n      config:\n        - subnet: 192.168.1.0/24\n", "network n", "driver_opts", &Policy{NetworkHost: true, NetworkIPAM: true}},
		// A macvlan's subnet is the LAN's, given to its containers, not
		// the host: network_drivers alone allows it.
		{"ipam-macvlan", network, "networks:\n  n:\n    driver: macvlan\n    driver_opts: {parent: eth0}\n    ipam:\n      config:\n        - subnet: 192.168.1.0/24\n          gateway: 192.168.1.1\n", "network n", "driver", &Policy{NetworkDrivers: []string{"macvlan"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeStack(t, root, tc.name, "services:\n  app:\n    image: local/busybox:latest\n"+tc.uses+tc.compose, "")
			ts, _ := New(Config{StackRoots: []string{root}})
			_, _, err := ts.prepare(context.Background(), tc.name, nil)
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Service != tc.service || pe.Key != tc.key {
				t.Fatalf("got %v, want a refusal of %s's %s", err, tc.service, tc.key)
			}
			if tc.allow == nil {
				return
			}
			ts, _ = New(Config{StackRoots: []string{root}, Policies: map[string]Policy{tc.name: *tc.allow}})
			if _, _, err := ts.prepare(context.Background(), tc.name, nil); err != nil {
				t.Errorf("with the owner's override %+v: %v", *tc.allow, err)
			}
		})
	}
}

// TestHostFilesNeverShown: an env or label file outside the stack's
// directory is refused before the loader reads it, so get_stack_compose
// shows no configuration holding its content, not even a refused one.
func TestHostFilesNeverShown(t *testing.T) {
	t.Parallel()
	root, outside := t.TempDir(), t.TempDir()
	other := filepath.Join(outside, "other.env")
	toolstest.WriteFile(t, other, "DB_HOST=victim-literal\n")
	for _, key := range []string{"env_file", "label_file"} {
		name := strings.ReplaceAll(key, "_", "")
		writeStack(t, root, name, "services:\n  app:\n    image: local/busybox:latest\n    "+key+": ["+other+"]\n", "")
		ts, _ := New(Config{StackRoots: []string{root}})
		out, err := ts.stackCompose(context.Background(), NameArg{Name: name})
		var pe *PolicyError
		if !errors.As(err, &pe) || pe.Key != key || strings.Contains(out.Config+err.Error(), "victim-literal") {
			t.Errorf("%s: got %v, want a refusal of %s; configuration:\n%s", key, err, key, out.Config)
		}
	}
}

// TestRemoteIncludeRefused: include and extends from git or a registry
// are refused before anything is fetched.
func TestRemoteIncludeRefused(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for i, inc := range []string{
		"include: [\"https://github.com/example/stack.git\"]",
		"include:\n  - path: git@github.com:example/stack.git",
		"include:\n  - path: [\"oci://registry.example/stack:1\"]",
	} {
		name := "inc" + string(rune('a'+i))
		writeStack(t, root, name, inc+"\nservices:\n  app:\n    image: local/busybox:latest\n", "")
		ts, _ := New(Config{StackRoots: []string{root}})
		_, _, err := ts.prepare(context.Background(), name, nil)
		var pe *PolicyError
		if !errors.As(err, &pe) || pe.Key != "include" {
			t.Errorf("%s: got %v, want a refused include", inc, err)
		}
	}
}

// TestStackNames: names that could leave a stack root or read as an
// option are refused before any file is touched.
func TestStackNames(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeStack(t, root, "ok-stack_1", "services:\n  app:\n    image: local/busybox:latest\n", "")
	ts, _ := New(Config{StackRoots: []string{root}})
	for _, name := range []string{"../etc", "..", "a/b", "-rf", "--help", "Upper", ".hidden", "", "a b", strings.Repeat("a", 64), "a\x00"} {
		if _, _, err := ts.prepare(context.Background(), name, nil); err == nil || !strings.Contains(err.Error(), "compose project name") {
			t.Errorf("%q: got %v, want a refused name", name, err)
		}
	}
	if _, _, err := ts.prepare(context.Background(), "ok-stack_1", nil); err != nil {
		t.Errorf("a valid name: %v", err)
	}
}

// TestInterpolationSeesOnlyStackEnv: ${VAR} and a service's bare
// environment entries see the stack's .env and the call's env (which wins),
// never this process's environment.
func TestInterpolationSeesOnlyStackEnv(t *testing.T) {
	t.Setenv("TAILOPS_PROBE_SECRET", "leaked-from-process")
	root := t.TempDir()
	writeStack(t, root, "env", `services:
  app:
    image: local/busybox:${TAG:-latest}
    environment:
      - FROM_PROCESS=${TAILOPS_PROBE_SECRET:-absent}
      - TAILOPS_PROBE_SECRET
      - FROM_DOTENV=${DOTENV_VAR}
      - OVERRIDDEN=${BOTH}
`, "DOTENV_VAR=from-dotenv\nBOTH=dotenv\nTAG=1.0\n")
	ts, _ := New(Config{StackRoots: []string{root}})
	_, p, err := ts.prepare(context.Background(), "env", map[string]string{"BOTH": "call"})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Services["app"]
	got := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			got[k] = *v
		} else {
			got[k] = "<unset>"
		}
	}
	want := map[string]string{"FROM_PROCESS": "absent", "TAILOPS_PROBE_SECRET": "<unset>", "FROM_DOTENV": "from-dotenv", "OVERRIDDEN": "call"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if s.Image != "local/busybox:1.0" {
		t.Errorf("image %q: .env's TAG was not used", s.Image)
	}
	for _, bad := range []string{"1BAD", "A-B", "A=B", ""} {
		if _, _, err := ts.prepare(context.Background(), "env", map[string]string{bad: "x"}); err == nil {
			t.Errorf("env name %q accepted", bad)
		}
	}
}

// FuzzLoadAndCheck: any compose file either loads and gets a verdict or
// is refused with an error; nothing panics.
func FuzzLoadAndCheck(f *testing.F) {
	for _, seed := range []string{
		"services:\n  app:\n    image: x\n",
		"services:\n  app:\n    image: x\n    privileged: true\n",
		"include: [a.yaml]\nservices: {}\n",
		"services:\n  a:\n    image: x\n    volumes: [/:/h]\n    cap_add: [ALL]\n",
		"volumes:\n  v:\n    driver_opts: {device: /}\n",
		"x-a: &a {image: x}\nservices:\n  s: *a\n",
		"services:\n  a:\n    image: ${X:?need}\n",
	} {
		f.Add(seed)
	}
	root := f.TempDir()
	ts, _ := New(Config{StackRoots: []string{root}})
	f.Fuzz(func(t *testing.T, compose string) {
		dir := filepath.Join(root, "fuzz")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
			t.Fatal(err)
		}
		_, p, err := ts.prepare(context.Background(), "fuzz", nil)
		if err == nil && p == nil {
			t.Fatal("no project and no error")
		}
	})
}

// TestLineDiff: the lines removed and added, in order.
func TestLineDiff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ a, b, want string }{
		{"a\nb\nc", "a\nb\nc", ""},
		{"a\nb\nc", "a\nB\nc", "- b\n+ B"},
		{"a\nc", "a\nb\nc", "+ b"},
		{"a\nb\nc", "c", "- a\n- b"},
	} {
		if got := lineDiff(tc.a, tc.b); got != tc.want {
			t.Errorf("lineDiff(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

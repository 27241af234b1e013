// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// Policy is what one stack may do beyond the safe defaults. Its zero
// value allows nothing beyond them. Only the owner sets it, in the
// config file's "stacks" key; no call can.
type Policy struct {
	// Privileged allows privileged: true.
	Privileged bool `json:"privileged,omitempty"`
	// DockerSocket allows mounting the engine's socket (use_api_socket
	// included): control of the engine, root on the host.
	DockerSocket bool `json:"docker_socket,omitempty"`
	// PIDHost allows pid: host.
	PIDHost bool `json:"pid_host,omitempty"`
	// NetworkHost allows network_mode: host, the network named host,
	// and a bridge network on a bridge of the host's (driver_opts
	// com.docker.network.bridge.name or default_bridge).
	NetworkHost bool `json:"network_host,omitempty"`
	// HostNamespaces allows ipc, uts, userns_mode and cgroup set to host.
	HostNamespaces bool `json:"host_namespaces,omitempty"`
	// Unconfined allows security_opt turning confinement off
	// (seccomp/apparmor unconfined, any SELinux label option,
	// systempaths).
	Unconfined bool `json:"unconfined,omitempty"`
	// Devices allows devices, device_cgroup_rules and gpus.
	Devices bool `json:"devices,omitempty"`
	// CapAdd are capabilities cap_add may name beyond DefaultCaps, such
	// as NET_ADMIN; "ALL" allows all.
	CapAdd []string `json:"cap_add,omitempty"`
	// BindRoots are host directories bind mounts may come from, beyond
	// the stack's own directory and the server's stack_bind_roots.
	BindRoots []string `json:"bind_roots,omitempty"`
	// ExternalVolumes are the names of volumes from outside the stack
	// that it may mount: external ones, and ones named (name:) other
	// than <stack>_…, which may be another stack's data.
	ExternalVolumes []string `json:"external_volumes,omitempty"`
	// VolumeDrivers are the volume plugins besides the local driver the
	// stack's volumes may use: a plugin mounts what its options say (a
	// host path, a remote share), which the policy cannot check.
	VolumeDrivers []string `json:"volume_drivers,omitempty"`
	// ExternalNetworks are the names of networks from outside the stack
	// that it may join: external ones, ones named (name:) other than
	// <stack>_…, and ones network_mode names, which may be another
	// stack's private network (its database's only guard).
	ExternalNetworks []string `json:"external_networks,omitempty"`
	// NetworkDrivers are the network drivers besides bridge the stack's
	// networks may use: macvlan and ipvlan put its containers on a host
	// interface's LAN, overlay and plugins where their options say.
	NetworkDrivers []string `json:"network_drivers,omitempty"`
	// NetworkIPAM allows a bridge network's ipam to choose its addresses:
	// config with a subnet, ip_range, gateway or aux_addresses, and a
	// driver other than default (a plugin). The engine gives the host
	// such a subnet's route and gateway address even where they overlap
	// the host's own (the LAN, the tailnet's 100.64.0.0/10, its DNS
	// server), sending the host's traffic for them to the stack.
	NetworkIPAM bool `json:"network_ipam,omitempty"`
}

// DefaultCaps are the capabilities any stack's cap_add may name: those
// Docker grants every container unless dropped, so adding one back
// grants nothing a default container lacks.
var DefaultCaps = []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}

// engineSockets are the paths of the engine sockets a bind mount must not
// reach (besides the configured one).
var engineSockets = []string{"/var/run/docker.sock", "/run/docker.sock", "/run/podman/podman.sock", "/var/run/podman/podman.sock"}

// PolicyError is a stack the policy refuses: which service (or top-level
// element) and which key, and why.
type PolicyError struct {
	Service string // "service web", "volume data", …
	Key     string // the compose key: privileged, volumes, …
	Reason  string
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Service, e.Key, e.Reason)
}

// checker checks a loaded project against a stack's policy.
type checker struct {
	policy Policy
	// binds are the directories bind mounts may come from: the stack's
	// own directory, the server's bind roots and the policy's.
	binds []string
	// sockets are the engine sockets no bind may reach.
	sockets []string
	// dir is the stack's own directory (binds[0]): where the files the
	// project reads besides binds (env files, included and extended
	// compose files) must be.
	dir string
}

// check returns the first refusal of p, in a stable order (services by
// name, then top-level elements), or nil.
func (c *checker) check(p *types.Project) error {
	if len(p.Models) > 0 {
		return &PolicyError{Service: "project", Key: "models", Reason: "models are not supported (compose would run a model runner)"}
	}
	if len(p.Jobs) > 0 {
		return &PolicyError{Service: "project", Key: "jobs", Reason: "jobs are not supported"}
	}
	for _, name := range sortedKeys(p.Networks) {
		if err := c.network("network "+name, p.Name, p.Networks[name]); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		what := "service " + name
		if s.Provider != nil {
			return &PolicyError{Service: what, Key: "provider", Reason: "providers are not supported (compose would run a plugin binary)"}
		}
		if s.Build != nil || s.Dockerfile != "" {
			return refuse(what, "build", "building images is not supported (compose would run a builder): use an image")
		}
		if s.Deploy != nil && s.Deploy.Resources.Reservations != nil && len(s.Deploy.Resources.Reservations.Devices) > 0 && !c.policy.Devices {
			return refuse(what, "deploy.resources.reservations.devices", "devices are not allowed for this stack (policy devices)")
		}
		if err := c.spec(what, s.ContainerSpec, p.Volumes); err != nil {
			return err
		}
		for i, h := range s.PreStart {
			if err := c.spec(fmt.Sprintf("%s pre_start[%d]", what, i), h.ContainerSpec, p.Volumes); err != nil {
				return err
			}
		}
		// Hooks run as execs in the service's container, privileged
		// ones with every capability.
		for _, hooks := range []struct {
			key   string
			hooks []types.ServiceHook
		}{{"post_start", s.PostStart}, {"pre_stop", s.PreStop}} {
			for i, h := range hooks.hooks {
				if h.Privileged && !c.policy.Privileged {
					return refuse(fmt.Sprintf("%s %s[%d]", what, hooks.key, i), "privileged", "privileged hooks are not allowed for this stack (policy privileged)")
				}
			}
		}
	}
	for _, name := range sortedKeys(p.Volumes) {
		if err := c.volume("volume "+name, p.Name, p.Volumes[name]); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(p.Secrets) {
		if f := p.Secrets[name].File; f != "" {
			if err := c.bind("secret "+name, "file", f); err != nil {
				return err
			}
		}
	}
	for _, name := range sortedKeys(p.Configs) {
		if f := p.Configs[name].File; f != "" {
			if err := c.bind("config "+name, "file", f); err != nil {
				return err
			}
		}
	}
	return nil
}

// volume checks a top-level volume of project: not another stack's (an
// external volume, or one named outside the project's names) unless the
// policy names it, and if the local driver mounts something, a tmpfs or
// a bind from where binds may come. Other filesystem types are refused:
// overlay's o names host directories (lowerdir=/etc), and what nfs, cifs
// or a block device would mount cannot be checked here.
func (c *checker) volume(what, project string, v types.VolumeConfig) error {
	if err := foreign(what, "volume", "data", "external_volumes", project, v.Name, bool(v.External), c.policy.ExternalVolumes); err != nil {
		return err
	}
	if v.Driver != "" && v.Driver != "local" {
		if slices.Contains(c.policy.VolumeDrivers, v.Driver) {
			return nil
		}
		return refuse(what, "driver", fmt.Sprintf("volume driver %q mounts what its options say, which the policy cannot check; it is not allowed for this stack (policy volume_drivers)", v.Driver))
	}
	// o: bind makes the mount a bind of device whatever the type.
	opts := strings.Split(v.DriverOpts["o"], ",")
	binds := slices.Contains(opts, "bind") || slices.Contains(opts, "rbind")
	switch typ := v.DriverOpts["type"]; {
	case typ == "tmpfs" && !binds:
		return nil
	case typ == "none" && binds, typ == "" && v.DriverOpts["device"] != "":
		return c.bind(what, "driver_opts", v.DriverOpts["device"])
	case typ == "":
		return nil
	default:
		return refuse(what, "driver_opts", fmt.Sprintf("type %q with o %q mounts what the policy cannot check: use a bind mount (type: none, o: bind) from the stack's directory or a bind root, a tmpfs, or a plain volume", typ, v.DriverOpts["o"]))
	}
}

// foreign refuses a volume or network (kind) of project named name that
// may be another stack's (its what, such as its data) — an external one,
// or one named outside the project's names — unless the policy's list
// under key (allowed) names it.
func foreign(what, kind, its, key, project, name string, external bool, allowed []string) error {
	switch {
	case slices.Contains(allowed, name):
		return nil
	case external:
		return refuse(what, "external", fmt.Sprintf("%s %q is not this stack's (it may be another stack's %s), which is not allowed for this stack (policy %s)", kind, name, its, key))
	case !strings.HasPrefix(name, project+"_"):
		return refuse(what, "name", fmt.Sprintf("%q is not named %s_…, so it may be another stack's %s, which is not allowed for this stack (policy %s): leave name out", name, project, kind, key))
	}
	return nil
}

// hostBridgeOpts are the bridge driver's options that put a network on
// a bridge of the host's rather than one of its own: name uses the host's
// bridge of that name if there is one (br0, bridging the LAN), and
// default_bridge without a name the default bridge's (docker0); either is
// refused whatever its value. The
// others leave the network on its own bridge, and only change what
// reaches the stack's own containers, as ports already can:
// enable_icc, enable_ip_masquerade, inhibit_ipv4, host_binding_ipv4,
// gateway_mode_ipv4/6 (routed, nat-unprotected),
// trusted_host_interfaces, the mtu, container_iface_prefix and host_ipv4/6
// (the source address of the stack's outgoing traffic).
var hostBridgeOpts = []string{"com.docker.network.bridge.name", "com.docker.network.bridge.default_bridge"}

// network checks a top-level network of project: never the host's unless
// the policy allows network_host; not another stack's (an external
// network, or one named outside the project's names) unless the policy
// names it; a driver other than bridge only if the policy names it; a
// bridge on the host's bridges (hostBridgeOpts) only with network_host;
// and a bridge's addresses chosen by its ipam only with network_ipam.
// An external network is not created, so its driver and options are
// moot.
func (c *checker) network(what, project string, n types.NetworkConfig) error {
	if n.Name == "host" {
		if !c.policy.NetworkHost {
			return refuse(what, "name", "the host's network is not allowed for this stack (policy network_host)")
		}
		return nil
	}
	if err := foreign(what, "network", "private network", "external_networks", project, n.Name, bool(n.External), c.policy.ExternalNetworks); err != nil {
		return err
	}
	if bool(n.External) {
		return nil
	}
	if n.Driver != "" && n.Driver != "bridge" {
		if slices.Contains(c.policy.NetworkDrivers, n.Driver) {
			return nil
		}
		return refuse(what, "driver", fmt.Sprintf("network driver %q attaches containers where its options say (macvlan and ipvlan to a host interface, on the LAN), which the policy cannot check; it is not allowed for this stack (policy network_drivers)", n.Driver))
	}
	for _, o := range hostBridgeOpts {
		if _, ok := n.DriverOpts[o]; ok && !c.policy.NetworkHost {
			return refuse(what, "driver_opts", fmt.Sprintf("%s puts the network on a bridge of the host's (on the LAN if it bridges a host interface), which is not allowed for this stack (policy network_host)", o))
		}
	}
	return c.ipam(what, n.Ipam)
}

// ipam checks a bridge network's ipam: unless the policy allows
// network_ipam, the addresses come from Docker's pools, which it picks
// clear of the host's on-link routes and DNS servers. The engine checks
// a subnet the stack names only against its other networks (moby's
// defaultipam excludes the host's routes from its own picks alone; so do
// dockerd 20.10 and 28), then gives the host the subnet's route and the
// gateway address: a subnet inside the tailnet's 100.64.0.0/10 or the
// LAN takes the host's traffic for it, and one holding the host's
// gateway or DNS server makes that address the host's own, where a
// published port answers for it. An IPAM plugin picks as it likes.
// Other drivers (network_drivers) give their addresses to containers,
// not the host, and are not checked here.
//
// A service's ipv4_address and ipv6_address need no check: the engine
// takes them only on a network whose ipam config has a subnet, and only
// inside it, so on the stack's own networks only with network_ipam, and
// on an external one inside the network the owner let it join. Nor do
// link_local_ips: the engine refuses any but 169.254.0.0/16 and
// fe80::/10 and puts them on the container's own interface, not the
// host.
func (c *checker) ipam(what string, ipam types.IPAMConfig) error {
	if c.policy.NetworkIPAM {
		return nil
	}
	if ipam.Driver != "" && ipam.Driver != "default" {
		return refuse(what, "ipam.driver", fmt.Sprintf("IPAM driver %q is a plugin that picks the network's addresses as it likes, "+
			"even the host's own or its routes' (the LAN, the tailnet's 100.64.0.0/10); this stack may not use one unless its owner allows it "+
			"per stack (policy network_ipam): leave driver out and Docker picks a free subnet", ipam.Driver))
	}
	for i, pool := range ipam.Config {
		if pool == nil {
			continue
		}
		var set []string
		for _, f := range [][2]string{{"subnet", pool.Subnet}, {"ip_range", pool.IPRange}, {"gateway", pool.Gateway}} {
			if f[1] != "" {
				set = append(set, fmt.Sprintf("%s %q", f[0], f[1]))
			}
		}
		if len(pool.AuxiliaryAddresses) > 0 {
			set = append(set, "aux_addresses")
		}
		if len(set) > 0 {
			return refuse(what, "ipam.config", fmt.Sprintf("config[%d] sets %s: the engine gives the host the network's route and gateway address "+
				"even where they overlap the host's own (the LAN, the tailnet's 100.64.0.0/10, its DNS server), so the host's traffic for them would go to this stack; "+
				"this stack may not set them unless its owner allows it per stack (policy network_ipam): leave them out and Docker picks a free subnet",
				i, strings.Join(set, ", ")))
		}
	}
	return nil
}

// spec checks one container's specification (a service's, a hook's),
// whose named volumes must be among volumes, the project's.
func (c *checker) spec(what string, s types.ContainerSpec, volumes types.Volumes) error {
	pol := c.policy
	switch {
	case len(s.Models) > 0:
		return refuse(what, "models", "models are not supported")
	case s.Privileged && !pol.Privileged:
		return refuse(what, "privileged", "privileged containers are not allowed for this stack (policy privileged)")
	case s.UseAPISocket && !pol.DockerSocket:
		return refuse(what, "use_api_socket", "the engine's socket is not allowed for this stack (policy docker_socket)")
	case s.Pid == "host" && !pol.PIDHost:
		return refuse(what, "pid", "the host's PID namespace is not allowed for this stack (policy pid_host)")
	case s.NetworkMode == "host" && !pol.NetworkHost:
		return refuse(what, "network_mode", "host networking is not allowed for this stack (policy network_host)")
	// Another container's namespaces may be the host's: joining one is
	// allowed as joining the host's is.
	case isContainer(s.Pid) && !pol.PIDHost:
		return refuse(what, "pid", "another container's PID namespace is not allowed for this stack (policy pid_host): name a service of this stack")
	case isContainer(s.NetworkMode) && !pol.NetworkHost:
		return refuse(what, "network_mode", "another container's network is not allowed for this stack (policy network_host): use service:NAME of this stack")
	case modeNetwork(s.NetworkMode) == "bridge" && !slices.Contains(pol.ExternalNetworks, "bridge"):
		return refuse(what, "network_mode", fmt.Sprintf("%q joins Docker's default bridge, which every container started without a network of its own shares, "+
			"which is not allowed for this stack unless its owner lists \"bridge\" in the stack's policy external_networks: leave network_mode out, "+
			"and compose gives the stack a network of its own", s.NetworkMode))
	case modeNetwork(s.NetworkMode) != "" && !slices.Contains(pol.ExternalNetworks, modeNetwork(s.NetworkMode)):
		return refuse(what, "network_mode", fmt.Sprintf("%q joins the engine's network %s, from outside this stack (it may be another stack's private network), "+
			"which is not allowed for this stack (policy external_networks): use networks", s.NetworkMode, modeNetwork(s.NetworkMode)))
	case isContainer(s.Ipc) && !pol.HostNamespaces:
		return refuse(what, "ipc", "another container's IPC namespace is not allowed for this stack (policy host_namespaces)")
	case (len(s.Devices) > 0 || len(s.DeviceCgroupRules) > 0) && !pol.Devices:
		return refuse(what, "devices", "devices are not allowed for this stack (policy devices)")
	case len(s.Gpus) > 0 && !pol.Devices:
		return refuse(what, "gpus", "devices are not allowed for this stack (policy devices)")
	}
	for key, v := range map[string]string{"ipc": s.Ipc, "uts": s.Uts, "userns_mode": s.UserNSMode, "cgroup": s.Cgroup} {
		if v == "host" && !pol.HostNamespaces {
			return refuse(what, key, "the host's namespaces are not allowed for this stack (policy host_namespaces)")
		}
	}
	for _, o := range s.SecurityOpt {
		if unconfining(o) && !pol.Unconfined {
			return refuse(what, "security_opt", fmt.Sprintf("%q turns confinement off, which is not allowed for this stack (policy unconfined)", o))
		}
	}
	for _, capName := range s.CapAdd {
		capName = strings.TrimPrefix(strings.ToUpper(capName), "CAP_")
		if !slices.Contains(DefaultCaps, capName) && !slices.Contains(pol.CapAdd, "ALL") && !slices.Contains(pol.CapAdd, capName) {
			return refuse(what, "cap_add", fmt.Sprintf("capability %s is not allowed for this stack (allowed: Docker's defaults%s)", capName, extra(pol.CapAdd)))
		}
	}
	for _, v := range s.Volumes {
		switch {
		case v.Type == types.VolumeTypeBind:
			if err := c.bind(what, "volumes", v.Source); err != nil {
				return err
			}
		case v.Type == types.VolumeTypeVolume && v.Source != "" && volumes[v.Source].Name == "":
			// Compose would mount the engine's volume of that name.
			return refuse(what, "volumes", fmt.Sprintf("volume %q is not declared in the project's volumes: declare it there", v.Source))
		}
	}
	for _, v := range s.VolumesFrom {
		if isContainer(v) && !pol.DockerSocket {
			return refuse(what, "volumes_from", fmt.Sprintf("%q takes every mount of a container outside this stack (an engine socket, host directories) past the policy: "+
				"name a service of this stack", v))
		}
	}
	return hostFiles(what, s, c.dir)
}

// hostFiles checks the env and label files a container specification
// reads from the host: they must be in the stack's directory dir (see
// stackFile).
func hostFiles(what string, s types.ContainerSpec, dir string) error {
	for _, f := range s.EnvFiles {
		if err := stackFile(dir, what, "env_file", f.Path); err != nil {
			return err
		}
	}
	for _, f := range s.LabelFiles {
		if err := stackFile(dir, what, "label_file", f); err != nil {
			return err
		}
	}
	return nil
}

// dockgeGlobalEnv reports whether path, an env file, is the global.env
// that Dockge keeps beside the stacks, in the stack root, for all of them
// (../global.env of the stack's directory dir): named so, and a file
// there itself, not a link to one elsewhere.
func dockgeGlobalEnv(path, dir string) bool {
	root := filepath.Dir(filepath.Clean(dir))
	return filepath.Clean(path) == filepath.Join(root, "global.env") && realPath(path) == filepath.Join(realPath(root), "global.env")
}

// realPath is p with its symbolic links resolved, or p when it cannot be.
func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// modeNetwork is the engine's network a network_mode joins (as networks
// would, by name), or "": any mode but none, host, service:NAME
// (compose's) and container:NAME names one. Docker's default bridge,
// every plain container's network, is one too: bridge, or default.
func modeNetwork(mode string) string {
	switch {
	case mode == "", mode == "none", mode == "host", strings.HasPrefix(mode, types.NetworkModeServicePrefix), isContainer(mode):
		return ""
	case mode == "default":
		return "bridge"
	}
	return mode
}

// isContainer reports whether a namespace or volumes_from value names a
// container (container:NAME), which need not belong to the stack.
func isContainer(v string) bool {
	return strings.HasPrefix(strings.ToLower(v), "container:")
}

// stackFile checks a file the project reads from the host besides its
// binds (an env or label file): it must be in the stack's own directory
// dir, where its symbolic links lead included, or the loader would read
// host files into the stack (another stack's secrets,
// /proc/self/environ).
func stackFile(dir, what, key, path string) error {
	if path == "" || dir == "" {
		return nil
	}
	if key == "env_file" && dockgeGlobalEnv(path, dir) {
		return nil
	}
	if !filepath.IsAbs(path) || !inside(path, dir) {
		return refuse(what, key, fmt.Sprintf("%q is outside the stack's directory: a stack reads its files from there only", filepath.Base(path)))
	}
	return nil
}

// unconfining reports whether a security_opt turns confinement off. Any
// SELinux label option does: disable, and a type, user, role or level
// the stack chooses, which may be an unconfined one (type:spc_t,
// type:unconfined_t).
func unconfining(o string) bool {
	o = strings.ToLower(strings.ReplaceAll(o, ":", "="))
	return strings.HasSuffix(o, "=unconfined") || strings.HasPrefix(o, "label=") || strings.HasPrefix(o, "systempaths=") ||
		o == "no-new-privileges=false" ||
		// A profile of the stack's own (read on the host) may allow
		// everything.
		strings.HasPrefix(o, "seccomp=") && o != "seccomp=builtin"
}

func extra(caps []string) string {
	if len(caps) == 0 {
		return ""
	}
	return " and " + strings.Join(caps, ", ")
}

func refuse(what, key, reason string) error {
	return &PolicyError{Service: what, Key: key, Reason: reason}
}

// bind checks a host path mounted into a container: never an engine
// socket nor a directory holding one (unless the policy allows the
// socket), and inside one of the bind roots. A path that exists is
// judged by where its symbolic links lead.
func (c *checker) bind(what, key, src string) error {
	if !filepath.IsAbs(src) {
		return refuse(what, key, fmt.Sprintf("bind source %q is not an absolute path", src))
	}
	paths := []string{filepath.Clean(src)}
	real, err := filepath.EvalSymlinks(src)
	switch {
	case err == nil:
		paths = append(paths, real)
	case !errors.Is(err, os.ErrNotExist):
		return refuse(what, key, fmt.Sprintf("bind source %q cannot be resolved: %v", src, err))
	}
	for _, p := range paths {
		for _, sock := range c.sockets {
			if within(sock, p) && !c.policy.DockerSocket {
				return refuse(what, key, fmt.Sprintf("bind source %q reaches the engine's socket, which is not allowed for this stack (policy docker_socket)", src))
			}
		}
		if strings.HasSuffix(p, ".sock") && strings.Contains(filepath.Base(p), "docker") && !c.policy.DockerSocket {
			return refuse(what, key, fmt.Sprintf("bind source %q looks like an engine socket, which is not allowed for this stack (policy docker_socket)", src))
		}
		if !slices.ContainsFunc(c.binds, func(root string) bool { return within(p, root) }) {
			return refuse(what, key, fmt.Sprintf("bind source %q is outside the stack's directory and the allowed bind roots (stack_bind_roots, policy bind_roots)", src))
		}
	}
	return nil
}

// within reports whether path is dir or lies beneath it (both clean and
// absolute).
func within(path, dir string) bool {
	if dir == "/" {
		return true
	}
	return path == dir || strings.HasPrefix(path, dir+"/")
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/tailops/tailops/redact"
	"github.com/tailops/tailops/tools"
)

// ListContainersArgs is list_containers's input.
type ListContainersArgs struct {
	All    bool     `json:"all,omitempty" jsonschema_description:"include stopped containers (default: running only)"`
	Name   string   `json:"name,omitempty" jsonschema_description:"keep containers whose name contains this"`
	Label  []string `json:"label,omitempty" jsonschema_description:"keep containers with every one of these labels: key, or key=value"`
	Status string   `json:"status,omitempty" jsonschema:"enum=created,enum=restarting,enum=running,enum=removing,enum=paused,enum=exited,enum=dead" jsonschema_description:"keep containers in this state (implies all)"`
}

// ContainerList is list_containers's output.
type ContainerList struct {
	Count      int                `json:"count"`
	Containers []ContainerSummary `json:"containers"`
}

// ContainerSummary is one container in a list.
type ContainerSummary struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Image    string            `json:"image"`
	ImageID  string            `json:"image_id"`
	Command  string            `json:"command" jsonschema_description:"entrypoint and command joined with spaces, secrets redacted (everything after a secret, as the line no longer says where it ends)"`
	Created  string            `json:"created" jsonschema_description:"RFC 3339 UTC"`
	State    string            `json:"state" jsonschema_description:"created, running, paused, restarting, removing, exited or dead"`
	Status   string            `json:"status" jsonschema_description:"the daemon's human-readable status, such as Up 5 minutes (healthy)"`
	Ports    []PortSummary     `json:"ports"`
	Networks []string          `json:"networks"`
	Labels   map[string]string `json:"labels" jsonschema_description:"secret values redacted"`
}

// PortSummary is a container port and where it is published.
type PortSummary struct {
	Private  uint16 `json:"private"`
	Protocol string `json:"protocol"`
	HostIP   string `json:"host_ip,omitempty"`
	Public   uint16 `json:"public,omitempty"`
}

var containerStates = []string{"created", "restarting", "running", "removing", "paused", "exited", "dead"}

// labelFilter is key or key=value, as the daemon's label filter takes.
var labelFilter = regexp.MustCompile(`^[^=\s][^=]*(=.*)?$`)

func (e *engine) listContainers(ctx context.Context, in ListContainersArgs) (ContainerList, error) {
	f := filters.NewArgs()
	if in.Name != "" {
		if strings.ContainsAny(in.Name, "\x00\n") {
			return ContainerList{}, tools.ArgErrorf("name", "must be a single line")
		}
		// The daemon treats the name filter as a regular expression;
		// quote it so it is the substring the description promises.
		f.Add("name", regexp.QuoteMeta(strings.TrimPrefix(in.Name, "/")))
	}
	for _, l := range in.Label {
		if !labelFilter.MatchString(l) {
			return ContainerList{}, tools.ArgErrorf("label", "each must be key or key=value, got %q", l)
		}
		f.Add("label", l)
	}
	if in.Status != "" {
		if !slices.Contains(containerStates, in.Status) {
			return ContainerList{}, tools.ArgErrorf("status", "must be one of %s, got %q", strings.Join(containerStates, ", "), in.Status)
		}
		f.Add("status", in.Status)
	}
	cli, err := e.client()
	if err != nil {
		return ContainerList{}, err
	}
	list, err := cli.ContainerList(ctx, container.ListOptions{All: in.All || in.Status != "", Filters: f})
	if err != nil {
		return ContainerList{}, e.fail(err, "listing containers")
	}
	out := ContainerList{Count: len(list), Containers: make([]ContainerSummary, 0, len(list))}
	for _, c := range list {
		s := ContainerSummary{
			ID: c.ID, Name: summaryName(c), Image: c.Image, ImageID: c.ImageID, Command: redact.CommandLine(c.Command),
			Created: rfc3339(time.Unix(c.Created, 0)), State: string(c.State), Status: c.Status,
			Ports: make([]PortSummary, 0, len(c.Ports)), Networks: []string{}, Labels: nonNilMap(redact.Map(c.Labels)),
		}
		for _, p := range c.Ports {
			s.Ports = append(s.Ports, PortSummary{Private: p.PrivatePort, Protocol: p.Type, HostIP: p.IP, Public: p.PublicPort})
		}
		if c.NetworkSettings != nil {
			for n := range c.NetworkSettings.Networks {
				s.Networks = append(s.Networks, n)
			}
			sort.Strings(s.Networks)
		}
		out.Containers = append(out.Containers, s)
	}
	return out, nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ContainerDetails is inspect_container's output.
type ContainerDetails struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Image        string            `json:"image" jsonschema_description:"the image reference the container was created with"`
	ImageID      string            `json:"image_id"`
	Created      string            `json:"created"`
	State        ContainerState    `json:"state"`
	RestartCount int               `json:"restart_count"`
	Hostname     string            `json:"hostname"`
	User         string            `json:"user"`
	WorkingDir   string            `json:"working_dir"`
	Entrypoint   []string          `json:"entrypoint" jsonschema_description:"secrets redacted, as in cmd"`
	Cmd          []string          `json:"cmd" jsonschema_description:"secrets redacted: the value of NAME=value and --name=value when the name looks secret, the argument after such a flag, and token-shaped text"`
	Env          []string          `json:"env" jsonschema_description:"NAME=value; the value is [REDACTED] when the name looks secret (password, token, key, …) and token-shaped parts of other values are"`
	Labels       map[string]string `json:"labels" jsonschema_description:"secret values redacted, as in env"`
	Tty          bool              `json:"tty"`
	StopSignal   string            `json:"stop_signal,omitempty"`
	Healthcheck  *HealthcheckInfo  `json:"healthcheck,omitempty"`
	Mounts       []MountInfo       `json:"mounts"`
	Ports        []PortSummary     `json:"ports" jsonschema_description:"port bindings as configured"`
	NetworkMode  string            `json:"network_mode"`
	Networks     []NetworkEndpoint `json:"networks"`
	Restart      RestartPolicy     `json:"restart_policy"`
	Resources    ResourceInfo      `json:"resources"`
	CapAdd       []string          `json:"cap_add"`
	CapDrop      []string          `json:"cap_drop"`
	Privileged   bool              `json:"privileged"`
	ReadOnlyRoot bool              `json:"read_only_rootfs"`
	Devices      []DeviceInfo      `json:"devices"`
	LogConfig    LogConfigInfo     `json:"log_config"`
}

// ContainerState is a container's run state.
type ContainerState struct {
	Status     string `json:"status"`
	Running    bool   `json:"running"`
	Paused     bool   `json:"paused"`
	Restarting bool   `json:"restarting"`
	OOMKilled  bool   `json:"oom_killed"`
	Pid        int    `json:"pid"`
	ExitCode   int    `json:"exit_code"`
	Error      string `json:"error,omitempty"`
	StartedAt  string `json:"started_at"`
	FinishedAt string `json:"finished_at"`
	Health     string `json:"health,omitempty" jsonschema_description:"starting, healthy or unhealthy, when the container has a health check"`
	HealthLog  string `json:"health_log,omitempty" jsonschema_description:"output of the last health check"`
}

// HealthcheckInfo is a container's health check.
type HealthcheckInfo struct {
	Test        []string `json:"test"`
	Interval    string   `json:"interval,omitempty"`
	Timeout     string   `json:"timeout,omitempty"`
	StartPeriod string   `json:"start_period,omitempty"`
	Retries     int      `json:"retries"`
}

// MountInfo is one mount of a container.
type MountInfo struct {
	Type        string `json:"type"`
	Name        string `json:"name,omitempty" jsonschema_description:"volume name, for volumes"`
	Source      string `json:"source"`
	Destination string `json:"destination"`
	ReadWrite   bool   `json:"rw"`
}

// NetworkEndpoint is a container's attachment to one network.
type NetworkEndpoint struct {
	Network    string   `json:"network"`
	IPAddress  string   `json:"ip_address"`
	StaticIPv4 string   `json:"static_ipv4,omitempty" jsonschema_description:"the address requested when it was connected"`
	StaticIPv6 string   `json:"static_ipv6,omitempty"`
	Gateway    string   `json:"gateway"`
	MacAddress string   `json:"mac_address"`
	Aliases    []string `json:"aliases"`
}

// RestartPolicy is a container's restart policy.
type RestartPolicy struct {
	Name              string `json:"name"`
	MaximumRetryCount int    `json:"maximum_retry_count"`
}

// ResourceInfo is a container's resource limits; 0 means no limit.
type ResourceInfo struct {
	MemoryBytes     int64   `json:"memory_bytes"`
	MemorySwapBytes int64   `json:"memory_swap_bytes"`
	CPUs            float64 `json:"cpus" jsonschema_description:"CPU limit in CPUs (--cpus)"`
	CPUShares       int64   `json:"cpu_shares"`
	CPUSetCPUs      string  `json:"cpuset_cpus,omitempty"`
	PidsLimit       int64   `json:"pids_limit"`
}

// DeviceInfo is a host device made available in a container.
type DeviceInfo struct {
	Host        string `json:"host"`
	Container   string `json:"container"`
	Permissions string `json:"permissions"`
}

// LogConfigInfo is a container's logging driver and its options.
type LogConfigInfo struct {
	Type   string            `json:"type"`
	Config map[string]string `json:"config" jsonschema_description:"secret values redacted, as in env"`
}

func (e *engine) inspectContainer(ctx context.Context, in ContainerArg) (ContainerDetails, error) {
	cli, err := e.client()
	if err != nil {
		return ContainerDetails{}, err
	}
	c, err := e.resolve(ctx, cli, in.Container)
	if err != nil {
		return ContainerDetails{}, err
	}
	return containerDetails(c), nil
}

func containerDetails(c container.InspectResponse) ContainerDetails {
	out := ContainerDetails{
		ID: c.ID, Name: strings.TrimPrefix(c.Name, "/"), ImageID: c.Image, Created: dockerTime(c.Created),
		RestartCount: c.RestartCount, Entrypoint: []string{}, Cmd: []string{}, Env: []string{}, Labels: map[string]string{},
		Mounts: []MountInfo{}, Ports: []PortSummary{}, Networks: []NetworkEndpoint{}, CapAdd: []string{}, CapDrop: []string{},
		Devices: []DeviceInfo{}, LogConfig: LogConfigInfo{Config: map[string]string{}},
	}
	if s := c.State; s != nil {
		out.State = ContainerState{Status: string(s.Status), Running: s.Running, Paused: s.Paused, Restarting: s.Restarting,
			OOMKilled: s.OOMKilled, Pid: s.Pid, ExitCode: s.ExitCode, Error: redact.Text(s.Error),
			StartedAt: dockerTime(s.StartedAt), FinishedAt: dockerTime(s.FinishedAt)}
		if h := s.Health; h != nil {
			out.State.Health = string(h.Status)
			if n := len(h.Log); n > 0 && h.Log[n-1] != nil {
				out.State.HealthLog = redact.Text(strings.TrimSpace(h.Log[n-1].Output))
			}
		}
	}
	if cfg := c.Config; cfg != nil {
		out.Image, out.Hostname, out.User, out.WorkingDir = cfg.Image, cfg.Hostname, cfg.User, cfg.WorkingDir
		out.Entrypoint, out.Cmd = nonNil(redact.Args(cfg.Entrypoint)), nonNil(redact.Args(cfg.Cmd))
		out.Env, out.Labels = nonNil(redact.Env(cfg.Env)), nonNilMap(redact.Map(cfg.Labels))
		out.Tty, out.StopSignal = cfg.Tty, cfg.StopSignal
		if h := cfg.Healthcheck; h != nil && len(h.Test) > 0 {
			out.Healthcheck = &HealthcheckInfo{Test: redact.Args(h.Test), Interval: durationText(h.Interval), Timeout: durationText(h.Timeout),
				StartPeriod: durationText(h.StartPeriod), Retries: h.Retries}
		}
	}
	for _, m := range c.Mounts {
		out.Mounts = append(out.Mounts, MountInfo{Type: string(m.Type), Name: m.Name, Source: m.Source, Destination: m.Destination, ReadWrite: m.RW})
	}
	if hc := c.HostConfig; hc != nil {
		for port, bs := range hc.PortBindings {
			for _, b := range bs {
				pub, _ := strconv.ParseUint(b.HostPort, 10, 16)
				out.Ports = append(out.Ports, PortSummary{Private: uint16(port.Int()), Protocol: port.Proto(), HostIP: b.HostIP, Public: uint16(pub)})
			}
		}
		sort.Slice(out.Ports, func(i, j int) bool { return out.Ports[i].Private < out.Ports[j].Private })
		out.NetworkMode = string(hc.NetworkMode)
		out.Restart = RestartPolicy{Name: string(hc.RestartPolicy.Name), MaximumRetryCount: hc.RestartPolicy.MaximumRetryCount}
		r := hc.Resources
		out.Resources = ResourceInfo{MemoryBytes: r.Memory, MemorySwapBytes: r.MemorySwap, CPUs: float64(r.NanoCPUs) / 1e9,
			CPUShares: r.CPUShares, CPUSetCPUs: r.CpusetCpus}
		if r.PidsLimit != nil {
			out.Resources.PidsLimit = *r.PidsLimit
		}
		out.CapAdd, out.CapDrop = nonNil([]string(hc.CapAdd)), nonNil([]string(hc.CapDrop))
		out.Privileged, out.ReadOnlyRoot = hc.Privileged, hc.ReadonlyRootfs
		for _, d := range r.Devices {
			out.Devices = append(out.Devices, DeviceInfo{Host: d.PathOnHost, Container: d.PathInContainer, Permissions: d.CgroupPermissions})
		}
		out.LogConfig = LogConfigInfo{Type: hc.LogConfig.Type, Config: nonNilMap(redact.Map(hc.LogConfig.Config))}
	}
	if c.NetworkSettings != nil {
		for name, ep := range c.NetworkSettings.Networks {
			if ep == nil {
				continue
			}
			n := NetworkEndpoint{Network: name, IPAddress: ep.IPAddress, Gateway: ep.Gateway, MacAddress: ep.MacAddress,
				Aliases: userAliases(ep.Aliases, c.ID)}
			if ep.IPAMConfig != nil {
				n.StaticIPv4, n.StaticIPv6 = ep.IPAMConfig.IPv4Address, ep.IPAMConfig.IPv6Address
			}
			out.Networks = append(out.Networks, n)
		}
		sort.Slice(out.Networks, func(i, j int) bool { return out.Networks[i].Network < out.Networks[j].Network })
	}
	return out
}

// userAliases drops the alias the daemon adds itself (the short id).
func userAliases(aliases []string, id string) []string {
	out := []string{}
	for _, a := range aliases {
		if a != shortID(id) {
			out = append(out, a)
		}
	}
	return out
}

func durationText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// LogsArgs is get_container_logs's input.
type LogsArgs struct {
	Container  string `json:"container" jsonschema_description:"container name or id"`
	Tail       *int   `json:"tail,omitempty" jsonschema_description:"how many of the last lines, 1 to 10000 (default 100); counted over both streams, before stream picks one"`
	Since      string `json:"since,omitempty" jsonschema_description:"only lines newer than this: a duration such as 90s or 10m, or an RFC 3339 time"`
	Timestamps bool   `json:"timestamps,omitempty" jsonschema_description:"give each line the time the daemon received it"`
	Stream     string `json:"stream,omitempty" jsonschema:"enum=both,enum=stdout,enum=stderr" jsonschema_description:"which streams: both (default), stdout or stderr"`
	MaxBytes   *int   `json:"max_bytes,omitempty" jsonschema_description:"cap on the text returned, 1024 to 1048576 (default 65536); the newest lines are kept"`
}

// ContainerLogs is get_container_logs's output.
type ContainerLogs struct {
	Container string    `json:"container"`
	ID        string    `json:"id"`
	Lines     []LogLine `json:"lines"`
	Truncated bool      `json:"truncated" jsonschema_description:"older lines were dropped, or a line was cut, to stay within max_bytes"`
	Link      string    `json:"link,omitempty" jsonschema_description:"set when the lines were too large to put in the result (the server's --inline-max): the resource URI that serves them (resources/read); lines is then empty"`
}

// LogLine is one line a container wrote.
type LogLine struct {
	Stream string `json:"stream" jsonschema_description:"stdout or stderr"`
	Time   string `json:"time,omitempty" jsonschema_description:"RFC 3339 with nanoseconds, when timestamps was asked for"`
	Text   string `json:"text"`
}

// logCollector receives demultiplexed log frames and keeps the newest
// complete lines within a byte budget.
type logCollector struct {
	max        int
	timestamps bool
	lines      []LogLine
	size       int
	truncated  bool
	partial    [2][]byte // unterminated text per stream
}

// streamWriter is one stream's side of a logCollector.
type streamWriter struct {
	c      *logCollector
	stream int // 0 stdout, 1 stderr
}

// Write takes one frame of the stream: each line it completes is added,
// the rest kept. Only the frame's bytes are searched for line ends, and
// the unterminated rest is not copied again: a long line sent in many
// frames costs its length, not its length squared.
func (w streamWriter) Write(p []byte) (int, error) {
	c := w.c
	from := len(c.partial[w.stream]) // no line end before this
	buf := append(c.partial[w.stream], p...)
	for {
		i := bytes.IndexByte(buf[from:], '\n')
		if i < 0 {
			break
		}
		c.add(w.stream, string(buf[:from+i]))
		buf, from = buf[from+i+1:], 0
	}
	c.partial[w.stream] = buf
	return len(p), nil
}

func (c *logCollector) flush() {
	for s := range c.partial {
		if len(c.partial[s]) > 0 {
			c.add(s, string(c.partial[s]))
			c.partial[s] = nil
		}
	}
}

func (c *logCollector) add(stream int, text string) {
	text = strings.TrimSuffix(text, "\r")
	l := LogLine{Stream: "stdout", Text: text}
	if stream == 1 {
		l.Stream = "stderr"
	}
	if c.timestamps {
		if ts, rest, ok := strings.Cut(text, " "); ok {
			if _, err := time.Parse(time.RFC3339Nano, ts); err == nil {
				l.Time, l.Text = ts, rest
			}
		}
	}
	if len(l.Text) > c.max {
		l.Text, c.truncated = l.Text[:c.max], true
	}
	c.lines = append(c.lines, l)
	c.size += len(l.Text)
	for c.size > c.max {
		c.size -= len(c.lines[0].Text)
		c.lines = c.lines[1:]
		c.truncated = true
	}
}

// maxLogRead bounds how much log data one call reads from the daemon.
const maxLogRead = 64 << 20

func (e *engine) containerLogs(ctx context.Context, in LogsArgs) (ContainerLogs, error) {
	tail, err := tools.IntArg("tail", in.Tail, 100, 1, 10000)
	if err != nil {
		return ContainerLogs{}, err
	}
	maxBytes, err := tools.IntArg("max_bytes", in.MaxBytes, 64<<10, 1024, 1<<20)
	if err != nil {
		return ContainerLogs{}, err
	}
	if in.Since != "" {
		if _, derr := time.ParseDuration(in.Since); derr != nil {
			if _, terr := time.Parse(time.RFC3339Nano, in.Since); terr != nil {
				return ContainerLogs{}, tools.ArgErrorf("since", "must be a duration such as 10m or an RFC 3339 time, got %q", in.Since)
			}
		}
	}
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Since: in.Since, Timestamps: in.Timestamps, Tail: strconv.Itoa(tail)}
	switch in.Stream {
	case "", "both":
	case "stdout":
		opts.ShowStderr = false
	case "stderr":
		opts.ShowStdout = false
	default:
		return ContainerLogs{}, tools.ArgErrorf("stream", "must be both, stdout or stderr, got %q", in.Stream)
	}
	cli, err := e.client()
	if err != nil {
		return ContainerLogs{}, err
	}
	c, err := e.resolve(ctx, cli, in.Container)
	if err != nil {
		return ContainerLogs{}, err
	}
	col, err := e.readLogs(ctx, cli, c, opts, maxBytes)
	if err != nil {
		return ContainerLogs{}, err
	}
	return ContainerLogs{Container: strings.TrimPrefix(c.Name, "/"), ID: c.ID, Lines: nonNil(col.lines), Truncated: col.truncated}, nil
}

// readLogs fetches and demultiplexes a container's logs.
func (e *engine) readLogs(ctx context.Context, cli *client.Client, c container.InspectResponse, opts container.LogsOptions, maxBytes int) (*logCollector, error) {
	rc, err := cli.ContainerLogs(ctx, c.ID, opts)
	if err != nil {
		return nil, e.fail(err, "reading logs")
	}
	defer rc.Close()
	col := &logCollector{max: maxBytes, timestamps: opts.Timestamps}
	src := io.LimitReader(rc, maxLogRead)
	if c.Config != nil && c.Config.Tty {
		// A terminal merges the streams and the daemon sends them raw.
		_, err = io.Copy(streamWriter{col, 0}, src)
	} else {
		_, err = stdcopy.StdCopy(streamWriter{col, 0}, streamWriter{col, 1}, src)
	}
	if err != nil {
		return nil, e.fail(err, "reading logs")
	}
	col.flush()
	return col, nil
}

func logsText(l ContainerLogs) string {
	var b strings.Builder
	for _, line := range l.Lines {
		b.WriteString(line.Stream)
		b.WriteString(" | ")
		if line.Time != "" {
			b.WriteString(line.Time + " ")
		}
		b.WriteString(line.Text)
		b.WriteByte('\n')
	}
	if l.Truncated {
		b.WriteString("(older lines dropped to stay within max_bytes)\n")
	}
	if len(l.Lines) == 0 {
		b.WriteString("(no log lines)\n")
	}
	return b.String()
}

// ContainerStats is get_container_stats's output.
type ContainerStats struct {
	Container      string      `json:"container"`
	ID             string      `json:"id"`
	Read           string      `json:"read" jsonschema_description:"when the second sample was taken, RFC 3339"`
	CPUPercent     float64     `json:"cpu_percent" jsonschema_description:"percent of one CPU; up to 100 × online_cpus"`
	CPUPercentOver string      `json:"cpu_percent_over"`
	OnlineCPUs     uint32      `json:"online_cpus"`
	Memory         MemoryUsage `json:"memory"`
	Network        IOTotals    `json:"network" jsonschema_description:"bytes received (read) and sent (write) over all interfaces"`
	BlockIO        IOTotals    `json:"block_io"`
	PIDs           uint64      `json:"pids"`
}

// MemoryUsage is a container's memory use in bytes, page cache excluded.
type MemoryUsage struct {
	Usage   uint64  `json:"usage"`
	Limit   uint64  `json:"limit"`
	Percent float64 `json:"percent"`
}

// IOTotals are bytes read and written.
type IOTotals struct {
	Read  uint64 `json:"read"`
	Write uint64 `json:"write"`
}

func (e *engine) containerStats(ctx context.Context, in ContainerArg) (ContainerStats, error) {
	cli, err := e.client()
	if err != nil {
		return ContainerStats{}, err
	}
	c, err := e.resolve(ctx, cli, in.Container)
	if err != nil {
		return ContainerStats{}, err
	}
	name := strings.TrimPrefix(c.Name, "/")
	if c.State == nil || !c.State.Running {
		state := "not running"
		if c.State != nil {
			state = string(c.State.Status)
		}
		return ContainerStats{}, fmt.Errorf("container %q is %s: only running containers have resource usage", name, state)
	}
	sample := func() (container.StatsResponse, error) {
		var s container.StatsResponse
		r, err := cli.ContainerStatsOneShot(ctx, c.ID)
		if err != nil {
			return s, e.fail(err, "reading container stats")
		}
		defer r.Body.Close()
		if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
			return s, e.fail(err, "decoding container stats")
		}
		return s, nil
	}
	s1, err := sample()
	if err != nil {
		return ContainerStats{}, err
	}
	select {
	case <-ctx.Done():
		return ContainerStats{}, ctx.Err()
	case <-time.After(e.statsInterval):
	}
	s2, err := sample()
	if err != nil {
		return ContainerStats{}, err
	}
	out := ContainerStats{Container: name, ID: c.ID, Read: rfc3339(s2.Read), CPUPercentOver: e.statsInterval.String(), PIDs: s2.PidsStats.Current}
	out.OnlineCPUs = s2.CPUStats.OnlineCPUs
	if out.OnlineCPUs == 0 {
		out.OnlineCPUs = uint32(len(s2.CPUStats.CPUUsage.PercpuUsage))
	}
	// CPU time the container used over the time between the engine's two
	// readings. The docker CLI divides by the host's system CPU time
	// instead, which dockerd counts as online CPUs × wall time but Podman
	// does not (it overstates the percentage there); the engine's read
	// times mean the same on both. The system-time formula is the fallback
	// for an engine that gives no read times.
	cpuDelta := float64(s2.CPUStats.CPUUsage.TotalUsage) - float64(s1.CPUStats.CPUUsage.TotalUsage)
	wallDelta := float64(s2.Read.Sub(s1.Read))
	sysDelta := float64(s2.CPUStats.SystemUsage) - float64(s1.CPUStats.SystemUsage)
	switch {
	case cpuDelta <= 0:
	case !s1.Read.IsZero() && wallDelta > 0:
		out.CPUPercent = round2(cpuDelta / wallDelta * 100)
	case sysDelta > 0:
		out.CPUPercent = round2(cpuDelta / sysDelta * float64(max(out.OnlineCPUs, 1)) * 100)
	}
	m := s2.MemoryStats
	used := m.Usage
	// As the docker CLI does: page cache is not the container's own use.
	for _, k := range []string{"total_inactive_file", "inactive_file"} {
		if v, ok := m.Stats[k]; ok && v < used {
			used -= v
			break
		}
	}
	out.Memory = MemoryUsage{Usage: used, Limit: m.Limit}
	if m.Limit > 0 {
		out.Memory.Percent = round2(100 * float64(used) / float64(m.Limit))
	}
	for _, n := range s2.Networks {
		out.Network.Read += n.RxBytes
		out.Network.Write += n.TxBytes
	}
	for _, b := range s2.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(b.Op) {
		case "read":
			out.BlockIO.Read += b.Value
		case "write":
			out.BlockIO.Write += b.Value
		}
	}
	return out, nil
}

// ListImagesArgs is list_images's input.
type ListImagesArgs struct {
	Reference string `json:"reference,omitempty" jsonschema_description:"keep images whose reference matches this pattern, such as nginx or nginx:1.*"`
	All       bool   `json:"all,omitempty" jsonschema_description:"include intermediate images"`
}

// ImageList is list_images's output.
type ImageList struct {
	Count  int            `json:"count"`
	Images []ImageSummary `json:"images"`
}

// ImageSummary is one local image.
type ImageSummary struct {
	ID         string            `json:"id"`
	Tags       []string          `json:"tags"`
	Digests    []string          `json:"digests"`
	Created    string            `json:"created"`
	SizeBytes  int64             `json:"size_bytes"`
	Labels     map[string]string `json:"labels"`
	ParentID   string            `json:"parent_id,omitempty"`
	Containers int64             `json:"containers" jsonschema_description:"containers using it, or -1 when the daemon did not count"`
	Dangling   bool              `json:"dangling" jsonschema_description:"untagged"`
}

// imagePattern is an image reference pattern for list_images; its length
// is checked apart, as for containerRef.
var imagePattern = regexp.MustCompile(`^[a-zA-Z0-9_.\-/:@*?\[\]]+$`)

// isImagePattern reports whether s may filter list_images: at most 255
// characters of imagePattern.
func isImagePattern(s string) bool { return len(s) <= 255 && imagePattern.MatchString(s) }

func (e *engine) listImages(ctx context.Context, in ListImagesArgs) (ImageList, error) {
	f := filters.NewArgs()
	if in.Reference != "" {
		if !isImagePattern(in.Reference) {
			return ImageList{}, tools.ArgErrorf("reference", "must be an image name pattern such as nginx or nginx:1.*, got %q", in.Reference)
		}
		f.Add("reference", in.Reference)
	}
	cli, err := e.client()
	if err != nil {
		return ImageList{}, err
	}
	list, err := cli.ImageList(ctx, image.ListOptions{All: in.All, Filters: f})
	if err != nil {
		return ImageList{}, e.fail(err, "listing images")
	}
	out := ImageList{Count: len(list), Images: make([]ImageSummary, 0, len(list))}
	for _, im := range list {
		tags := []string{}
		for _, t := range im.RepoTags {
			if t != "<none>:<none>" {
				tags = append(tags, t)
			}
		}
		digests := []string{}
		for _, d := range im.RepoDigests {
			if d != "<none>@<none>" {
				digests = append(digests, d)
			}
		}
		out.Images = append(out.Images, ImageSummary{ID: im.ID, Tags: tags, Digests: digests, Created: rfc3339(time.Unix(im.Created, 0)),
			SizeBytes: im.Size, Labels: nonNilMap(redact.Map(im.Labels)), ParentID: im.ParentID, Containers: im.Containers, Dangling: len(tags) == 0})
	}
	return out, nil
}

// NetworkList is list_networks's output.
type NetworkList struct {
	Count    int              `json:"count"`
	Networks []NetworkSummary `json:"networks"`
}

// NetworkSummary is one Docker network.
type NetworkSummary struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Driver   string            `json:"driver"`
	Scope    string            `json:"scope"`
	Internal bool              `json:"internal"`
	IPv6     bool              `json:"ipv6"`
	Subnets  []Subnet          `json:"subnets"`
	Labels   map[string]string `json:"labels"`
	Created  string            `json:"created"`
}

// Subnet is one IPAM pool of a network.
type Subnet struct {
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway,omitempty"`
	IPRange string `json:"ip_range,omitempty"`
}

func (e *engine) listNetworks(ctx context.Context, _ tools.NoArgs) (NetworkList, error) {
	cli, err := e.client()
	if err != nil {
		return NetworkList{}, err
	}
	list, err := cli.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return NetworkList{}, e.fail(err, "listing networks")
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	out := NetworkList{Count: len(list), Networks: make([]NetworkSummary, 0, len(list))}
	for _, n := range list {
		s := NetworkSummary{ID: n.ID, Name: n.Name, Driver: n.Driver, Scope: n.Scope, Internal: n.Internal, IPv6: n.EnableIPv6,
			Subnets: []Subnet{}, Labels: nonNilMap(redact.Map(n.Labels)), Created: rfc3339(n.Created)}
		for _, c := range n.IPAM.Config {
			s.Subnets = append(s.Subnets, Subnet{Subnet: c.Subnet, Gateway: c.Gateway, IPRange: c.IPRange})
		}
		out.Networks = append(out.Networks, s)
	}
	return out, nil
}

// VolumeList is list_volumes's output.
type VolumeList struct {
	Count    int             `json:"count"`
	Volumes  []VolumeSummary `json:"volumes"`
	Warnings []string        `json:"warnings"`
}

// VolumeSummary is one Docker volume.
type VolumeSummary struct {
	Name       string            `json:"name"`
	Driver     string            `json:"driver"`
	Mountpoint string            `json:"mountpoint"`
	Scope      string            `json:"scope"`
	Created    string            `json:"created"`
	Labels     map[string]string `json:"labels"`
}

func (e *engine) listVolumes(ctx context.Context, _ tools.NoArgs) (VolumeList, error) {
	cli, err := e.client()
	if err != nil {
		return VolumeList{}, err
	}
	resp, err := cli.VolumeList(ctx, volume.ListOptions{})
	if err != nil {
		return VolumeList{}, e.fail(err, "listing volumes")
	}
	sort.Slice(resp.Volumes, func(i, j int) bool { return resp.Volumes[i].Name < resp.Volumes[j].Name })
	out := VolumeList{Count: len(resp.Volumes), Volumes: make([]VolumeSummary, 0, len(resp.Volumes)), Warnings: nonNil(resp.Warnings)}
	for _, v := range resp.Volumes {
		if v == nil {
			continue
		}
		out.Volumes = append(out.Volumes, VolumeSummary{Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint, Scope: v.Scope,
			Created: dockerTime(v.CreatedAt), Labels: nonNilMap(redact.Map(v.Labels))})
	}
	return out, nil
}

// round2 rounds f to two decimals.
func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// SPDX-License-Identifier: Apache-2.0

package host

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	gphost "github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	psnet "github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/process"
	"github.com/shirou/gopsutil/v4/sensors"

	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
)

// cpuSampler computes CPU utilisation from the difference between the
// current CPU times and those of the previous call, so no call waits for
// a sampling interval.
type cpuSampler struct {
	host     *hostStatic
	mu       sync.Mutex
	last     *cpu.TimesStat
	at       time.Time
	pct      float64
	over     string
	measured bool
}

// percent returns CPU busy percent and the interval it was measured over:
// since the previous call when that is at least 200 ms ago, the previous
// result when calls come faster, and the average since boot on the first
// call.
func (s *cpuSampler) percent(ctx context.Context) (float64, string, error) {
	ts, err := cpu.TimesWithContext(ctx, false)
	if err != nil || len(ts) == 0 {
		return 0, "", fmt.Errorf("reading CPU times: %w", err)
	}
	now, cur := time.Now(), ts[0]
	s.mu.Lock()
	defer s.mu.Unlock()
	switch since := now.Sub(s.at); {
	case s.last == nil:
		s.last, s.at = &cur, now
		return busyPercent(cpu.TimesStat{}, cur), "since boot", nil
	case since < 200*time.Millisecond && s.measured:
		return s.pct, s.over, nil
	case since < 200*time.Millisecond:
		return busyPercent(cpu.TimesStat{}, cur), "since boot", nil
	default:
		s.pct, s.over, s.measured = busyPercent(*s.last, cur), fmt.Sprintf("last %s", since.Round(time.Millisecond)), true
		s.last, s.at = &cur, now
		return s.pct, s.over, nil
	}
}

// hostStatic is what does not change while the server runs: the OS
// release, kernel and architecture, read once. gopsutil may run
// lsb_release to find the release, far too slow for every call.
type hostStatic struct {
	once                            sync.Once
	platform, version, kernel, arch string
}

func (h *hostStatic) get(ctx context.Context) *hostStatic {
	h.once.Do(func() {
		h.platform, _, h.version, _ = gphost.PlatformInformationWithContext(ctx)
		h.kernel, _ = gphost.KernelVersionWithContext(ctx)
		h.arch, _ = gphost.KernelArch()
	})
	return h
}

func busyPercent(a, b cpu.TimesStat) float64 {
	total := func(t cpu.TimesStat) float64 {
		return t.User + t.System + t.Idle + t.Nice + t.Iowait + t.Irq + t.Softirq + t.Steal
	}
	dt := total(b) - total(a)
	if dt <= 0 {
		return 0
	}
	idle := (b.Idle + b.Iowait) - (a.Idle + a.Iowait)
	return round2(100 * (dt - idle) / dt)
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// HealthResult is health_check's output.
type HealthResult struct {
	Status  string `json:"status" jsonschema_description:"ok when the server answers"`
	Time    string `json:"time" jsonschema_description:"server time, RFC 3339 UTC"`
	Version string `json:"version"`
}

// Identity is what names the host and its system.
type Identity struct {
	Hostname        string `json:"hostname"`
	OS              string `json:"os"`
	Platform        string `json:"platform"`
	PlatformVersion string `json:"platform_version"`
	Kernel          string `json:"kernel"`
	Arch            string `json:"arch"`
}

// identity reads the host's Identity.
func identity(ctx context.Context, static *hostStatic) (Identity, error) {
	hs := static.get(ctx)
	id := Identity{OS: runtime.GOOS, Platform: hs.platform, PlatformVersion: hs.version, Kernel: hs.kernel, Arch: hs.arch}
	var err error
	if id.Hostname, err = os.Hostname(); err != nil {
		return id, fmt.Errorf("reading host name: %w", err)
	}
	return id, nil
}

// SystemStatus is get_system_status's output.
type SystemStatus struct {
	Identity
	UptimeSeconds  uint64        `json:"uptime_seconds"`
	Load           [3]float64    `json:"load" jsonschema_description:"1, 5 and 15 minute load averages"`
	CPUCount       int           `json:"cpu_count"`
	CPUPercent     float64       `json:"cpu_percent"`
	CPUPercentOver string        `json:"cpu_percent_over" jsonschema_description:"the interval the CPU percentage was measured over"`
	Memory         MemoryStatus  `json:"memory"`
	Swap           MemoryStatus  `json:"swap"`
	Disks          []DiskStatus  `json:"disks"`
	Temperatures   []Temperature `json:"temperatures" jsonschema_description:"hardware sensors; empty where none are present"`
}

// MemoryStatus is a memory or swap summary in bytes.
type MemoryStatus struct {
	Total       uint64  `json:"total"`
	Used        uint64  `json:"used"`
	Available   uint64  `json:"available"`
	UsedPercent float64 `json:"used_percent"`
}

// DiskStatus is one mounted file system.
type DiskStatus struct {
	Mountpoint  string  `json:"mountpoint"`
	Device      string  `json:"device"`
	FSType      string  `json:"fstype"`
	Total       uint64  `json:"total"`
	Used        uint64  `json:"used"`
	Free        uint64  `json:"free"`
	UsedPercent float64 `json:"used_percent"`
}

// Temperature is one sensor reading in degrees Celsius.
type Temperature struct {
	Sensor  string  `json:"sensor"`
	Celsius float64 `json:"celsius"`
}

// TopProcessesArgs is get_top_processes's input.
type TopProcessesArgs struct {
	Limit  *int   `json:"limit,omitempty" jsonschema_description:"how many processes, 1 to 100 (default 10)"`
	SortBy string `json:"sort_by,omitempty" jsonschema:"enum=cpu,enum=memory" jsonschema_description:"cpu (default) or memory"`
}

// ProcessInfo is one process.
type ProcessInfo struct {
	PID           int32   `json:"pid"`
	Name          string  `json:"name"`
	User          string  `json:"user"`
	CPUPercent    float64 `json:"cpu_percent"`
	MemoryRSS     uint64  `json:"memory_rss"`
	MemoryPercent float64 `json:"memory_percent"`
	Status        string  `json:"status"`
}

// TopProcesses is get_top_processes's output.
type TopProcesses struct {
	SortedBy       string        `json:"sorted_by"`
	CPUPercentOver string        `json:"cpu_percent_over" jsonschema_description:"the interval per-process CPU percentages were measured over"`
	Total          int           `json:"total" jsonschema_description:"number of processes on the host"`
	Processes      []ProcessInfo `json:"processes"`
}

// NetworkStatus is get_network_status's output.
type NetworkStatus struct {
	Interfaces []Interface `json:"interfaces"`
}

// Interface is one network interface.
type Interface struct {
	Name      string   `json:"name"`
	Index     int      `json:"index"`
	MTU       int      `json:"mtu"`
	MAC       string   `json:"mac,omitempty"`
	Flags     []string `json:"flags"`
	State     string   `json:"state" jsonschema_description:"operational state from the kernel: up, down, unknown…"`
	Addresses []string `json:"addresses"`
}

// IOCounters is get_network_io_counters's output.
type IOCounters struct {
	Interfaces []InterfaceIO `json:"interfaces"`
}

// InterfaceIO is one interface's counters since boot.
type InterfaceIO struct {
	Name        string `json:"name"`
	BytesSent   uint64 `json:"bytes_sent"`
	BytesRecv   uint64 `json:"bytes_recv"`
	PacketsSent uint64 `json:"packets_sent"`
	PacketsRecv uint64 `json:"packets_recv"`
	ErrIn       uint64 `json:"errors_in"`
	ErrOut      uint64 `json:"errors_out"`
	DropIn      uint64 `json:"drops_in"`
	DropOut     uint64 `json:"drops_out"`
}

// ConnectionsArgs is get_active_connections's input.
type ConnectionsArgs struct {
	Limit *int `json:"limit,omitempty" jsonschema_description:"how many connections, 1 to 1000 (default 50)"`
}

// Connections is get_active_connections's output.
type Connections struct {
	Total       int          `json:"total"`
	Connections []Connection `json:"connections"`
}

// Connection is one socket.
type Connection struct {
	Protocol string `json:"protocol"`
	Local    string `json:"local"`
	Remote   string `json:"remote,omitempty"`
	Status   string `json:"status,omitempty"`
	PID      int32  `json:"pid,omitempty"`
}

func systemStatus(ctx context.Context, cs *cpuSampler) (SystemStatus, error) {
	var st SystemStatus
	var err error
	if st.Identity, err = identity(ctx, cs.host); err != nil {
		return st, err
	}
	if st.UptimeSeconds, err = gphost.UptimeWithContext(ctx); err != nil {
		return st, fmt.Errorf("reading uptime: %w", err)
	}
	if la, err := load.AvgWithContext(ctx); err == nil {
		st.Load = [3]float64{la.Load1, la.Load5, la.Load15}
	}
	st.CPUCount, _ = cpu.CountsWithContext(ctx, true)
	if st.CPUPercent, st.CPUPercentOver, err = cs.percent(ctx); err != nil {
		return st, err
	}
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return st, fmt.Errorf("reading memory: %w", err)
	}
	st.Memory = MemoryStatus{Total: vm.Total, Used: vm.Used, Available: vm.Available, UsedPercent: round2(vm.UsedPercent)}
	if sw, err := mem.SwapMemoryWithContext(ctx); err == nil {
		st.Swap = MemoryStatus{Total: sw.Total, Used: sw.Used, Available: sw.Free, UsedPercent: round2(sw.UsedPercent)}
	}
	if st.Disks, err = disks(ctx); err != nil {
		return st, err
	}
	st.Temperatures = []Temperature{}
	temps, _ := sensors.TemperaturesWithContext(ctx) // partial results are fine: sensors are optional
	for _, t := range temps {
		st.Temperatures = append(st.Temperatures, Temperature{Sensor: t.SensorKey, Celsius: round2(t.Temperature)})
	}
	return st, nil
}

// disks returns the mounted file systems with a size.
func disks(ctx context.Context) ([]DiskStatus, error) {
	parts, err := disk.PartitionsWithContext(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	out := []DiskStatus{}
	for _, p := range parts {
		u, err := disk.UsageWithContext(ctx, p.Mountpoint)
		if err != nil || u.Total == 0 {
			continue
		}
		out = append(out, DiskStatus{Mountpoint: p.Mountpoint, Device: showDevice(p.Device), FSType: p.Fstype,
			Total: u.Total, Used: u.Used, Free: u.Free, UsedPercent: round2(u.UsedPercent)})
	}
	return out, nil
}

func systemStatusText(s SystemStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %s, kernel %s (%s), up %s\n", s.Hostname, s.Platform, s.PlatformVersion, s.Kernel, s.Arch,
		(time.Duration(s.UptimeSeconds) * time.Second).String())
	fmt.Fprintf(&b, "load %.2f %.2f %.2f on %d CPUs, CPU %.1f%% (%s)\n", s.Load[0], s.Load[1], s.Load[2], s.CPUCount, s.CPUPercent, s.CPUPercentOver)
	fmt.Fprintf(&b, "memory %s of %s used (%.1f%%), swap %s of %s\n", bytesText(s.Memory.Used), bytesText(s.Memory.Total),
		s.Memory.UsedPercent, bytesText(s.Swap.Used), bytesText(s.Swap.Total))
	for _, d := range s.Disks {
		fmt.Fprintf(&b, "disk %s (%s) %s of %s used (%.1f%%)\n", d.Mountpoint, d.FSType, bytesText(d.Used), bytesText(d.Total), d.UsedPercent)
	}
	for _, t := range s.Temperatures {
		fmt.Fprintf(&b, "temperature %s %.1f°C\n", t.Sensor, t.Celsius)
	}
	return b.String()
}

func bytesText(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// procSampler keeps the previous call's per-process CPU times, so process
// CPU percentages are measured between calls instead of blocking one.
type procSampler struct {
	mu    sync.Mutex
	times map[int32]float64
	at    time.Time
}

func topProcesses(ctx context.Context, ps *procSampler, in TopProcessesArgs) (TopProcesses, error) {
	limit, err := tools.IntArg("limit", in.Limit, 10, 1, 100)
	if err != nil {
		return TopProcesses{}, err
	}
	sortBy := cmp.Or(in.SortBy, "cpu")
	if sortBy != "cpu" && sortBy != "memory" {
		return TopProcesses{}, tools.ArgErrorf("sort_by", "must be cpu or memory, got %q", in.SortBy)
	}
	procs, err := process.ProcessesWithContext(ctx)
	if err != nil {
		return TopProcesses{}, fmt.Errorf("listing processes: %w", err)
	}
	vm, _ := mem.VirtualMemoryWithContext(ctx)
	now := time.Now()
	ps.mu.Lock()
	prev, elapsed := ps.times, now.Sub(ps.at).Seconds()
	ps.mu.Unlock()
	useDelta := prev != nil && elapsed >= 0.2
	cur := make(map[int32]float64, len(procs))
	out := make([]ProcessInfo, 0, len(procs))
	for _, p := range procs {
		t, err := p.TimesWithContext(ctx)
		if err != nil {
			continue // the process exited while we looked
		}
		busy := t.User + t.System
		cur[p.Pid] = busy
		info := ProcessInfo{PID: p.Pid}
		if useDelta {
			if old, ok := prev[p.Pid]; ok && busy >= old {
				info.CPUPercent = round2(100 * (busy - old) / elapsed)
			}
		} else if ct, err := p.CreateTimeWithContext(ctx); err == nil {
			if life := now.Sub(time.UnixMilli(ct)).Seconds(); life > 0 {
				info.CPUPercent = round2(100 * busy / life)
			}
		}
		if mi, err := p.MemoryInfoWithContext(ctx); err == nil {
			info.MemoryRSS = mi.RSS
			if vm != nil && vm.Total > 0 {
				info.MemoryPercent = round2(100 * float64(mi.RSS) / float64(vm.Total))
			}
		}
		out = append(out, info)
	}
	ps.mu.Lock()
	ps.times, ps.at = cur, now
	ps.mu.Unlock()
	if sortBy == "cpu" {
		slices.SortStableFunc(out, func(a, b ProcessInfo) int { return cmp.Compare(b.CPUPercent, a.CPUPercent) })
	} else {
		slices.SortStableFunc(out, func(a, b ProcessInfo) int { return cmp.Compare(b.MemoryRSS, a.MemoryRSS) })
	}
	res := TopProcesses{SortedBy: sortBy, Total: len(out), CPUPercentOver: "process lifetime (first call)"}
	if useDelta {
		res.CPUPercentOver = fmt.Sprintf("last %s", time.Duration(elapsed*float64(time.Second)).Round(time.Millisecond))
	}
	out = out[:min(limit, len(out))]
	for i := range out {
		p, err := process.NewProcessWithContext(ctx, out[i].PID)
		if err != nil {
			continue
		}
		out[i].Name = processName(ctx, p)
		out[i].User, _ = p.UsernameWithContext(ctx)
		if st, err := p.StatusWithContext(ctx); err == nil && len(st) > 0 {
			out[i].Status = st[0]
		}
	}
	res.Processes = out
	return res, nil
}

func networkStatus(ctx context.Context, hp sandbox.HostPaths) (NetworkStatus, error) {
	ifs, err := psnet.InterfacesWithContext(ctx)
	if err != nil {
		return NetworkStatus{}, fmt.Errorf("listing interfaces: %w", err)
	}
	res := NetworkStatus{Interfaces: []Interface{}}
	for _, i := range ifs {
		it := Interface{Name: i.Name, Index: i.Index, MTU: i.MTU, MAC: i.HardwareAddr, Flags: i.Flags, Addresses: []string{}, State: "unknown"}
		if it.Flags == nil {
			it.Flags = []string{}
		}
		for _, a := range i.Addrs {
			it.Addresses = append(it.Addresses, a.Addr)
		}
		if b, err := os.ReadFile(hp.Path(filepath.Join("/sys/class/net", filepath.Base(i.Name), "operstate"))); err == nil {
			it.State = strings.TrimSpace(string(b))
		}
		res.Interfaces = append(res.Interfaces, it)
	}
	return res, nil
}

func ioCounters(ctx context.Context) (IOCounters, error) {
	cs, err := psnet.IOCountersWithContext(ctx, true)
	if err != nil {
		return IOCounters{}, fmt.Errorf("reading interface counters: %w", err)
	}
	res := IOCounters{Interfaces: []InterfaceIO{}}
	for _, c := range cs {
		res.Interfaces = append(res.Interfaces, InterfaceIO{Name: c.Name, BytesSent: c.BytesSent, BytesRecv: c.BytesRecv,
			PacketsSent: c.PacketsSent, PacketsRecv: c.PacketsRecv, ErrIn: c.Errin, ErrOut: c.Errout, DropIn: c.Dropin, DropOut: c.Dropout})
	}
	return res, nil
}

func activeConnections(ctx context.Context, in ConnectionsArgs) (Connections, error) {
	limit, err := tools.IntArg("limit", in.Limit, 50, 1, 1000)
	if err != nil {
		return Connections{}, err
	}
	cs, err := psnet.ConnectionsWithContext(ctx, "inet")
	if err != nil {
		return Connections{}, fmt.Errorf("reading sockets: %w", err)
	}
	res := Connections{Total: len(cs), Connections: []Connection{}}
	for _, c := range cs[:min(limit, len(cs))] {
		conn := Connection{Protocol: protoName(c.Family, c.Type), Local: addrText(c.Laddr), Status: c.Status, PID: c.Pid}
		if c.Raddr.IP != "" {
			conn.Remote = addrText(c.Raddr)
		}
		if conn.Status == "NONE" {
			conn.Status = ""
		}
		res.Connections = append(res.Connections, conn)
	}
	return res, nil
}

func protoName(family, typ uint32) string {
	p := "tcp"
	if typ == 2 { // SOCK_DGRAM
		p = "udp"
	}
	if family == 10 { // AF_INET6
		p += "6"
	}
	return p
}

func addrText(a psnet.Addr) string {
	if strings.Contains(a.IP, ":") {
		return fmt.Sprintf("[%s]:%d", a.IP, a.Port)
	}
	return fmt.Sprintf("%s:%d", a.IP, a.Port)
}

// SPDX-License-Identifier: Apache-2.0

package systemd

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/tailops/tailops/journal"
	"github.com/tailops/tailops/redact"
	"github.com/tailops/tailops/tools"
)

const (
	ifaceUnit    = "org.freedesktop.systemd1.Unit"
	ifaceService = "org.freedesktop.systemd1.Service"
	destSystemd  = "org.freedesktop.systemd1"
)

// activeStates are the values list_services's state may take.
var activeStates = []string{"active", "inactive", "failed", "activating", "deactivating", "reloading", "maintenance", "refreshing"}

// ListArgs is list_services's input.
type ListArgs struct {
	State   string `json:"state,omitempty" jsonschema_description:"only services in this active state: active, inactive, failed, activating, deactivating, reloading"`
	Pattern string `json:"pattern,omitempty" jsonschema_description:"only services whose unit name matches this glob (* and ?), such as nginx* or *.service"`
}

// Service is one service in list_services.
type Service struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	LoadState   string `json:"load_state"`
	ActiveState string `json:"active_state"`
	SubState    string `json:"sub_state"`
	// Enabled is the unit file's state: enabled, disabled, static, masked…
	Enabled string `json:"enabled"`
	// MemoryBytes is MemoryCurrent; absent when systemd does not account it.
	MemoryBytes *uint64 `json:"memory_bytes,omitempty"`
	// Restarts is NRestarts, the automatic restarts since it was started.
	Restarts *uint32 `json:"restarts,omitempty"`
}

// ServiceList is list_services's output.
type ServiceList struct {
	Services []Service `json:"services"`
	Count    int       `json:"count"`
}

// listServices lists the loaded services: one ListUnitsByPatterns call,
// then the three properties of every unit that call lacks, pipelined.
func (t *Toolset) listServices(ctx context.Context, in ListArgs) (ServiceList, error) {
	var states, patterns []string
	if in.State != "" {
		if !slices.Contains(activeStates, in.State) {
			return ServiceList{}, tools.ArgErrorf("state", "must be one of %s, got %q", strings.Join(activeStates, ", "), in.State)
		}
		states = []string{in.State}
	}
	if in.Pattern != "" {
		for i := 0; i < len(in.Pattern); i++ {
			if c := in.Pattern[i]; !isUnitChar(c) && c != '*' && c != '?' {
				return ServiceList{}, tools.ArgErrorf("pattern", "unit name characters, * and ? only, got %q", c)
			}
		}
		patterns = []string{in.Pattern}
	} else {
		patterns = []string{"*.service"} // systemd filters: a smaller answer
	}
	conn, raw, err := t.bus.get(ctx)
	if err != nil {
		return ServiceList{}, err
	}
	units, err := conn.ListUnitsByPatternsContext(ctx, states, patterns)
	if err != nil {
		return ServiceList{}, t.fail(err, "listing units")
	}
	// systemd's state filter matches the load and sub states too: keep
	// the active state asked for, and services only.
	units = slices.DeleteFunc(units, func(u sd.UnitStatus) bool {
		return unitType(u.Name) != "service" || in.State != "" && u.ActiveState != in.State
	})
	slices.SortFunc(units, func(a, b sd.UnitStatus) int { return strings.Compare(a.Name, b.Name) })
	// Up to three Gets per unit (MemoryCurrent only of a unit that has
	// processes: systemd has none for the others), sent without awaiting
	// answers, in batches that stay under the bus's limit of replies
	// pending per connection (max_replies_per_connection, 128 on the
	// system bus by default). Each Get costs systemd about as much as a
	// whole ListUnits, so there are no more of them than the result needs.
	props := [3][2]string{{ifaceUnit, "UnitFileState"}, {ifaceService, "MemoryCurrent"}, {ifaceService, "NRestarts"}}
	calls := make([][3]*dbus.Call, len(units))
	const batch = 40
	done := make(chan *dbus.Call, 3*batch)
	for lo := 0; lo < len(units); lo += batch {
		hi, sent := min(lo+batch, len(units)), 0
		for i := lo; i < hi; i++ {
			obj := raw.Object(destSystemd, units[i].Path)
			for j, p := range props {
				if j == 1 && (units[i].ActiveState == "inactive" || units[i].ActiveState == "failed") {
					continue
				}
				calls[i][j] = obj.GoWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, done, p[0], p[1])
				sent++
			}
		}
		for range sent { // every call of the batch answered
			<-done
		}
	}
	out := ServiceList{Services: make([]Service, 0, len(units))}
	for i, u := range units {
		s := Service{Name: u.Name, Description: u.Description, LoadState: u.LoadState, ActiveState: u.ActiveState, SubState: u.SubState}
		for j, c := range calls[i] {
			var v dbus.Variant
			if c == nil || c.Err != nil || c.Store(&v) != nil {
				continue
			}
			switch j {
			case 0:
				s.Enabled, _ = v.Value().(string)
			case 1:
				s.MemoryBytes = accounted(v.Value())
			case 2:
				if n, ok := v.Value().(uint32); ok && n != math.MaxUint32 {
					s.Restarts = &n
				}
			}
		}
		out.Services = append(out.Services, s)
	}
	out.Count = len(out.Services)
	return out, nil
}

// accounted returns a uint64 property that systemd sets to its maximum
// when it does not account it (MemoryCurrent, CPUUsageNSec, TasksCurrent)
// as a pointer, nil for "not accounted".
func accounted(v any) *uint64 {
	n, ok := v.(uint64)
	if !ok || n == math.MaxUint64 {
		return nil
	}
	return &n
}

// StatusArgs is get_service_status's input.
type StatusArgs struct {
	Unit  string `json:"unit" jsonschema:"required" jsonschema_description:"unit name, such as nginx.service (nginx is enough for a service)"`
	Lines *int   `json:"lines,omitempty" jsonschema_description:"how many of the unit's last journal lines (default 20, 0 to 200)"`
}

// JournalLine is one line of a unit's journal.
type JournalLine struct {
	Time     string `json:"time"`
	Priority string `json:"priority,omitempty"`
	PID      string `json:"pid,omitempty"`
	Message  string `json:"message"`
}

// ServiceStatus is get_service_status's output: what list_services says
// of the unit, and more.
type ServiceStatus struct {
	Service
	FragmentPath string `json:"fragment_path,omitempty"`
	// Since is when it last became active (ActiveEnterTimestamp), RFC 3339.
	Since      string   `json:"since,omitempty"`
	MainPID    uint32   `json:"main_pid,omitempty"`
	CPUSeconds *float64 `json:"cpu_seconds,omitempty"`
	Tasks      *uint64  `json:"tasks,omitempty"`
	// Result is the service's last result: success, exit-code, signal…
	Result string `json:"result,omitempty"`
	// Journal are the unit's last lines, oldest first.
	Journal []JournalLine `json:"journal"`
	// JournalNote says why Journal is empty or short, when it is.
	JournalNote string `json:"journal_note,omitempty"`
}

// serviceStatus reads one unit's properties and its last journal lines.
func (t *Toolset) serviceStatus(ctx context.Context, in StatusArgs) (ServiceStatus, error) {
	name, err := UnitName(in.Unit)
	if err != nil {
		return ServiceStatus{}, tools.ArgErrorf("unit", "%v", err)
	}
	n, err := tools.IntArg("lines", in.Lines, 20, 0, 200)
	if err != nil {
		return ServiceStatus{}, err
	}
	conn, _, err := t.bus.get(ctx)
	if err != nil {
		return ServiceStatus{}, err
	}
	u, err := conn.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return ServiceStatus{}, t.fail(err, "reading unit "+name)
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	out := ServiceStatus{Service: Service{Name: name, Description: str(u, "Description"), LoadState: str(u, "LoadState"),
		ActiveState: str(u, "ActiveState"), SubState: str(u, "SubState"), Enabled: str(u, "UnitFileState")},
		FragmentPath: str(u, "FragmentPath")}
	if us, ok := u["ActiveEnterTimestamp"].(uint64); ok && us > 0 {
		out.Since = time.UnixMicro(int64(us)).UTC().Format(time.RFC3339)
	}
	if unitType(name) == "service" && out.LoadState == "loaded" {
		s, err := conn.GetUnitTypePropertiesContext(ctx, name, "Service")
		if err != nil {
			return ServiceStatus{}, t.fail(err, "reading service "+name)
		}
		out.MainPID, _ = s["MainPID"].(uint32)
		out.MemoryBytes = accounted(s["MemoryCurrent"])
		if ns := accounted(s["CPUUsageNSec"]); ns != nil {
			sec := float64(*ns) / 1e9
			out.CPUSeconds = &sec
		}
		out.Tasks = accounted(s["TasksCurrent"])
		if r, ok := s["NRestarts"].(uint32); ok {
			out.Restarts = &r
		}
		out.Result = str(s, "Result")
	}
	out.Journal, out.JournalNote = t.journalLines(name, n)
	return out, nil
}

// journalLines returns the last n lines of the unit's journal, oldest
// first: what the unit's processes logged (_SYSTEMD_UNIT) and what
// systemd logged about the unit (UNIT, from PID 1). When it cannot, the
// note says why.
func (t *Toolset) journalLines(unit string, n int) ([]JournalLine, string) {
	lines := []JournalLine{}
	if n == 0 {
		return lines, ""
	}
	if len(t.journals) == 0 {
		return lines, "no journal directory is configured"
	}
	j, err := journal.OpenDir(&journal.Options{MaxFieldSize: 16 << 10, MaxEntrySize: 64 << 10}, t.journals...)
	if err != nil {
		return lines, "the journal could not be read: " + journal.DescribeError(err)
	}
	defer j.Close()
	if len(j.Files()) == 0 {
		note := "no journal files in " + strings.Join(t.journals, ", ")
		if len(j.Skipped) > 0 {
			note = "no journal file could be opened: " + describeAll(j.Skipped)
		}
		return lines, note
	}
	var entries []*journal.Entry
	var note string
	for _, m := range journal.UnitMatches(unit) {
		r, err := j.Reader(m...)
		if err != nil {
			return lines, "the journal could not be read: " + journal.DescribeError(err)
		}
		r.SeekTail()
		for range n {
			e, err := r.Prev()
			if err == io.EOF {
				break
			}
			if err != nil {
				note = "the journal could not be read to the end: " + journal.DescribeError(err)
				break
			}
			entries = append(entries, e)
		}
	}
	slices.SortStableFunc(entries, func(a, b *journal.Entry) int { return a.Realtime.Compare(b.Realtime) })
	if len(entries) > n {
		entries = entries[len(entries)-n:]
	}
	for _, e := range entries {
		lines = append(lines, JournalLine{Time: e.Realtime.UTC().Format(time.RFC3339Nano), Priority: e.String("PRIORITY"),
			PID: e.String("_PID"), Message: redact.Text(e.String("MESSAGE"))})
	}
	if len(j.Skipped) > 0 && note == "" {
		note = fmt.Sprintf("%d journal files could not be opened: %s", len(j.Skipped), describeAll(j.Skipped))
	}
	return lines, note
}

// describeAll describes journal errors naming files by base name only.
func describeAll(errs []error) string {
	s := make([]string, len(errs))
	for i, err := range errs {
		s[i] = journal.DescribeError(err)
	}
	return strings.Join(s, "; ")
}

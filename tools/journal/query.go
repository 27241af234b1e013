// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	jfile "github.com/tailops/tailops/journal"
	"github.com/tailops/tailops/tools"
)

// GetArgs is get_journal's input.
type GetArgs struct {
	Unit     string            `json:"unit,omitempty" jsonschema_description:"a unit, e.g. nginx.service (nginx means nginx.service): its processes' entries and systemd's messages about it, as journalctl -u"`
	Priority tools.IntOrString `json:"priority,omitempty" jsonschema_description:"0 to 7 (a number or a string) or emerg, alert, crit, err, warning, notice, info, debug: that level and more severe, as journalctl -p"`
	Since    string            `json:"since,omitempty" jsonschema_description:"only entries at or after this: an RFC 3339 time, or relative to now such as -1h, -30m, -2h30m; or now"`
	Until    string            `json:"until,omitempty" jsonschema_description:"only entries at or before this, as since"`
	Around   string            `json:"around,omitempty" jsonschema_description:"what happened around this moment (as since): entries from around-window to around+window, half of lines before it and half after; not with since or until"`
	Window   string            `json:"window,omitempty" jsonschema_description:"with around: how far either side, a duration from 1s to 168h (default 5m)"`
	Boot     tools.IntOrString `json:"boot,omitempty" jsonschema_description:"a boot ID (32 hex digits), or an offset as journalctl -b takes it (a number or a string): 0 the latest boot in the journal, -1 the one before, …; 1 the first"`
	Grep     string            `json:"grep,omitempty" jsonschema_description:"only entries whose message matches this Go RE2 regular expression, case-insensitive unless it has an upper-case letter (journalctl's smart case); matched against the message as returned, secrets redacted"`
	Lines    *int              `json:"lines,omitempty" jsonschema_description:"how many entries at most, 1 to 10000 (default 100)"`
	Order    string            `json:"order,omitempty" jsonschema:"enum=newest,enum=oldest" jsonschema_description:"newest first (default) or oldest first; with since and oldest, the entries right after since"`
	MaxBytes *int              `json:"max_bytes,omitempty" jsonschema_description:"cap on the entries' text, 1024 to 1048576 (default 65536)"`
}

// Limits of get_journal's arguments.
const (
	defaultLines    = 100
	maxLines        = 10000
	defaultMaxBytes = 64 << 10
	defaultWindow   = 5 * time.Minute
	maxWindow       = 168 * time.Hour
	maxUnitLen      = 256
	maxGrepLen      = tools.MaxRegexBytes - len("(?i)") // the smart-case prefix fits in tools.CompileRegex's bound
)

// query is get_journal's arguments, parsed and checked.
type query struct {
	unit        string // with its type suffix; "" for all
	maxPriority int    // -1: any
	since       time.Time
	until       time.Time
	around      time.Time // zero: not an around query
	window      time.Duration
	bootID      string // a boot ID given, 32 hex digits
	bootOffset  *int   // a boot given by offset
	grep        *regexp.Regexp
	lines       int
	newest      bool
	maxBytes    int
}

// priorityNames are syslog's levels by journalctl's names.
var priorityNames = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// parseQuery checks get_journal's arguments against now.
func parseQuery(in GetArgs, now time.Time) (*query, error) {
	q := &query{maxPriority: -1, newest: true}
	var err error
	if q.lines, err = tools.IntArg("lines", in.Lines, defaultLines, 1, maxLines); err != nil {
		return nil, err
	}
	if q.maxBytes, err = tools.IntArg("max_bytes", in.MaxBytes, defaultMaxBytes, 1024, 1<<20); err != nil {
		return nil, err
	}
	switch in.Order {
	case "", "newest":
	case "oldest":
		q.newest = false
	default:
		return nil, tools.ArgErrorf("order", "must be newest or oldest, got %q", in.Order)
	}
	if q.unit, err = parseUnit(in.Unit); err != nil {
		return nil, err
	}
	if in.Priority != "" {
		p := strings.ToLower(strings.TrimSpace(string(in.Priority)))
		if n, err := strconv.Atoi(p); err == nil && n >= 0 && n <= 7 {
			q.maxPriority = n
		} else if i := indexOf(priorityNames, p); i >= 0 {
			q.maxPriority = i
		} else {
			return nil, tools.ArgErrorf("priority", "must be 0 to 7 or one of %s, got %q", strings.Join(priorityNames, ", "), in.Priority)
		}
	}
	if q.since, err = parseTime("since", in.Since, now); err != nil {
		return nil, err
	}
	if q.until, err = parseTime("until", in.Until, now); err != nil {
		return nil, err
	}
	if !q.since.IsZero() && !q.until.IsZero() && q.until.Before(q.since) {
		return nil, tools.ArgErrorf("until", "is before since")
	}
	if q.around, err = parseTime("around", in.Around, now); err != nil {
		return nil, err
	}
	switch {
	case in.Around != "" && (in.Since != "" || in.Until != ""):
		return nil, tools.ArgErrorf("around", "cannot be combined with since or until: it sets both from window")
	case in.Around == "" && in.Window != "":
		return nil, tools.ArgErrorf("window", "only applies with around")
	case in.Around != "":
		q.window = defaultWindow
		if in.Window != "" {
			d, err := time.ParseDuration(in.Window)
			if err != nil || d < time.Second || d > maxWindow {
				return nil, tools.ArgErrorf("window", "must be a duration from 1s to 168h such as 5m, got %q", in.Window)
			}
			q.window = d
		}
		q.since, q.until = q.around.Add(-q.window), q.around.Add(q.window)
	}
	if err := q.parseBoot(string(in.Boot)); err != nil {
		return nil, err
	}
	if in.Grep != "" {
		if len(in.Grep) > maxGrepLen {
			return nil, tools.ArgErrorf("grep", "longer than %d bytes", maxGrepLen)
		}
		expr := in.Grep
		if !strings.ContainsFunc(expr, unicode.IsUpper) {
			expr = "(?i)" + expr
		}
		// Bounded as every caller's expression is; a message is matched
		// whole (journald keeps them short).
		if q.grep, _, err = tools.CompileRegex("grep", expr); err != nil {
			return nil, err
		}
	}
	return q, nil
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

// unitTypes are the suffixes of systemd's unit types.
var unitTypes = []string{".service", ".socket", ".device", ".mount", ".automount", ".swap", ".target", ".path", ".timer", ".slice", ".scope"}

// parseUnit checks a unit name and adds .service when it has no type, as
// journalctl -u does. Patterns are refused.
func parseUnit(u string) (string, error) {
	if u == "" {
		return "", nil
	}
	if len(u) > maxUnitLen {
		return "", tools.ArgErrorf("unit", "longer than %d bytes", maxUnitLen)
	}
	for _, r := range u {
		ok := r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(`:-_.\@`, r))
		if !ok {
			return "", tools.ArgErrorf("unit", "%q is not a unit name: letters, digits and :-_.\\@ only (no patterns)", u)
		}
	}
	for _, s := range unitTypes {
		if strings.HasSuffix(u, s) && len(u) > len(s) {
			return u, nil
		}
	}
	return u + ".service", nil
}

// parseTime parses an RFC 3339 time, "now", or a signed duration relative
// to now; "" is the zero time.
func parseTime(arg, s string, now time.Time) (time.Time, error) {
	switch {
	case s == "":
		return time.Time{}, nil
	case s == "now":
		return now, nil
	case s[0] == '-' || s[0] == '+':
		d, err := time.ParseDuration(s)
		if err == nil {
			return now.Add(d), nil
		}
	default:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err == nil {
			return t, nil
		}
	}
	return time.Time{}, tools.ArgErrorf(arg, "must be an RFC 3339 time such as 2025-01-02T15:04:05Z, now, or relative to now such as -1h or -30m, got %q", s)
}

// parseBoot parses a boot: an ID, or an offset as journalctl -b takes it.
func (q *query) parseBoot(s string) error {
	if s == "" {
		return nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		q.bootOffset = &n
		return nil
	}
	id, err := jfile.ParseID(s)
	if err != nil {
		return tools.ArgErrorf("boot", "must be a boot ID (32 hex digits) or an offset such as 0 (the latest boot) or -1, got %q", s)
	}
	q.bootID = id.String()
	return nil
}

// resolveBoot turns a boot offset into its ID among boots (oldest first):
// 0 and below count back from the latest, above 0 on from the first.
func resolveBoot(off int, boots []jfile.Boot) (string, error) {
	i := len(boots) - 1 + off
	if off > 0 {
		i = off - 1
	}
	if i < 0 || i >= len(boots) {
		return "", tools.ArgErrorf("boot", "offset %d: the journal holds %d boot(s)", off, len(boots))
	}
	return boots[i].ID.String(), nil
}

// matchSets are the reader match sets of the query: one, or with a unit
// two (the unit's processes; systemd's messages about it), whose entries
// are merged.
func (q *query) matchSets() [][]string {
	var common []string
	if q.maxPriority >= 0 {
		for p := 0; p <= q.maxPriority; p++ {
			common = append(common, fmt.Sprintf("PRIORITY=%d", p))
		}
	}
	if q.bootID != "" {
		common = append(common, "_BOOT_ID="+q.bootID)
	}
	if q.unit == "" {
		return [][]string{common}
	}
	return jfile.UnitMatches(q.unit, common...)
}

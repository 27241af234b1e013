// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tailops/tailops/journal/journaltest"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

const (
	bootA = "0123456789abcdef0123456789abcdef"
	bootB = "fedcba9876543210fedcba9876543210"
	bootC = "00112233445566778899aabbccddeeff"
)

// base is when the test journal's first entry was logged.
var base = time.Date(2023, 11, 14, 22, 0, 0, 0, time.UTC)

// layout is how the test journals are written: as journald writes today.
var layout = journaltest.Layout{Compact: true, Keyed: true, Compress: true}

// entry makes a test entry.
func entry(at time.Time, boot string, fields ...string) journaltest.Entry {
	e := journaltest.Entry{Realtime: uint64(at.UnixMicro()), Monotonic: uint64(at.Sub(base).Microseconds()) + 1e6, Boot: boot}
	for _, f := range fields {
		n, v, _ := strings.Cut(f, "=")
		e.Fields = append(e.Fields, journaltest.Field{Name: n, Value: []byte(v)})
	}
	return e
}

// numbered are the test journal's 200 numbered entries, one a second from
// base: "message I" from unitI%3.service at priority I%8 with PID 1000+I,
// on boot A (0 to 99) and B (100 to 199).
func numbered() []journaltest.Entry {
	var es []journaltest.Entry
	for i := range 200 {
		boot := bootA
		if i >= 100 {
			boot = bootB
		}
		es = append(es, entry(base.Add(time.Duration(i)*time.Second), boot,
			fmt.Sprintf("_SYSTEMD_UNIT=unit%d.service", i%3), fmt.Sprintf("PRIORITY=%d", i%8), fmt.Sprintf("_PID=%d", 1000+i),
			"SYSLOG_IDENTIFIER=app", fmt.Sprintf("MESSAGE=message %d", i)))
	}
	return es
}

// testJournal writes the test journal in a directory of its own: the
// numbered entries; systemd's message about unit1.service (logged by PID
// 1, at 200 s); a message and an identifier with a secret (201 s); a long message (202 s);
// and, on boot C, three recent entries (30, 20 and 10 minutes ago).
func testJournal(t *testing.T, now time.Time) string {
	t.Helper()
	dir := t.TempDir()
	es := numbered()
	es = append(es,
		entry(base.Add(200*time.Second), bootB, "_SYSTEMD_UNIT=init.scope", "UNIT=unit1.service", "_PID=1", "PRIORITY=3",
			"SYSLOG_IDENTIFIER=systemd", "MESSAGE=unit1.service: Failed with result 'exit-code'."),
		entry(base.Add(201*time.Second), bootB, "_SYSTEMD_UNIT=unit0.service", "PRIORITY=6", "_PID=7",
			"SYSLOG_IDENTIFIER=app token=hunter2ident", "MESSAGE=login ok password=hunter2sekrit"),
		entry(base.Add(202*time.Second), bootB, "_SYSTEMD_UNIT=unit2.service", "PRIORITY=6", "_PID=8",
			"MESSAGE=long "+strings.Repeat("x", 5000)),
	)
	for _, ago := range []int{30, 20, 10} {
		es = append(es, entry(now.Add(-time.Duration(ago)*time.Minute), bootC, "_SYSTEMD_UNIT=unit0.service", "PRIORITY=5", "_PID=9",
			fmt.Sprintf("MESSAGE=recent %d", ago)))
	}
	journaltest.Write(t, filepath.Join(dir, "system.journal"), layout, es)
	return dir
}

// serve serves a journal toolset reading dirs through a real in-process
// server and returns a client with system:read.
func serve(t *testing.T, dirs ...string) *toolstest.Client {
	t.Helper()
	ts, err := New(Config{Dirs: dirs})
	if err != nil {
		t.Fatal(err)
	}
	return toolstest.New(t, []tools.Toolset{ts}, nil).Client(t)
}

// messages are the results' messages.
func messages(r Result) []string {
	out := []string{}
	for _, e := range r.Entries {
		out = append(out, e.Message)
	}
	return out
}

// nums are "message N" for the numbers from lo to hi, stepping by step
// (negative for descending).
func nums(lo, hi, step int) []string {
	var out []string
	for i := lo; (step > 0 && i <= hi) || (step < 0 && i >= hi); i += step {
		out = append(out, fmt.Sprintf("message %d", i))
	}
	return out
}

// TestGetJournal runs every filter, both orders and the bounds against a
// journal systemd-journal-remote wrote.
func TestGetJournal(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := serve(t, testJournal(t, now))
	at := func(sec int) string { return base.Add(time.Duration(sec) * time.Second).Format(time.RFC3339) }
	secret := "login ok password=[REDACTED]"
	cases := []struct {
		name      string
		args      map[string]any
		want      []string // messages; nil: see check
		truncated bool
		check     func(t *testing.T, r Result)
	}{
		{name: "newest first by default", args: map[string]any{"lines": 5},
			want: []string{"recent 10", "recent 20", "recent 30", "long " + strings.Repeat("x", 5000), secret}, truncated: true},
		{name: "oldest first", args: map[string]any{"lines": 3, "order": "oldest"}, want: nums(0, 2, 1), truncated: true},
		{name: "a unit: its entries and systemd's about it", args: map[string]any{"unit": "unit1", "since": at(190)},
			want: append([]string{"unit1.service: Failed with result 'exit-code'."}, nums(199, 190, -3)...)},
		{name: "a unit, oldest first, up to lines", args: map[string]any{"unit": "unit1.service", "order": "oldest", "lines": 2},
			want: []string{"message 1", "message 4"}, truncated: true},
		{name: "priority by name: err and more severe", args: map[string]any{"priority": "err", "until": at(20), "order": "oldest"},
			want: []string{"message 0", "message 1", "message 2", "message 3", "message 8", "message 9", "message 10", "message 11", "message 16", "message 17", "message 18", "message 19"}},
		{name: "priority by number, in a string", args: map[string]any{"priority": "0", "until": at(20)}, want: []string{"message 16", "message 8", "message 0"}},
		{name: "priority by number, a JSON number", args: map[string]any{"priority": 0, "until": at(20)}, want: []string{"message 16", "message 8", "message 0"}},
		{name: "priority 1, a JSON number", args: map[string]any{"priority": 1, "until": at(20), "order": "oldest"},
			want: []string{"message 0", "message 1", "message 8", "message 9", "message 16", "message 17"}},
		{name: "since and until, inclusive", args: map[string]any{"since": at(10), "until": at(13)}, want: nums(13, 10, -1)},
		{name: "since relative to now", args: map[string]any{"since": "-1h"}, want: []string{"recent 10", "recent 20", "recent 30"}},
		{name: "until relative to now, oldest", args: map[string]any{"until": "-15m", "since": "-25m", "order": "oldest"}, want: []string{"recent 20"}},
		{name: "boot 0: the latest", args: map[string]any{"boot": "0"}, want: []string{"recent 10", "recent 20", "recent 30"}},
		{name: "boot 0, a JSON number", args: map[string]any{"boot": 0}, want: []string{"recent 10", "recent 20", "recent 30"}},
		{name: "boot -1, a JSON number", args: map[string]any{"boot": -1, "lines": 1}, want: []string{"long " + strings.Repeat("x", 5000)}, truncated: true},
		{name: "boot 1, a JSON number", args: map[string]any{"boot": 1, "lines": 1, "order": "oldest"}, want: []string{"message 0"}, truncated: true},
		{name: "boot -1", args: map[string]any{"boot": "-1", "unit": "unit0", "priority": "debug", "lines": 2},
			want: []string{secret, "message 198"}, truncated: true},
		{name: "boot 1: the first", args: map[string]any{"boot": "1", "lines": 1}, want: []string{"message 99"}, truncated: true},
		{name: "boot by ID", args: map[string]any{"boot": bootA, "order": "oldest", "lines": 1}, want: []string{"message 0"}, truncated: true},
		{name: "grep with an upper-case letter is case-sensitive", args: map[string]any{"grep": "^Message 5.$"}, want: []string{}},
		{name: "an upper-case letter anywhere makes grep case-sensitive", args: map[string]any{"grep": "^MESSAGE 5.$|^message 6.$", "order": "oldest"}, want: nums(60, 69, 1)},
		{name: "grep in lower case ignores case", args: map[string]any{"grep": "failed with"}, want: []string{"unit1.service: Failed with result 'exit-code'."}},
		{name: "grep, smart case", args: map[string]any{"grep": "^message 5.$", "order": "oldest"}, want: nums(50, 59, 1)},
		{name: "grep does not see secrets", args: map[string]any{"grep": "hunter2"}, want: []string{}},
		{name: "around a moment, across units", args: map[string]any{"around": at(50), "window": "3s"}, want: nums(53, 47, -1)},
		{name: "around: half the lines before, half after", args: map[string]any{"around": at(50), "lines": 4, "order": "oldest"},
			want: nums(49, 52, 1), truncated: true},
		{name: "around a moment, one unit", args: map[string]any{"around": at(50), "window": "5s", "unit": "unit2"}, want: []string{"message 53", "message 50", "message 47"}},
		{name: "max_bytes keeps whole entries", args: map[string]any{"max_bytes": 1024, "until": at(199)}, truncated: true,
			check: func(t *testing.T, r Result) {
				if n := len(r.Entries); n < 5 || n > 20 {
					t.Errorf("%d entries within 1024 bytes", n)
				}
				for _, e := range r.Entries {
					if e.Truncated {
						t.Errorf("entry %q cut", e.Message)
					}
				}
			}},
		{name: "max_bytes cuts a message bigger than itself", args: map[string]any{"max_bytes": 1024, "lines": 1, "since": at(202), "order": "oldest"}, truncated: true,
			check: func(t *testing.T, r Result) {
				if len(r.Entries) != 1 || !r.Entries[0].Truncated || len(r.Entries[0].Message) > 1024 || !strings.HasPrefix(r.Entries[0].Message, "long xxx") {
					t.Errorf("the long message: %+v", r.Entries)
				}
			}},
		{name: "nothing matches", args: map[string]any{"unit": "nope"}, want: []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := toolstest.OK[Result](t, c, "get_journal", tc.args)
			if tc.want != nil && !slices.Equal(messages(r), tc.want) {
				t.Errorf("messages %.300q, want %.300q", messages(r), tc.want)
			}
			if r.Truncated != tc.truncated {
				t.Errorf("truncated %v, want %v", r.Truncated, tc.truncated)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// TestEntryFields: each entry has its time, unit, priority, PID and
// identifier; the text form reads like journalctl's short-iso.
func TestEntryFields(t *testing.T) {
	t.Parallel()
	c := serve(t, testJournal(t, time.Now()))
	r := toolstest.OK[Result](t, c, "get_journal", map[string]any{"since": base.Add(7 * time.Second).Format(time.RFC3339), "order": "oldest", "lines": 1})
	e := r.Entries[0]
	if e.Time != "2023-11-14T22:00:07.000000Z" || e.Unit != "unit1.service" || e.Priority == nil || *e.Priority != 7 || e.PID != 1007 ||
		e.Identifier != "app" || e.Message != "message 7" {
		t.Errorf("entry %+v", e)
	}
	text := toolstest.Text(toolstest.Call(t, c, "get_journal", map[string]any{"since": base.Add(7 * time.Second).Format(time.RFC3339), "order": "oldest", "lines": 1}))
	if want := "2023-11-14T22:00:07.000000Z unit1.service app[1007] <debug>: message 7\n"; !strings.HasPrefix(text, want) {
		t.Errorf("text %q, want it to begin %q", text, want)
	}
}

// TestMaxBytesCoversUnitAndIdentifier: max_bytes bounds the entries'
// text, unit and identifier included; those (the identifier is the
// logging program's to set, at any length) were passed whole, so one
// entry with a 200 KB identifier made a 200 KB result under a max_bytes
// of 1024. Each is now cut to 256 bytes at a character boundary, ending
// in "…", and the message is cut to what is left.
func TestMaxBytesCoversUnitAndIdentifier(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	long := func(at time.Time) journaltest.Entry {
		return entry(at, bootA, "_SYSTEMD_UNIT="+strings.Repeat("u", 100000)+".service", "PRIORITY=6", "_PID=7",
			"SYSLOG_IDENTIFIER="+strings.Repeat("é", 100000), "MESSAGE="+strings.Repeat("m", 5000))
	}
	journaltest.Write(t, filepath.Join(dir, "system.journal"), layout, []journaltest.Entry{long(base), long(base.Add(2 * time.Second))})
	c := serve(t, dir)
	for _, tc := range []struct {
		name    string
		args    map[string]any
		entries int
	}{
		{"newest", map[string]any{"max_bytes": 1024, "lines": 1}, 1},
		// around gives each side half of max_bytes: less than two cut
		// labels and an entry's overhead.
		{"around", map[string]any{"max_bytes": 1024, "around": base.Add(time.Second).Format(time.RFC3339)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := toolstest.Call(t, c, "get_journal", tc.args)
			r := toolstest.OK[Result](t, c, "get_journal", tc.args)
			if len(r.Entries) != tc.entries {
				t.Fatalf("%d entries, want %d", len(r.Entries), tc.entries)
			}
			size := 0
			for _, e := range r.Entries {
				for name, v := range map[string]string{"unit": e.Unit, "identifier": e.Identifier} {
					if len(v) > 256 || !strings.HasSuffix(v, "…") || !utf8.ValidString(v) || strings.Trim(v, "ué…") != "" {
						t.Errorf("%s: %d bytes %q..., want it cut to at most 256, ending in …", name, len(v), v[:min(len(v), 40)])
					}
				}
				size += len(e.Message) + len(e.Unit) + len(e.Identifier) + entryOverhead
				if !e.Truncated {
					t.Errorf("an entry over the budget not marked truncated")
				}
			}
			if size > 1024 || !r.Truncated {
				t.Errorf("entries of %d bytes, truncated=%v: want at most 1024, the messages cut", size, r.Truncated)
			}
			if b, _ := json.Marshal(r); len(b) > 1024+256*tc.entries {
				t.Errorf("result of %d bytes under a max_bytes of 1024", len(b))
			}
			if text := toolstest.Text(res); len(text) > 1024+128*tc.entries {
				t.Errorf("text of %d bytes under a max_bytes of 1024", len(text))
			}
		})
	}
}

// TestRedacted: a secret in a message or an identifier (both the logging
// program's to set) never leaves, in the structured result or the text.
func TestRedacted(t *testing.T) {
	t.Parallel()
	c := serve(t, testJournal(t, time.Now()))
	res := toolstest.Call(t, c, "get_journal", map[string]any{"unit": "unit0", "boot": "-1", "lines": 3})
	if res.IsError {
		t.Fatal(toolstest.Text(res))
	}
	all := fmt.Sprint(res.StructuredContent) + toolstest.Text(res)
	if strings.Contains(all, "hunter2") || !strings.Contains(all, "password=[REDACTED]") || !strings.Contains(all, "token=[REDACTED]") {
		t.Errorf("the secret: %s", all)
	}
}

// TestBadArguments: each bad argument is a tool error naming it.
func TestBadArguments(t *testing.T) {
	t.Parallel()
	c := serve(t, testJournal(t, time.Now()))
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"priority": "loud"}, `"priority": must be 0 to 7 or one of emerg`},
		{map[string]any{"priority": "8"}, `"priority"`},
		{map[string]any{"priority": 8}, `"priority": must be 0 to 7`},
		{map[string]any{"priority": -1}, `"priority": must be 0 to 7`},
		{map[string]any{"priority": 2.5}, `"priority"`},
		{map[string]any{"priority": true}, `"priority"`},
		{map[string]any{"since": "yesterday"}, `"since": must be an RFC 3339 time`},
		{map[string]any{"until": "1h"}, `"until"`},
		{map[string]any{"since": "-1h", "until": "-2h"}, `"until": is before since`},
		{map[string]any{"around": "-1h", "since": "-2h"}, `"around": cannot be combined`},
		{map[string]any{"window": "5m"}, `"window": only applies with around`},
		{map[string]any{"around": "now", "window": "1ms"}, `"window": must be a duration`},
		{map[string]any{"around": "now", "window": "999h"}, `"window"`},
		{map[string]any{"boot": "xyz"}, `"boot": must be a boot ID`},
		{map[string]any{"boot": "-9"}, `"boot": offset -9: the journal holds 3 boot(s)`},
		{map[string]any{"boot": "4"}, `"boot": offset 4`},
		{map[string]any{"boot": -9}, `"boot": offset -9: the journal holds 3 boot(s)`},
		{map[string]any{"boot": 4}, `"boot": offset 4`},
		{map[string]any{"boot": 0.5}, `"boot"`},
		{map[string]any{"boot": []int{0}}, `"boot"`},
		{map[string]any{"grep": "("}, `"grep": invalid RE2 expression`},
		{map[string]any{"grep": strings.Repeat("a", 2000)}, `"grep": longer than`},
		{map[string]any{"lines": 0}, `"lines": must be between 1 and 10000`},
		{map[string]any{"lines": 10001}, `"lines"`},
		{map[string]any{"max_bytes": 10}, `"max_bytes": must be between 1024`},
		{map[string]any{"order": "up"}, `"order"`},
		{map[string]any{"unit": "nginx*"}, `"unit": "nginx*" is not a unit name`},
		{map[string]any{"unit": "a b.service"}, `"unit"`},
		{map[string]any{"unit": strings.Repeat("u", 300)}, `"unit": longer than`},
	} {
		if got := toolstest.Err(t, c, "get_journal", tc.args); !strings.Contains(got, tc.want) {
			t.Errorf("%v: %q, want it to contain %q", tc.args, got, tc.want)
		}
	}
}

// TestCorruptFileBesideGoodOnes: a corrupt file is skipped and named in
// the notes; the good files' entries are returned.
func TestCorruptFileBesideGoodOnes(t *testing.T) {
	t.Parallel()
	dir := testJournal(t, time.Now())
	good, err := os.ReadFile(filepath.Join(dir, "system.journal"))
	if err != nil {
		t.Fatal(err)
	}
	// A journal header with everything after it overwritten.
	bad := slices.Clone(good[:8192])
	for i := 16; i < len(bad); i++ {
		bad[i] = 0xA5
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.journal"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "garbage.journal~"), []byte("not a journal at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := toolstest.OK[Result](t, serve(t, dir), "get_journal", map[string]any{"boot": "0"})
	if !slices.Equal(messages(r), []string{"recent 10", "recent 20", "recent 30"}) {
		t.Errorf("messages %q", messages(r))
	}
	notes := strings.Join(r.Notes, "\n")
	if !strings.Contains(notes, "skipped broken.journal") || !strings.Contains(notes, "skipped garbage.journal~") || strings.Contains(notes, dir) {
		t.Errorf("notes %q: want both bad files named, by base name only", r.Notes)
	}
}

// TestFileAppendedWhileRead: journal-remote keeps writing the file (online)
// between calls; each call sees what was written by then.
func TestFileAppendedWhileRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := journaltest.Start(t, filepath.Join(dir, "remote.journal"), layout)
	es := numbered()
	c := serve(t, dir)
	// journal-remote holds back the last entry until the next begins.
	waitFor := func(n int) {
		t.Helper()
		toolstest.WaitFor(t, fmt.Sprintf("%d entries", n), func() bool {
			r := toolstest.OK[Result](t, c, "get_journal", map[string]any{"lines": 1000, "order": "oldest"})
			got := messages(r)
			return len(got) >= n && slices.Equal(got[:n], nums(0, n-1, 1))
		})
	}
	w.Write(t, es[:20])
	waitFor(19)
	w.Write(t, es[20:50])
	waitFor(49)
	r := toolstest.OK[Result](t, c, "get_journal", map[string]any{"lines": 2, "until": base.Add(48 * time.Second).Format(time.RFC3339)})
	if !slices.Equal(messages(r), []string{"message 48", "message 47"}) {
		t.Errorf("newest of the online file: %q", messages(r))
	}
	w.Close(t)
	waitFor(50)
}

// TestConfig: directories must be absolute; the zero Config reads
// journald's own; the tool declares exactly its directories for the
// sandbox, read-only.
func TestConfig(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{Dirs: []string{"var/log/journal"}}); err == nil || !strings.Contains(err.Error(), "must be an absolute path") {
		t.Errorf("a relative directory: %v", err)
	}
	ts, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.Dirs(); !slices.Equal(got, []string{"/var/log/journal", "/run/log/journal"}) {
		t.Errorf("default dirs %q", got)
	}
	ts, _ = New(Config{Dirs: []string{"/host/var/log/journal/", "/j"}})
	n := ts.Tools()[0].Needs
	if !slices.Equal(n.Read, []string{"/host/var/log/journal", "/j"}) || len(n.Write) != 0 || len(n.Exec) != 0 || len(n.Capabilities) != 0 ||
		len(n.Sockets) != 0 || n.AnyTCPPort || len(n.TCPPorts) != 0 {
		t.Errorf("needs %+v: want the two directories read-only, nothing else", n)
	}
}

// TestBadEntryMidFile: an entry whose message object is damaged (its type
// byte overwritten) is skipped with a note; the entries around it are
// returned.
func TestBadEntryMidFile(t *testing.T) {
	t.Parallel()
	dir := testJournal(t, time.Now())
	path := filepath.Join(dir, "system.journal")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The DATA object of "message 150": its payload follows a 72-byte
	// header in a compact file.
	p := strings.Index(string(b), "MESSAGE=message 150")
	if p < 72 || b[p-72] != 1 { // OBJECT_DATA
		t.Fatalf("no DATA object for message 150 (at %d)", p)
	}
	b[p-72] = 0xEE
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	at := func(sec int) string { return base.Add(time.Duration(sec) * time.Second).Format(time.RFC3339) }
	c := serve(t, dir)
	for _, order := range []string{"newest", "oldest"} {
		r := toolstest.OK[Result](t, c, "get_journal", map[string]any{"since": at(148), "until": at(152), "order": order})
		want := []string{"message 148", "message 149", "message 151", "message 152"}
		if order == "newest" {
			slices.Reverse(want)
		}
		if !slices.Equal(messages(r), want) || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "skipped an unreadable entry: system.journal (corrupt at offset") {
			t.Errorf("%s: messages %q, notes %q", order, messages(r), r.Notes)
		}
	}
}

// TestManyFiles: a journal of 300 small files (journald keeps a file per
// user and rotates often) is read as one, in order both ways, whatever
// the query; the reader holds one cache for all of them
// (journal.TestManyFilesShareOneCache measures it).
func TestManyFiles(t *testing.T) {
	t.Parallel()
	const files = 300
	src := filepath.Join(t.TempDir(), "src.journal")
	// 3 entries a second apart, units 0 to 2, on boot A.
	journaltest.Write(t, src, layout, numbered()[:3])
	dir := t.TempDir()
	for i := range files {
		var id [16]byte
		id[0], id[1] = byte(i>>8), byte(i)
		journaltest.Copy(t, src, filepath.Join(dir, fmt.Sprintf("user-%d.journal", i)), time.Duration(3*i)*time.Second, id)
	}
	c := serve(t, dir)
	at := func(sec int) string { return base.Add(time.Duration(sec) * time.Second).Format(time.RFC3339) }
	// File i holds messages 0 to 2 at seconds 3i to 3i+2.
	msgs := func(secs ...int) []string {
		var out []string
		for _, s := range secs {
			out = append(out, fmt.Sprintf("message %d", s%3))
		}
		return out
	}
	for _, tc := range []struct {
		args map[string]any
		want []string
	}{
		{map[string]any{"lines": 4}, msgs(899, 898, 897, 896)},
		{map[string]any{"lines": 4, "order": "oldest"}, msgs(0, 1, 2, 3)},
		{map[string]any{"unit": "unit1", "lines": 3}, msgs(895, 892, 889)},
		{map[string]any{"since": at(449), "until": at(452), "order": "oldest"}, msgs(449, 450, 451, 452)},
		{map[string]any{"around": at(600), "window": "1s", "unit": "unit0"}, msgs(600)},
	} {
		r := toolstest.OK[Result](t, c, "get_journal", tc.args)
		if !slices.Equal(messages(r), tc.want) || len(r.Notes) != 0 {
			t.Errorf("%v: messages %q, notes %q; want %q", tc.args, messages(r), r.Notes, tc.want)
		}
	}
	r := toolstest.OK[Result](t, c, "get_journal", map[string]any{"unit": "unit2", "lines": 1000, "order": "oldest"})
	if len(r.Entries) != files || r.Entries[0].Time != base.Add(2*time.Second).Format("2006-01-02T15:04:05.000000Z") ||
		r.Entries[files-1].Time != base.Add(899*time.Second).Format("2006-01-02T15:04:05.000000Z") {
		t.Errorf("unit2 across all files: %d entries, want %d, first and last 2 s and 899 s after base", len(r.Entries), files)
	}
}

// TestScanLimit: a call that examines maxScan entries without filling its
// lines stops there and says so (truncated, and a note naming the
// bound), with what it found by then; once, though an around query walks
// twice; a call within the bound says nothing of it.
func TestScanLimit(t *testing.T) {
	t.Parallel()
	ts, err := New(Config{Dirs: []string{testJournal(t, time.Now())}})
	if err != nil {
		t.Fatal(err)
	}
	ts.maxScan = 50
	c := toolstest.New(t, []tools.Toolset{ts}, nil).Client(t)
	at := func(sec int) string { return base.Add(time.Duration(sec) * time.Second).Format(time.RFC3339) }
	stopped := []string{"stopped after examining 50 entries: narrow the query (unit, priority, boot, since, until)"}
	for _, tc := range []struct {
		name  string
		args  map[string]any
		want  []string
		notes []string
	}{
		{"a grep that matches nothing", map[string]any{"grep": "no such message"}, []string{}, stopped},
		{"what matched in the first 50 entries, oldest first", map[string]any{"grep": "^message [0-9]$|^message [46][0-9]$", "order": "oldest"},
			append(nums(0, 9, 1), nums(40, 49, 1)...), stopped},
		{"newest first, the matches are past the bound", map[string]any{"grep": "^message [0-9]$"}, []string{}, stopped},
		{"around: both walks meet it, one note", map[string]any{"around": at(100), "window": "168h", "grep": "no such message"}, []string{}, stopped},
		{"within the bound", map[string]any{"grep": "^message 1.$", "since": at(5), "until": at(40)}, nums(19, 10, -1), nil},
	} {
		r := toolstest.OK[Result](t, c, "get_journal", tc.args)
		if !slices.Equal(messages(r), tc.want) || !slices.Equal(r.Notes, tc.notes) || r.Truncated != (tc.notes != nil) {
			t.Errorf("%s: messages %q, truncated %v, notes %q; want %q, truncated %v, notes %q", tc.name, messages(r), r.Truncated, r.Notes,
				tc.want, tc.notes != nil, tc.notes)
		}
	}
	text := toolstest.Text(toolstest.Call(t, c, "get_journal", map[string]any{"grep": "no such message"}))
	if !strings.Contains(text, "(more entries matched") || !strings.Contains(text, "note: "+stopped[0]) {
		t.Errorf("text %q: want it to say the call stopped early", text)
	}
}

// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// journaldScript runs systemd-journald as journald runs on a host, in a
// mount, network and PID namespace of its own (so that nothing outlives
// the test: unshare --kill-child ends the namespace with it): a private
// /run for its sockets, persistent storage in /var/log/journal bound to
// the directory $1 (the flag file that systemd-journal-flush would leave
// says to write there at once), no kernel log, no forwarding, no rate
// limit. It then logs each line "PRIORITY TEXT" read on stdin through
// systemd-cat (journald's stdout stream, as a service's output arrives),
// answering "ok"; a priority "user:P" logs as uid 1000 (in the
// background), which journald puts in user-1000.journal; "rotate" has journald rotate its files
// (SIGUSR2), as it does when one is full. At end of input it stops
// journald.
const journaldScript = `set -e
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/log
mkdir -p /run/systemd/journal /run/systemd/journald.conf.d /var/log/journal
mount --bind "$1" /var/log/journal
touch /run/systemd/journal/flushed
printf '[Journal]\nStorage=persistent\nReadKMsg=no\nForwardToSyslog=no\nForwardToWall=no\nRateLimitIntervalSec=0\nCompress=yes\n' \
  >/run/systemd/journald.conf.d/test.conf
/lib/systemd/systemd-journald &
pid=$!
for i in $(seq 200); do [ -S /run/systemd/journal/stdout ] && break; sleep 0.05; done
echo ready
while read -r prio text; do
  case "$prio" in
  rotate)
    kill -USR2 $pid
    for i in $(seq 200); do ls /var/log/journal/*/system@*.journal >/dev/null 2>&1 && break; sleep 0.05; done
    ;;
  user:*)
    # Alive until journald has read it: journald takes the uid (and so
    # the file) from the sender's credentials, gone once it has exited.
    setpriv --reuid=1000 --regid=1000 --clear-groups \
      systemd-cat -t tailops-test -p "${prio#user:}" sh -c 'printf "%s\n" "$1"; sleep 5' sh "$text" &
    ;;
  *)
    printf '%s\n' "$text" | systemd-cat -t tailops-test -p "$prio"
    ;;
  esac
  echo ok
done
kill $pid
wait $pid || true
`

// TestRealJournald reads the runtime journal of a real systemd-journald
// while it writes it (the file online, entries arriving), across a
// rotation (an archived file and a new one) and after it stopped: fields
// journald adds itself, a value large enough to be compressed, matches.
func TestRealJournald(t *testing.T) {
	journalRemote(t) // the same Debian package set: systemd comes with it
	dir := t.TempDir()
	cmd := exec.Command("unshare", "-m", "-n", "-p", "--fork", "--kill-child", "--mount-proc", "--propagation", "private", "bash", "-c", journaldScript, "bash", dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	expect := func(want string) {
		t.Helper()
		if !lines.Scan() || lines.Text() != want {
			t.Fatalf("journald script: want %q, got %q (%v)\n%s", want, lines.Text(), lines.Err(), stderr.String())
		}
	}
	expect("ready")
	logLine := func(prio, text string) {
		t.Helper()
		fmt.Fprintf(stdin, "%s %s\n", prio, text)
		expect("ok")
	}
	big := strings.TrimSpace(strings.Repeat("a long line journald compresses ", 40))
	type msg struct{ prio, text string }
	msgs := []msg{{"warning", "hello 1"}, {"err", "failed 2"}, {"info", "note 3"}}
	for _, m := range msgs {
		logLine(m.prio, m.text)
	}

	var r *Reader
	var got []*Entry
	readUntil := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); len(got) < n; {
			if r == nil {
				// The file appears when journald starts.
				if j, err := OpenDir(nil, dir); err == nil && len(j.Files()) == 1 {
					t.Cleanup(func() { j.Close() })
					r, _ = j.Reader("SYSLOG_IDENTIFIER=tailops-test")
				}
			}
			if r != nil {
				e, err := r.Next()
				if err == nil {
					got = append(got, e)
					continue
				}
				if err != io.EOF {
					t.Fatalf("entry %d: %v", len(got), err)
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("have %d entries after 10s, want %d\n%s", len(got), n, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	readUntil(len(msgs))
	f := r.curs[0].f
	if st := f.Info().State; st != StateOnline {
		t.Errorf("state %v while journald runs, want online", st)
	}
	// More while reading: the reader at the end sees them.
	more := []msg{{"debug", "more 4"}, {"err", big}, {"notice", "last 6"}}
	for _, m := range more {
		logLine(m.prio, m.text)
	}
	msgs = append(msgs, more...)
	readUntil(len(msgs))

	// journald rotates: the file the reader holds is archived, and
	// what comes next goes to a new file, which a Journal opened before
	// does not know (OpenDir's documented limit).
	logLine("rotate", "")
	after := []msg{{"info", "after rotation 7"}, {"warning", "after rotation 8"}, {"user:notice", "from a user 9"}}
	for _, m := range after {
		logLine(m.prio, m.text)
	}
	if e, err := r.Next(); err != io.EOF {
		t.Errorf("the reader of the rotated file: %v, %v; want io.EOF", e, err)
	}
	// journald renames the file first and marks it archived after, from
	// another thread.
	for deadline := time.Now().Add(5 * time.Second); f.Info().State != StateArchived; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("state %v 5s after rotation, want archived", f.Info().State)
		}
		if err := f.refresh(); err != nil {
			t.Fatal(err)
		}
	}
	// The user's message is logged in the background: wait for it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if j, err := OpenDir(nil, dir); err == nil {
			n := len(readAll(t, mustReader(t, j, "_UID=1000"), true))
			j.Close()
			if n > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no entry of uid 1000 after 10s\n%s", stderr.String())
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("journald script: %v\n%s", err, stderr.String())
	}

	prios := map[string]string{"err": "3", "warning": "4", "notice": "5", "info": "6", "debug": "7"}
	for i, e := range got {
		if e.String("MESSAGE") != msgs[i].text || e.String("PRIORITY") != prios[msgs[i].prio] {
			t.Errorf("entry %d: MESSAGE %.40q PRIORITY %s, want %.40q %s", i, e.String("MESSAGE"), e.String("PRIORITY"), msgs[i].text, prios[msgs[i].prio])
		}
		// Fields journald always adds; not _PID, _UID, _COMM and the
		// like, which come from the sender's credentials and /proc and
		// are missing when the sender has exited already.
		for _, field := range []string{"_TRANSPORT", "_BOOT_ID", "_MACHINE_ID", "_HOSTNAME"} {
			if _, ok := e.Get(field); !ok {
				t.Errorf("entry %d has no %s (fields: %v)", i, field, fieldNames(e))
			}
		}
		if e.BootID.String() != e.String("_BOOT_ID") {
			t.Errorf("entry %d: boot ID %s, _BOOT_ID %s", i, e.BootID, e.String("_BOOT_ID"))
		}
		checkXorHash(t, e)
	}

	// After journald stopped: the archived system file, the new one and
	// the user's, merged in journald's order (one sequence across its
	// files); the long value was stored compressed; matches work on
	// journald's own fields across all three.
	msgs = append(msgs, after...)
	j, err := OpenDir(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var files []string
	zstd := false
	for _, f := range j.Files() {
		files = append(files, fmt.Sprintf("%s %v", strings.SplitN(filepath.Base(f.Path()), "@", 2)[0], f.Info().State))
		zstd = zstd || f.hdr.incompat&incompatZstd != 0
	}
	if want := []string{"system archived", "system.journal offline", "user-1000.journal offline"}; !slices.Equal(files, want) {
		t.Errorf("files %q, want %q", files, want)
	}
	if !zstd {
		t.Error("journald compressed nothing")
	}
	all := readAll(t, mustReader(t, j, "SYSLOG_IDENTIFIER=tailops-test"), true)
	var texts []string
	for _, e := range all {
		texts = append(texts, e.String("MESSAGE"))
	}
	var want []string
	for _, m := range msgs {
		want = append(want, m.text)
	}
	if !slices.Equal(texts, want) {
		t.Errorf("merged after rotation: %.40q\nwant %.40q", texts, want)
	}
	var errs []string
	for _, e := range readAll(t, mustReader(t, j, "SYSLOG_IDENTIFIER=tailops-test", "PRIORITY=3"), true) {
		errs = append(errs, e.String("MESSAGE"))
	}
	if len(errs) != 2 || errs[0] != "failed 2" || errs[1] != big {
		t.Errorf("PRIORITY=3: %.60q", errs)
	}
	if n := len(readAll(t, mustReader(t, j, "_TRANSPORT=stdout"), true)); n != len(msgs) {
		t.Errorf("_TRANSPORT=stdout: %d entries, want %d", n, len(msgs))
	}
	if user := readAll(t, mustReader(t, j, "_UID=1000"), true); len(user) != 1 || user[0].String("MESSAGE") != "from a user 9" ||
		!strings.HasSuffix(user[0].File, "user-1000.journal") {
		t.Errorf("uid 1000: %d entries", len(user))
	}
}

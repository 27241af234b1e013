// SPDX-License-Identifier: Apache-2.0

package systemd

import (
	"slices"
	"testing"
)

// TestNeedsAreTheBusSocketAndTheJournal: every systemd tool asks the
// sandbox for the bus socket, and get_service_status also for the journal
// directories read-only; nothing else (no write, exec, port or capability).
func TestNeedsAreTheBusSocketAndTheJournal(t *testing.T) {
	t.Parallel()
	ts, err := New(Config{BusAddress: "unix:path=/x/bus", JournalDirs: []string{"/j1", "/j2"}})
	if err != nil {
		t.Fatal(err)
	}
	specs := ts.Tools()
	if len(specs) != 6 {
		t.Fatalf("%d tools, want 6", len(specs))
	}
	for _, s := range specs {
		n := s.Needs
		wantRead := []string(nil)
		if s.Name() == "get_service_status" {
			wantRead = []string{"/j1", "/j2"}
		}
		if !slices.Equal(n.Sockets, []string{"/x/bus"}) || !slices.Equal(n.Read, wantRead) || len(n.Write) != 0 || len(n.Exec) != 0 ||
			len(n.Capabilities) != 0 || n.AnyTCPPort || len(n.TCPPorts) != 0 || len(n.Netlink) != 0 {
			t.Errorf("%s needs %+v: want the bus socket%s, nothing else", s.Name(), n, map[bool]string{true: " and the journal read-only"}[wantRead != nil])
		}
	}
	if _, err := New(Config{BusAddress: "tcp:host=127.0.0.1,port=1"}); err == nil {
		t.Error("a bus address that is not unix:path= was accepted")
	}
}

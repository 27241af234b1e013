// SPDX-License-Identifier: Apache-2.0

package server

import (
	"bufio"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// TestMatchesKey: a subscription's key (the URI's container name or id)
// matches an event's id or name, or a short id of at least 12 characters
// as a prefix; never another container's name that merely shares a prefix.
func TestMatchesKey(t *testing.T) {
	const id = "4f1c2a9b7d3e5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcd"
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"web", true},
		{id, true},
		{id[:12], true},
		{id[:4], false}, // too short to be taken as an id prefix
		{"we", false},
		{"web-2", false},
		{"", false},
	} {
		if got := matchesKey(tc.key, []string{id, "web"}); got != tc.want {
			t.Errorf("matchesKey(%q): %v, want %v", tc.key, got, tc.want)
		}
	}
}

// TestWatcherCatchesUp: a watcher that fails is started again and asked
// for the changes since the failure; one that failed before reporting
// anything (it may never have reached its source) is asked from the same
// earlier time again; and its report of a change with no keys (anything
// may have changed) reaches the subscriber of every URI it watches.
func TestWatcherCatchesUp(t *testing.T) {
	saved := watchBackoff
	watchBackoff = [2]time.Duration{10 * time.Millisecond, 50 * time.Millisecond}
	t.Cleanup(func() { watchBackoff = saved })
	sinces := make(chan time.Time, 10)
	runs := 0
	cs := serveChoke(t, Config{
		Enabled: []tools.Spec{echoTool("thing", auth.ScopeReadonly)},
		Views: []tools.ResourceView{{URI: "test://things/{id}", Name: "things", Description: "d", MIMEType: "text/plain", Tool: "thing",
			Args: func(v map[string]string) map[string]any { return map[string]any{"id": v["id"]} }, Watch: "thing", Key: "id"}},
		Watchers: map[string]tools.Watcher{"thing": func(ctx context.Context, since time.Time, changed func(...string)) error {
			runs++
			sinces <- since
			switch runs {
			case 1:
				return errors.New("the stream broke")
			case 2:
				return errors.New("the source is still down")
			}
			changed() // back: anything may have changed
			<-ctx.Done()
			return nil
		}},
	})
	tok, err := auth.MintHMAC(cs.secret, auth.Claims{Agent: "catcher", Scopes: []auth.Scope{auth.ScopeReadonly}, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	listen := modernRPC(t.Context(), t, cs, tok, 2, "subscriptions/listen",
		map[string]any{"notifications": map[string]any{"resourceSubscriptions": []string{"test://things/web"}}}, true)
	defer listen.Body.Close()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(listen.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []time.Time
	for len(got) < 3 {
		select {
		case s := <-sinces:
			got = append(got, s)
		case <-time.After(5 * time.Second):
			t.Fatalf("the watcher ran %d times, want 3", len(got))
		}
	}
	if !got[0].IsZero() || got[1].IsZero() || !got[2].Equal(got[1]) {
		t.Errorf("since of the three runs: %v; want zero, then the first failure's time twice", got)
	}
	for timeout := time.After(5 * time.Second); ; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the listen stream ended without the update")
			}
			if strings.Contains(l, "notifications/resources/updated") && strings.Contains(l, "test://things/web") {
				return
			}
		case <-timeout:
			t.Fatal("no update for test://things/web after the watcher caught up")
		}
	}
}

// SPDX-License-Identifier: Apache-2.0

package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// TestSSHConfigNeverRead: go-git's SSH transport asks this global for a
// Hostname and Port of every host; set, it reads ~/.ssh/config.
func TestSSHConfigNeverRead(t *testing.T) {
	if gitssh.DefaultSSHConfig != nil {
		t.Fatal("gitssh.DefaultSSHConfig is set: ~/.ssh/config would redirect connections")
	}
}

func TestKnownHostsGlob(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		patterns []string
		name     string
		want     bool
	}{
		{[]string{"[127.0.0.1]:2222"}, "[127.0.0.1]:2222", true},
		{[]string{"[127.0.0.1]:2222"}, "1", false},
		{[]string{"127.0.0.1"}, "[127.0.0.1]:2222", false},
		{[]string{"*.lan"}, "git.lan", true},
		{[]string{"*.lan", "!bad.lan"}, "bad.lan", false},
		{[]string{"git?.lan"}, "git1.lan", true},
		{[]string{"GIT.LAN"}, "git.lan", true},
	} {
		if got := matchHost(c.patterns, c.name); got != c.want {
			t.Errorf("matchHost(%q, %q) = %v, want %v", c.patterns, c.name, got, c.want)
		}
	}
}

// TestRetryRace: a fetch ended by go-git's SSH race (the error as go-git
// v5 builds it, wrapped as Fetch wraps it) is made again, up to
// fetchAttempts in all; any other error, success, or a cancelled context
// ends the attempts at once.
func TestRetryRace(t *testing.T) {
	race := fmt.Errorf("fetching main from ssh://git@lan/stack.git: %w", fmt.Errorf("closing input: %s", io.EOF))
	other := errors.New("fetching main from ssh://git@lan/stack.git: closing input: connection reset")
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name      string
		ctx       context.Context
		errs      []error // what each attempt returns; nil succeeds
		wantCalls int
		wantErr   error
	}{
		{"success", context.Background(), []error{nil}, 1, nil},
		{"race once", context.Background(), []error{race, nil}, 2, nil},
		{"race twice", context.Background(), []error{race, race, nil}, 3, nil},
		{"race every time", context.Background(), []error{race, race, race, nil}, fetchAttempts, race},
		{"another error", context.Background(), []error{other, nil}, 1, other},
		{"cancelled", done, []error{race, nil}, 1, race},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			res, err := retryRace(c.ctx, func() (Result, error) {
				err := c.errs[calls]
				calls++
				if err != nil {
					return Result{}, err
				}
				return Result{Commit: "c"}, nil
			})
			if calls != c.wantCalls || !errors.Is(err, c.wantErr) || (err == nil) != (c.wantErr == nil) || (err == nil) != (res.Commit == "c") {
				t.Errorf("%d calls, %v, %+v; want %d calls, %v", calls, err, res, c.wantCalls, c.wantErr)
			}
			if exhausted := c.name == "race every time"; exhausted != (err != nil && strings.Contains(err.Error(), "call again")) {
				t.Errorf("error %q: says to call again = %v, want %v", err, !exhausted, exhausted)
			}
		})
	}
}

// SPDX-License-Identifier: Apache-2.0

package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/tailops/tailops/server"
)

// bindSessions registers the session flags.
func bindSessions(fs *flag.FlagSet, l *server.SessionLimits) {
	fs.DurationVar(&l.IdleTimeout, "session-idle-timeout", server.DefaultSessionIdleTimeout, "end an MCP session after this long without a request")
	fs.IntVar(&l.Max, "max-sessions", server.DefaultMaxSessions, "most MCP sessions and 2026-07-28 listen streams open at once; initialize or subscriptions/listen past it is refused")
	fs.IntVar(&l.MaxPerCaller, "max-sessions-per-caller", server.DefaultMaxSessionsPerCaller, "most MCP sessions and 2026-07-28 listen streams one caller (a token, or a tailnet node) may have open")
}

// resolveSessions fills the session limits the flags and environment left
// unset from the config file, and checks them: each must be positive, as
// none of them can be switched off. Only serve has these flags.
func (c *config) resolveSessions() error {
	l, f := &c.Sessions, &c.file
	src := func(flagName, key string) string {
		if !c.set[flagName] && c.ConfigFile != "" {
			return fmt.Sprintf("config file %s: key %q", c.ConfigFile, key)
		}
		return "--" + flagName
	}
	if !c.set["session-idle-timeout"] && f.SessionIdleTimeout != "" {
		d, err := time.ParseDuration(f.SessionIdleTimeout)
		if err != nil {
			return fmt.Errorf("%s: %w", src("session-idle-timeout", "session_idle_timeout"), err)
		}
		l.IdleTimeout = d
	}
	if l.IdleTimeout <= 0 {
		return fmt.Errorf("%s: got %s, want a positive duration such as 5m (idle sessions must end)",
			src("session-idle-timeout", "session_idle_timeout"), l.IdleTimeout)
	}
	for _, n := range []struct {
		flag, key string
		dst, file *int
	}{
		{"max-sessions", "max_sessions", &l.Max, f.MaxSessions},
		{"max-sessions-per-caller", "max_sessions_per_caller", &l.MaxPerCaller, f.MaxSessionsPerCaller},
	} {
		if !c.set[n.flag] && n.file != nil {
			*n.dst = *n.file
		}
		if *n.dst < 1 {
			return fmt.Errorf("%s: got %d, want 1 or more", src(n.flag, n.key), *n.dst)
		}
	}
	return nil
}

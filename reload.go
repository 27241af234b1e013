// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
)

// reloader re-reads the config file's revocations on SIGHUP and when the
// file changes (another inode, mtime or size: an in-place edit, or a new
// file renamed over it), without a restart. Every reload is logged and
// audited (config_reload, success or error); a failed one keeps the
// previous revocations and shows on /readyz until a reload succeeds.
type reloader struct {
	path     string
	verifier *auth.Verifier
	audit    *audit.Log
	log      *slog.Logger
	// grant is how the kernel sandbox grants the config file; nil when
	// the sandbox is off.
	grant *sandbox.ConfigFileGrant
	stamp string // fileStamp of the file when it was last read

	// started is the file's settings at start, revocations left out
	// (startedSettings): what a reload compares the file with.
	started string

	mu      sync.Mutex
	failed  string // /readyz's warning while the last reload failed
	restart string // /readyz's warning while the file holds settings not applied
}

// newReloader returns the reloader of c's config file, or nil without one
// (or with --stdio, which has no tokens to revoke).
func newReloader(c *config, v *auth.Verifier, a *audit.Log, log *slog.Logger) *reloader {
	if c.ConfigFile == "" || c.Stdio {
		return nil
	}
	return &reloader{path: c.ConfigFile, verifier: v, audit: a, log: log, grant: c.configGrant, stamp: c.fileStamp,
		started: startedSettings(c.file)}
}

// startedSettings is fc's settings but its revocations, as one string:
// two files give the same one when only their revocations differ.
func startedSettings(fc fileConfig) string {
	fc.Revoked = nil
	b, err := json.Marshal(fc)
	if err != nil {
		return ""
	}
	return string(b)
}

// warnings are /readyz's lines about reloads. They name no path: /readyz
// answers without a token.
func (r *reloader) warnings() []string {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, w := range []string{r.failed, r.restart} {
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// watch reloads on SIGHUP and on a change of the file's stamp, checked
// every second, until ctx is done.
func (r *reloader) watch(ctx context.Context) {
	if r == nil {
		return
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		var trigger string
		select {
		case <-ctx.Done():
			return
		case <-hup:
			trigger = "SIGHUP"
		case <-tick.C:
			if fileStamp(r.path) == r.stamp {
				continue
			}
			trigger = "file changed"
		}
		r.reload(ctx, trigger)
	}
}

// reload reads the file once and applies its revocations, or keeps the
// previous ones and says so everywhere.
func (r *reloader) reload(ctx context.Context, trigger string) {
	// The stamp before reading: a change while reading is seen next tick.
	r.stamp = fileStamp(r.path)
	fc, err := loadFileConfig(r.path)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) && r.grant != nil && !r.grant.Dir {
			err = fmt.Errorf("%w (the kernel sandbox grants only the file that was there at start, not its directory, which %s: "+
				"restart TailOps to read a file that replaced it, and move the config into a directory of its own, "+
				"such as /etc/tailops/, so that reloads survive editors)", err, r.grant.Refused)
		}
		r.log.Error("reloading config file; keeping the previous revocations", "trigger", trigger, "error", err)
		r.mu.Lock()
		r.failed = fmt.Sprintf("the config reload at %s (%s) failed: the revocations loaded before stay in force "+
			"until a reload succeeds; the server log says why", time.Now().UTC().Format(time.RFC3339), trigger)
		r.mu.Unlock()
		r.record(ctx, &audit.Record{Event: audit.EventConfigReload, Result: audit.ResultError, Error: err.Error(),
			Reason: trigger + ": the previous revocations stay in force"})
		return
	}
	var rv auth.Revocations
	if fc.Revoked != nil {
		rv = *fc.Revoked
	}
	r.verifier.SetRevocations(rv)
	// Only revocations reload: a tightened setting (read_only, tools,
	// ts_allow...) that silently waited for a restart would read as in
	// force.
	restart := ""
	if startedSettings(fc) != r.started {
		restart = fmt.Sprintf("the config file's settings other than revoked changed since start (seen at %s): only revocations reload, "+
			"so the rest applies at the next restart; restart TailOps to apply it", time.Now().UTC().Format(time.RFC3339))
	}
	r.mu.Lock()
	r.failed, r.restart = "", restart
	r.mu.Unlock()
	reason := fmt.Sprintf("%s: revocations reloaded: %d token ids, %d agents", trigger, len(rv.TokenIDs), len(rv.Agents))
	if restart != "" {
		r.log.Warn("the config file's settings other than revoked changed since start; restart TailOps to apply them", "trigger", trigger)
		reason += "; other settings changed and need a restart"
	} else {
		r.log.Info("reloaded revocations", "token_ids", len(rv.TokenIDs), "agents", len(rv.Agents), "trigger", trigger)
	}
	r.record(ctx, &audit.Record{Event: audit.EventConfigReload, Result: audit.ResultSuccess, Reason: reason})
}

// record writes rec to the audit log; a failure is logged (the log then
// refuses calls by itself).
func (r *reloader) record(ctx context.Context, rec *audit.Record) {
	if err := r.audit.Write(ctx, rec); err != nil {
		r.log.Error("writing audit log", "event", rec.Event, "error", err)
	}
}

// configGrantWarning records how the sandbox grants the config file for
// the reloader and, when it grants the file alone, says at start that a
// reload after an editor replaced the file needs a restart, and how to
// fix that; it returns the /readyz warning, without paths.
func configGrantWarning(c *config, g *sandbox.ConfigFileGrant, log *slog.Logger) string {
	c.configGrant = g
	if g == nil || g.Dir || g.Immutable || c.Stdio {
		return ""
	}
	log.Warn("sandbox: the config file is granted alone, not its directory: a reload after an editor, sed -i, mv or "+
		"configuration management replaced the file fails until TailOps restarts (Landlock rules follow inodes); in-place edits reload",
		slog.String("config", g.File), slog.String("why", g.Refused),
		slog.String("fix", "move the config into a directory of its own, such as /etc/tailops/"))
	return "config reloads do not see a config file that an editor or mv replaced (only in-place edits) until a restart: " +
		"the sandbox cannot grant the file's directory; move the config into a directory of its own (such as /etc/tailops/), " +
		"the server log says why"
}

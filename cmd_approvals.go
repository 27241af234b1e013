// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/tailops/tailops/approval"
)

// runApprovals is `tailops approvals list|show|approve ID|deny ID`: the
// host side of two-person approval, over the server's unix socket in the
// state dir (root or the service user only).
func runApprovals(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("tailops approvals "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.StateDir, "state-dir", "", "the server's state directory (default /var/lib/tailops as root, else $XDG_STATE_HOME/tailops)")
	all := fs.Bool("all", false, "list: include decided, used and expired requests")
	reason := fs.String("reason", "", "approve, deny: why, recorded in the audit log")
	// Accept the id before or after the flags.
	var id string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		id, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args, &cfg); err != nil {
		return err
	}
	if cfg.StateDir == "" {
		cfg.StateDir = defaultStateDir()
	}
	needID := verb != "list"
	if needID && id == "" {
		return fmt.Errorf("usage: tailops approvals %s ID [--reason TEXT]", verb)
	}
	c := approval.NewClient(filepath.Join(cfg.StateDir, approval.SocketName))
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch verb {
	case "list":
		rs, err := c.List(ctx, *all)
		if err != nil {
			return fmt.Errorf("listing approvals: %w", err)
		}
		return approval.WriteList(stdout, rs, time.Now())
	case "show":
		r, err := c.Show(ctx, id)
		if err != nil {
			return fmt.Errorf("showing %s: %w", id, err)
		}
		return approval.WriteRequest(stdout, &r)
	case "approve", "deny":
		decide := c.Deny
		if verb == "approve" {
			decide = c.Approve
		}
		r, err := decide(ctx, id, *reason)
		if err != nil {
			return fmt.Errorf("deciding %s: %w", id, err)
		}
		return approval.WriteRequest(stdout, &r)
	}
	return fmt.Errorf("unknown approvals command %q: want list, show, approve or deny", verb)
}

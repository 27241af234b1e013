// SPDX-License-Identifier: Apache-2.0

// Command tailops is an MCP server that lets AI assistants operate a
// homelab host over Tailscale: system status, processes, network, files,
// Docker. Every call is authenticated, scoped, audited, and the process
// confines itself with Landlock and seccomp before it serves.
//
// Usage:
//
//	tailops serve [flags]                 serve MCP over HTTP (or --stdio)
//	tailops token mint --agent A --scopes S --ttl D
//	tailops token inspect TOKEN
//	tailops audit verify FILE...
//	tailops sandbox explain|check [flags]
//	tailops approvals list|show ID|approve ID|deny ID
//	tailops version
package main

// README.md's tool table is generated from the registry (cmd_docs.go).
//go:generate go run . docs --readme README.md --schemas tools/schemas.json.gz

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Set at link time: -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = ""
)

// exitError carries a process exit code without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "tailops:", err)
		os.Exit(1)
	}
}

const usage = `usage: tailops <command> [flags]

commands:
  serve            serve MCP over streamable HTTP at /mcp (or --stdio)
  token mint       mint a bearer token: --agent NAME --scopes a,b --ttl 1h
  token inspect    show a token's claims and whether it verifies
  audit verify     check an audit log and its rotated files for tampering
  sandbox explain  print the Landlock and seccomp policy serve would apply
  sandbox check    apply that policy to itself and try what must be refused
  approvals        list, show, approve ID or deny ID pending approval requests (two-person approval)
  polkit-rule      print the polkit rule that lets --user manage the --service-allow units
  version          print version, commit, Go version and modules

Run 'tailops <command> -h' for a command's flags. Every flag has a
TAILOPS_* environment twin: --state-dir is TAILOPS_STATE_DIR (but for
token mint's --agent, --scopes and --ttl).
`

// run executes one command line; it never exits the process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError{2}
	}
	cmd, rest := args[0], args[1:]
	sub := func() (string, []string) {
		if len(rest) == 0 {
			return "", nil
		}
		return rest[0], rest[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdin, stdout, stderr)
	case "token":
		switch s, r := sub(); s {
		case "mint":
			return runTokenMint(r, stdout, stderr)
		case "inspect":
			return runTokenInspect(r, stdin, stdout, stderr)
		}
	case "audit":
		if s, r := sub(); s == "verify" {
			return runAuditVerify(r, stdout, stderr)
		}
	case "sandbox":
		switch s, r := sub(); s {
		case "explain":
			return runSandbox(ctx, false, r, stdout, stderr)
		case "check":
			return runSandbox(ctx, true, r, stdout, stderr)
		}
	case "approvals":
		if s, r := sub(); s != "" {
			return runApprovals(ctx, s, r, stdout, stderr)
		}
	case "polkit-rule":
		return runPolkitRule(rest, stdout, stderr)
	case "version", "--version", "-version":
		return runVersion(stdout)
	case "docs": // hidden: go generate runs it
		return runDocs(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "tailops: unknown command %q\n\n%s", joinArgs(args), usage)
	return exitError{2}
}

func joinArgs(args []string) string {
	if len(args) > 1 && (args[0] == "token" || args[0] == "audit" || args[0] == "sandbox" || args[0] == "approvals") {
		return args[0] + " " + args[1]
	}
	return args[0]
}

// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tailnet"
	"github.com/tailops/tailops/tools"
)

// runServe is `tailops serve`.
func runServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	in, err := setup(ctx, args, stderr)
	if err != nil {
		return err
	}
	defer in.close()
	return in.serve(ctx, stdin, stdout)
}

// instance is a server that is set up and confined, ready to serve.
type instance struct {
	cfg       *config
	log       *slog.Logger
	app       *app
	ln        net.Listener // the --listen listener; nil with --stdio, and in tsnet mode without --listen
	served    []served     // every listener serve serves, ln included
	node      *tailnet.Node
	audit     *audit.Log
	verifier  *auth.Verifier
	approvals *approvals
	reload    *reloader // nil without a config file, and with --stdio
	toolsets  *toolsetList
}

// served is a listener and the URL clients reach it at.
type served struct {
	ln  net.Listener
	url string
	// hostPort is the TCP port of a host socket, which the sandbox must
	// let the process bind; 0 for a tsnet listener, which lives in the
	// userspace network stack.
	hostPort uint16
}

// hostListener opens a host TCP listener on addr (Multipath TCP off).
func hostListener(ctx context.Context, addr string) (served, error) {
	ln, err := listen(ctx, addr)
	if err != nil {
		return served{}, err
	}
	return served{ln: ln, url: "http://" + ln.Addr().String(), hostPort: uint16(ln.Addr().(*net.TCPAddr).Port)}, nil
}

// setup does everything before serving, in the design's order: read
// config, open what is needed (secret, audit log, the tailnet node and
// listeners), then confine the process with Landlock and seccomp.
func setup(ctx context.Context, args []string, stderr io.Writer) (_ *instance, err error) {
	cfg := &config{}
	fs := flag.NewFlagSet("tailops serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.bindServe(fs)
	if err := parseFlags(fs, args, cfg); err != nil {
		return nil, err
	}
	if err := cfg.resolve(); err != nil {
		return nil, err
	}
	if err := cfg.resolveSessions(); err != nil {
		return nil, err
	}
	in := &instance{cfg: cfg, log: cfg.newLogger(stderr)}
	defer func() {
		if err != nil {
			in.close()
		}
	}()
	var gate *approval.Gate // two-person approval's, once the approvals are open (below)
	in.toolsets = cfg.toolsets(in.log, func() *approval.Gate { return gate })
	all := in.toolsets.specs()
	enabled, err := tools.Select(all, tools.Selection{Enable: cfg.Tools, Disable: cfg.DisableTools, ReadOnly: cfg.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("selecting tools: %w", err)
	}
	if err := in.toolsets.check(enabled, in.log); err != nil {
		return nil, err
	}
	if err := tools.CheckNames(all, cfg.file.Approval); err != nil {
		return nil, fmt.Errorf("config file %s: key \"approval\": %w", cfg.ConfigFile, err)
	}
	if !cfg.Stdio {
		if in.verifier, err = cfg.newVerifier(in.log, true); err != nil {
			return nil, err
		}
	}
	if in.audit, err = audit.Open(cfg.AuditLog, &audit.Options{MaxSize: cfg.AuditMaxBytes, Logger: in.log}); err != nil {
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	// The approval store and the host CLI's socket are opened before the
	// sandbox; the approval tools get the gate when they are called.
	if in.approvals, err = openApprovals(&cfg.Approvals, cfg.StateDir, cfg.file.Approval, in.audit, in.log); err != nil {
		return nil, err
	}
	if cfg.Approvals.TwoPerson {
		gate = in.approvals.gate
	}
	var ports []uint16
	var ident *tailnet.Identifier
	switch {
	case cfg.Stdio:
	case cfg.tailnetMode == tailnet.ModeOff:
		s, err := hostListener(ctx, cfg.Listen)
		if err != nil {
			return nil, err
		}
		in.ln, in.served = s.ln, append(in.served, s)
	default:
		// Up and listening before the sandbox: tsnet reads its state and
		// opens its sockets here.
		if ident, err = in.startTailnet(ctx); err != nil {
			return nil, err
		}
	}
	for _, s := range in.served {
		if s.hostPort != 0 {
			ports = append(ports, s.hostPort)
		}
	}
	if err := in.toolsets.open(ctx, enabled); err != nil { // before the sandbox
		return nil, err
	}
	exposed := exposedRootsWarning(in.toolsets.fileRoots(enabled), cfg.env.host.Etc, in.log) // before the sandbox: it reads directories
	warning, err := confine(cfg, enabled, ports, in.log)
	if err != nil {
		return nil, err
	}
	in.app, err = newApp(appConfig{Logger: in.log, Verifier: in.verifier, Audit: in.audit, All: all, Enabled: enabled,
		Resource: cfg.ResourceURL, AuthServer: cfg.AuthServers, Version: version,
		Tailnet: ident, AuthMode: cfg.authMode, AllowLoopback: cfg.AllowLoopback, Hosts: in.hostNames(),
		Gate: in.approvals.gate, Sessions: cfg.Sessions})
	if err != nil {
		return nil, err
	}
	in.app.warning = joinWarnings(warning, exposed)
	in.reload = newReloader(cfg, in.verifier, in.audit, in.log)
	in.app.liveWarnings = in.reload.warnings
	reason := fmt.Sprintf("tailops %s serving %d tools: %s", version, len(enabled), strings.Join(tools.Names(enabled), ", "))
	if in.node != nil {
		reason += "; " + in.tailnetSummary()
	}
	start := &audit.Record{Event: audit.EventServerStart, Decision: audit.DecisionAllowed, Result: audit.ResultSuccess, Reason: reason}
	if err := in.audit.Write(ctx, start); err != nil {
		return nil, fmt.Errorf("writing audit log: %w", err)
	}
	return in, nil
}

// serve serves until ctx is done, and then until the calls in flight are
// done (see drain).
func (in *instance) serve(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	defer in.app.recordStop()
	in.approvals.serve(ctx)
	if in.cfg.Stdio {
		return serveStdio(ctx, in.app, in.cfg, stdin, stdout)
	}
	go in.reload.watch(ctx)
	var lns []net.Listener
	for _, s := range in.served {
		in.log.Info("serving MCP", slog.String("url", s.url+"/mcp"), slog.Int("tools", len(in.app.enabled)),
			slog.String("audit_log", in.cfg.AuditLog), slog.String("tailnet", string(in.cfg.tailnetMode)),
			slog.String("auth", string(in.cfg.authMode)))
		lns = append(lns, s.ln)
	}
	return serveHTTP(ctx, in.app, lns, in.cfg.ShutdownTimeout, in.log)
}

func (in *instance) close() {
	for _, s := range in.served {
		s.ln.Close()
	}
	if in.node != nil {
		if err := in.node.Close(); err != nil {
			in.log.Warn("closing tailnet node", slog.Any("error", err))
		}
	}
	if in.approvals != nil {
		in.approvals.close()
	}
	if in.audit != nil {
		in.audit.Close()
	}
	if in.toolsets != nil {
		in.toolsets.close(in.log)
	}
}

// listen opens a TCP listener with Multipath TCP off: Landlock's bind
// rules do not cover MPTCP sockets.
func listen(ctx context.Context, addr string) (net.Listener, error) {
	ln, err := sandbox.ListenConfig().Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

// newVerifier builds the token verifier from the shared secret (created
// on first start when create is set), the JWKS file and revocations.
func (c *config) newVerifier(log *slog.Logger, create bool) (*auth.Verifier, error) {
	secret, err := c.loadSecret(create)
	if err != nil && !(errors.Is(err, errNoSecret) && c.JWKSFile != "") {
		return nil, err
	}
	if c.createdSecretAt != "" && log != nil {
		log.Info("created a new shared secret; mint a token with: tailops token mint --state-dir "+c.StateDir+
			" --agent NAME --scopes readonly --ttl 24h", "path", c.createdSecretAt)
	}
	vc := auth.Config{Secret: secret, Audience: c.ResourceURL, Issuer: c.JWTIssuer, MaxLifetime: c.TokenMaxLife,
		AllowNoExpiry: c.file.AllowTokensWithoutExpiry}
	if c.JWKSFile != "" {
		if vc.JWKS, err = auth.LoadJWKS(c.JWKSFile); err != nil {
			return nil, fmt.Errorf("loading --jwks-file: %w", err)
		}
	}
	v, err := auth.NewVerifier(vc)
	if err != nil {
		return nil, fmt.Errorf("configuring token verification: %w", err)
	}
	if c.file.Revoked != nil {
		v.SetRevocations(*c.file.Revoked)
	}
	return v, nil
}

// serveHTTP serves a on every listener until ctx is done or one of them
// fails. Then it stops accepting connections and drains the calls in
// flight (see drain), waiting up to timeout before it cancels them.
func serveHTTP(ctx context.Context, a *app, lns []net.Listener, timeout time.Duration, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           a.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// WhoIs answers are cached per connection, never for a new
		// connection that happens to reuse an address.
		ConnContext: tailnet.WithConn,
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- srv.Serve(ln) }()
	}
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serving HTTP: %w", err)
	case <-ctx.Done():
		log.Info("shutting down")
	}
	// Shutdown closes the listeners and idle connections at once, then
	// waits for the rest; the calls in flight are drained meanwhile, and
	// their responses get a few seconds to be written.
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(sctx) }()
	a.drain(timeout, cleanupGrace)
	t := time.AfterFunc(5*time.Second, cancel)
	defer t.Stop()
	if err := <-shut; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("closing connections still open after the calls ended", slog.Any("error", err))
		srv.Close()
	}
	return serveErr
}

// serveStdio serves one local client on stdin/stdout. The caller is the
// local unix user with --stdio-scopes; there is no bearer token.
func serveStdio(ctx context.Context, a *app, c *config, stdin io.Reader, stdout io.Writer) error {
	scopes, err := auth.ParseScopes(c.StdioScopes)
	if err != nil {
		return fmt.Errorf("--stdio-scopes: %w", err)
	}
	name := fmt.Sprint(os.Getuid())
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	caller := &auth.Caller{Agent: "stdio:" + name, Method: auth.MethodStdio, Scopes: scopes}
	s := server.NewStdioServer(a.mcp)
	s.SetContextFunc(func(ctx context.Context) context.Context { return auth.WithCaller(ctx, caller) })
	// Listen cancels its calls as soon as its context is done: on a
	// signal, it gets its own context only after the calls in flight were
	// drained (see drain).
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	done := make(chan error, 1)
	go func() { done <- s.Listen(lctx, stdin, stdout) }()
	select {
	case err = <-done: // the client closed stdin
	case <-ctx.Done():
		a.drain(c.ShutdownTimeout, cleanupGrace)
		stop()
		select {
		case err = <-done:
		case <-time.After(5 * time.Second):
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("serving stdio: %w", err)
	}
	return nil
}

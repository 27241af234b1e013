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
	"os/signal"
	"os/user"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/fleet"
	"github.com/tailops/tailops/metrics"
	"github.com/tailops/tailops/prompts"
	"github.com/tailops/tailops/resources"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/server"
	"github.com/tailops/tailops/tailnet"
	"github.com/tailops/tailops/tools"
)

// runServe is `tailops serve`.
func runServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	// A SIGHUP (systemctl reload) reloads what there is to reload (the
	// config file's revocations, the --jwks-url key set); it never ends
	// the server, as Go's default would, even with nothing to reload or
	// while it is still starting.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	in, err := setup(ctx, args, stderr)
	if err != nil {
		return err
	}
	defer in.close()
	go in.hangups(ctx, hup)
	return in.serve(ctx, stdin, stdout)
}

// hangups takes the SIGHUPs runServe catches until ctx is done: the
// reloader and the key set have their own; with neither, it says there
// is nothing to reload.
func (in *instance) hangups(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if in.reload == nil && in.jwks == nil {
				in.log.Info("SIGHUP: nothing to reload (no --config file with revocations, no --jwks-url)")
			}
		}
	}
}

// instance is a server that is set up and confined, ready to serve.
type instance struct {
	cfg       *config
	log       *slog.Logger
	srv       *server.Server
	ln        net.Listener // the --listen listener; nil with --stdio, and in tsnet mode without --listen
	served    []served     // every listener serve serves, ln included
	node      *tailnet.Node
	fleet     *fleet.Fleet // --fleet's; nil when this node is no fleet entry point
	audit     *audit.Log
	verifier  *auth.Verifier
	approvals *approvals
	reload    *reloader // nil without a config file, and with --stdio
	toolsets  *toolsetList
	metrics   *metrics.Metrics // nil when the server keeps none (config.metricsOn)
	metricsLn served           // --metrics-listen's listener; ln nil without it
	// jwks is the --jwks-url key set (see jwks.go); nil without it.
	// jwksFailed is /readyz's warning while its last fetch failed.
	jwks       *auth.RemoteJWKS
	jwksMu     sync.Mutex
	jwksFailed string
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
	if err := cfg.resolveInline(); err != nil {
		return nil, err
	}
	if err := cfg.resolveMetrics(); err != nil {
		return nil, err
	}
	if err := cfg.resolveRateLimits(); err != nil {
		return nil, err
	}
	in := &instance{cfg: cfg, log: cfg.newLogger(stderr)}
	defer func() {
		if err != nil {
			in.close()
		}
	}()
	var gate *approval.Gate // two-person approval's, once the approvals are open (below)
	in.fleet = cfg.newFleet(in.log)
	in.toolsets = cfg.toolsets(in.log, func() *approval.Gate { return gate }, in.fleet)
	all := in.toolsets.specs()
	sel, err := cfg.selection(in.toolsets)
	if err != nil {
		return nil, err
	}
	enabled, err := tools.Select(all, sel)
	if err != nil {
		return nil, fmt.Errorf("selecting tools: %w", err)
	}
	if err := in.toolsets.check(enabled, in.log); err != nil {
		return nil, err
	}
	if err := tools.CheckNames(all, cfg.file.Approval); err != nil {
		return nil, fmt.Errorf("config file %s: key \"approval\": %w", cfg.ConfigFile, err)
	}
	if cfg.confirm, err = cfg.confirmTools(all); err != nil {
		return nil, err
	}
	if !cfg.Stdio {
		if in.jwks, err = in.remoteJWKS(); err != nil {
			return nil, err
		}
		if in.verifier, err = cfg.newVerifier(in.log, true, in.jwks); err != nil {
			return nil, err
		}
	}
	auditOpts := &audit.Options{MaxSize: cfg.AuditMaxBytes, Logger: in.log}
	if cfg.metricsOn() {
		in.metrics = metrics.New(metrics.Options{Tools: tools.Names(all), Version: version, Commit: commit, TestTags: testBuild(), Logger: in.log})
		auditOpts.Observe = in.metrics.AuditWrite
	}
	if in.audit, err = audit.Open(cfg.AuditLog, auditOpts); err != nil {
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	in.metrics.SetAuditHealthy(func() bool { return in.audit.Healthy() == nil })
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
	// After the tailnet node is up (a key set on the tailnet is fetched
	// through it), before the sandbox.
	if err := in.openJWKS(ctx); err != nil {
		return nil, err
	}
	if cfg.MetricsListen != "" {
		if w := metricsExposure(cfg.MetricsListen); w != "" {
			in.log.Warn(w)
		}
		if in.metricsLn, err = hostListener(ctx, cfg.MetricsListen); err != nil {
			return nil, fmt.Errorf("--metrics-listen: %w", err)
		}
		ports = append(ports, in.metricsLn.hostPort)
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
	warning, sandboxState, err := confine(cfg, enabled, ports, in.log)
	if err != nil {
		return nil, err
	}
	in.metrics.SetSandbox(sandboxState)
	in.toolsets.setSelf(enabled, sandboxState)
	in.reload = newReloader(cfg, in.verifier, in.audit, in.log)
	var warnings []string
	testOnly := testBuildWarning(testBuild())
	if testOnly != "" {
		in.log.Warn(testOnly)
		warnings = append(warnings, testOnly)
	}
	if w := joinWarnings(warning, exposed); w != "" {
		warnings = append(warnings, w)
	}
	in.srv, err = server.New(server.Config{Logger: in.log, Version: version, Audit: in.audit, Verifier: in.verifier,
		Known: all, Enabled: enabled, Prompts: append(tools.Prompts(in.toolsets.sets), prompts.All()...), Completions: tools.Completions(in.toolsets.sets),
		Resources: tools.Resources(in.toolsets.sets), Views: resources.All(), Watchers: tools.Watchers(in.toolsets.sets),
		Gate: in.approvals.gate, Confirm: cfg.confirm, ConfirmLowered: cfg.confirmLowered, Metrics: in.metrics, Resource: cfg.ResourceURL, AuthServers: cfg.AuthServers,
		Tailnet: ident, AuthMode: cfg.authMode, AllowLoopback: cfg.AllowLoopback, Hosts: in.hostNames(),
		Sessions: cfg.Sessions, InlineMax: cfg.InlineMax, RateLimits: cfg.rateLimits, ShutdownTimeout: cfg.ShutdownTimeout, Warnings: warnings,
		LiveWarnings: func() []string { return append(in.reload.warnings(), in.jwksWarnings()...) }, Fleet: in.forwarder()})
	if err != nil {
		return nil, err
	}
	reason := fmt.Sprintf("tailops %s serving %d tools: %s", version, len(enabled), strings.Join(tools.Names(enabled), ", "))
	if in.node != nil {
		reason += "; " + in.tailnetSummary()
	}
	if in.jwks != nil {
		reason += fmt.Sprintf("; JWT keys from %s: %d", in.jwks.URL(), in.jwks.Keys().Len())
	}
	if testOnly != "" {
		reason += "; " + testOnly
	}
	if err := in.srv.Start(ctx, reason); err != nil {
		return nil, fmt.Errorf("writing audit log: %w", err)
	}
	return in, nil
}

// serve serves until ctx is done, and then until the calls in flight are
// done (see server.Server.Serve).
func (in *instance) serve(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	defer in.srv.Stop()
	in.approvals.serve(ctx)
	if in.metricsLn.ln != nil {
		stop := in.serveMetrics()
		defer stop()
	}
	if in.cfg.Stdio {
		caller, err := stdioCaller(in.cfg)
		if err != nil {
			return err
		}
		return in.srv.ServeStdio(ctx, caller, stdin, stdout)
	}
	go in.reload.watch(ctx)
	go in.watchJWKS(ctx)
	var lns []net.Listener
	for _, s := range in.served {
		in.log.Info("serving MCP", slog.String("url", s.url+"/mcp"), slog.Int("tools", len(in.srv.Tools())),
			slog.String("audit_log", in.cfg.AuditLog), slog.String("tailnet", string(in.cfg.tailnetMode)),
			slog.String("auth", string(in.cfg.authMode)))
		lns = append(lns, s.ln)
	}
	// Start-up's garbage (the tools' schemas as inferred, the sandbox
	// policy as built) goes back to the kernel once the listeners
	// serve, not whenever the background scavenger gets to it: the idle
	// server's anonymous memory is what stays.
	go debug.FreeOSMemory()
	return in.srv.Serve(ctx, lns)
}

// serveMetrics serves --metrics-listen until the returned function is
// called, which ends the scrapes in flight (briefly) and closes it.
func (in *instance) serveMetrics() (stop func()) {
	hs := &http.Server{Handler: in.metrics.ListenerHandler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(in.log.Handler(), slog.LevelWarn)}
	in.log.Info("serving metrics", slog.String("url", in.metricsLn.url+metrics.Path))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(in.metricsLn.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			in.log.Warn("metrics listener stopped", slog.Any("error", err))
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		<-done
	}
}

func (in *instance) close() {
	for _, s := range in.served {
		s.ln.Close()
	}
	if in.metricsLn.ln != nil {
		in.metricsLn.ln.Close()
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
// on first start when create is set), the JWKS file or remote (the
// --jwks-url key set; nil without it) and revocations.
func (c *config) newVerifier(log *slog.Logger, create bool, remote *auth.RemoteJWKS) (*auth.Verifier, error) {
	secret, err := c.loadSecret(create)
	if err != nil && !(errors.Is(err, errNoSecret) && (c.JWKSFile != "" || remote != nil)) {
		return nil, err
	}
	if c.createdSecretAt != "" && log != nil {
		log.Info("created a new shared secret; mint a token with: tailops token mint --state-dir "+c.StateDir+
			" --agent NAME --scopes readonly --ttl 24h", "path", c.createdSecretAt)
	}
	vc := auth.Config{Secret: secret, Audience: c.ResourceURL, Issuer: c.JWTIssuer, MaxLifetime: c.TokenMaxLife,
		AllowNoExpiry: c.file.AllowTokensWithoutExpiry, RemoteJWKS: remote}
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
	if (c.JWKSFile != "" || remote != nil) && c.ResourceURL == "" && log != nil {
		log.Warn("JWTs signed by the configured keys are accepted whatever their audience: a token the identity provider issued " +
			"for another service works here too; set --resource-url to this server's URL to require it as the tokens' aud")
	}
	return v, nil
}

// stdioCaller is the caller of a stdio server: the local unix user with
// --stdio-scopes; there is no bearer token.
func stdioCaller(c *config) (*auth.Caller, error) {
	scopes, err := auth.ParseScopes(c.StdioScopes)
	if err != nil {
		return nil, fmt.Errorf("--stdio-scopes: %w", err)
	}
	name := fmt.Sprint(os.Getuid())
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return &auth.Caller{Agent: "stdio:" + name, Method: auth.MethodStdio, Scopes: scopes}, nil
}

// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
)

// jwksStartWithin is how long the start tries to fetch the --jwks-url key
// set before it gives up: a tailnet peer may take a moment to be
// reachable after the node came up.
const jwksStartWithin = 30 * time.Second

// remoteJWKS returns the --jwks-url key set, not fetched yet (openJWKS
// fetches it), or nil without --jwks-url. Its connections go through the
// tsnet node for a host on its tailnet, else through the host's dialer
// (dialJWKS); every fetch is logged, and after the start a failed one, or
// one that changed the keys, is audited and a failure shows on /readyz.
func (in *instance) remoteJWKS() (*auth.RemoteJWKS, error) {
	if in.cfg.JWKSURL == "" {
		return nil, nil
	}
	r, err := auth.NewRemoteJWKS(auth.RemoteJWKSConfig{URL: in.cfg.JWKSURL, Dial: in.dialJWKS, Observe: in.observeJWKS})
	if err != nil {
		return nil, fmt.Errorf("--jwks-url: %w", err)
	}
	return r, nil
}

// dialJWKS dials addr, the key set's host and port: through the tsnet
// node (in this process, no host socket) when the host is on its tailnet,
// else with the host's dialer. in.node is set before the first fetch.
func (in *instance) dialJWKS(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if dial := in.node.DialerFor(host); dial != nil {
		return dial(ctx, network, addr)
	}
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

// openJWKS fetches the --jwks-url key set for the first time, before the
// sandbox; the start fails without it. A fetch that did not get through
// (auth.ErrKeySetUnreachable) is tried again for up to jwksStartWithin;
// an answer that is no usable key set stops the start at once.
func (in *instance) openJWKS(ctx context.Context) error {
	if in.jwks == nil {
		return nil
	}
	deadline := time.Now().Add(jwksStartWithin)
	for {
		err := in.jwks.Fetch(ctx, auth.TriggerStart)
		if err == nil {
			return nil
		}
		if !errors.Is(err, auth.ErrKeySetUnreachable) {
			return fmt.Errorf("--jwks-url: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("--jwks-url: %w (tried for %s)", err, jwksStartWithin)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("--jwks-url: %w", err)
		case <-time.After(time.Second):
		}
	}
}

// watchJWKS fetches the key set every auth.DefaultJWKSRefresh and on
// SIGHUP, until ctx is done.
func (in *instance) watchJWKS(ctx context.Context) {
	if in.jwks == nil {
		return
	}
	go in.jwks.Run(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			in.jwks.Fetch(ctx, "SIGHUP")
		}
	}
}

// observeJWKS logs a fetch of the key set; after the start, it audits one
// that failed or changed the keys, and keeps /readyz's warning while the
// last one failed.
func (in *instance) observeJWKS(f auth.Fetch) {
	log := in.log.With(slog.String("url", f.URL), slog.String("trigger", f.Trigger), slog.Int("keys", f.Keys))
	switch {
	case f.Err != nil:
		log.Warn("jwks: fetching the key set failed; the keys fetched before stay in use", slog.Any("error", f.Err))
	case f.Changed():
		log.Info("jwks: fetched the key set; its keys changed", slog.String("added", kidList(f.Added)), slog.String("removed", kidList(f.Removed)))
	case f.Trigger == auth.TriggerRefresh:
		log.Debug("jwks: fetched the key set; unchanged")
	default:
		log.Info("jwks: fetched the key set; unchanged")
	}
	if f.Trigger == auth.TriggerStart {
		return // before serving: the start fails, or server_start follows
	}
	in.jwksMu.Lock()
	in.jwksFailed = ""
	if f.Err != nil {
		in.jwksFailed = fmt.Sprintf("the JWT key set could not be fetched from --jwks-url at %s (%s): the keys fetched before stay in use "+
			"until a fetch succeeds; the server log says why", time.Now().UTC().Format(time.RFC3339), f.Trigger)
	}
	in.jwksMu.Unlock()
	rec := &audit.Record{Event: audit.EventJWKSFetch, Result: audit.ResultSuccess,
		Reason: fmt.Sprintf("%s: key set %s fetched: %d keys; added %s; removed %s", f.Trigger, f.URL, f.Keys, kidList(f.Added), kidList(f.Removed))}
	if f.Err != nil {
		rec.Result, rec.Error = audit.ResultError, f.Err.Error()
		rec.Reason = fmt.Sprintf("%s: the %d keys fetched before stay in use", f.Trigger, f.Keys)
	} else if !f.Changed() {
		return
	}
	if err := in.audit.Write(context.Background(), rec); err != nil {
		in.log.Error("writing audit log", "event", rec.Event, "error", err)
	}
}

// jwksWarnings is /readyz's line while the last fetch of the key set
// failed. It names no URL: /readyz answers without a token.
func (in *instance) jwksWarnings() []string {
	in.jwksMu.Lock()
	defer in.jwksMu.Unlock()
	if in.jwksFailed == "" {
		return nil
	}
	return []string{in.jwksFailed}
}

// kidList shows kids for the log and the audit log: "none", or their
// quoted list ("" is a key without kid).
func kidList(kids []string) string {
	if len(kids) == 0 {
		return "none"
	}
	q := make([]string, len(kids))
	for i, k := range kids {
		q[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(q, ", ")
}

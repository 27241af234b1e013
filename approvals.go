// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"tailscale.com/net/tsaddr"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/audit"
)

// approvalFlags are serve's approval settings.
type approvalFlags struct {
	Webhook           string
	WebhookSecretFile string
	WebhookTimeout    time.Duration
	TwoPerson         bool
	Wait              time.Duration
	TTL               time.Duration
}

// bindApprovals registers the approval flags.
func (f *approvalFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.Webhook, "approval-webhook", "", "URL that decides approval requests (POST, signed with the webhook secret)")
	fs.StringVar(&f.WebhookSecretFile, "approval-webhook-secret-file", "", "file with the secret that signs webhook requests (mode 0600)")
	fs.DurationVar(&f.WebhookTimeout, "approval-webhook-timeout", approval.DefaultWebhookTimeout, "how long to wait for the webhook's answer")
	fs.BoolVar(&f.TwoPerson, "approval-two-person", false, "approve critical calls by a second person (approve_request tool or `tailops approvals`)")
	fs.DurationVar(&f.Wait, "approval-wait", approval.DefaultWait, "how long a call waits for a two-person decision before it returns \"approval pending\"")
	fs.DurationVar(&f.TTL, "approval-ttl", approval.DefaultTTL, "how long a request may be approved, and an approval used")
}

// approvals is the server's approval machinery, opened before the sandbox.
type approvals struct {
	store  *approval.Store
	gate   *approval.Gate
	socket net.Listener // nil unless two-person approval is on
}

// webhookURL parses --approval-webhook: an http or https URL with a host.
// The error does not repeat the URL, which may hold credentials.
func (f *approvalFlags) webhookURL() (*url.URL, error) {
	u, err := url.Parse(f.Webhook)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("--approval-webhook: want an http or https URL")
	}
	return u, nil
}

// privateHop reports whether a webhook at host is reached over loopback
// or the tailnet (WireGuard), where plain http is not readable or
// writable by others on the way: a loopback or tailnet address,
// localhost, or a MagicDNS name.
func privateHop(host string) bool {
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		return a.IsLoopback() || tsaddr.IsTailscaleIP(a)
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "localhost" || strings.HasSuffix(h, ".ts.net")
}

// openApprovals opens the request store, the gate and, for two-person
// approval, the host CLI's unix socket in the state dir. extra names
// tools that need approval although they are not critical.
func openApprovals(f *approvalFlags, stateDir string, extra []string, alog *audit.Log, log *slog.Logger) (*approvals, error) {
	ap := &approvals{}
	var wh *approval.Webhook
	if f.Webhook != "" {
		if _, err := f.webhookURL(); err != nil {
			return nil, err
		}
		if f.WebhookSecretFile == "" {
			return nil, fmt.Errorf("--approval-webhook needs --approval-webhook-secret-file")
		}
		secret, err := approval.LoadWebhookSecret(f.WebhookSecretFile)
		if err != nil {
			return nil, fmt.Errorf("--approval-webhook-secret-file: %w", err)
		}
		wh = &approval.Webhook{URL: f.Webhook, Secret: secret, Timeout: f.WebhookTimeout, Logger: log}
		if u, _ := f.webhookURL(); u.Scheme == "http" && !privateHop(u.Hostname()) && log != nil {
			log.Warn("the approval webhook is plain http off loopback and the tailnet: its answer is not signed, so anyone on the " +
				"path between can approve a call; use https, a tailnet address, or loopback")
		}
	}
	var err error
	if wh != nil || f.TwoPerson {
		// The store also keeps the key of the argument digests, in
		// approvals.json.key: random, created once, never the shared
		// secret (see approval.KeyFileSuffix).
		if ap.store, err = approval.OpenStore(filepath.Join(stateDir, "approvals.json"), &approval.StoreOptions{Logger: log}); err != nil {
			return nil, fmt.Errorf("opening approval store: %w", err)
		}
	}
	ap.gate, err = approval.NewGate(approval.Config{Store: ap.store, Webhook: wh, TwoPerson: f.TwoPerson, Wait: f.Wait,
		TTL: f.TTL, Extra: extra, Audit: alog.Write, Logger: log})
	if err != nil {
		ap.close()
		return nil, err
	}
	if f.TwoPerson {
		if ap.socket, err = approval.ListenSocket(filepath.Join(stateDir, approval.SocketName)); err != nil {
			ap.close()
			return nil, fmt.Errorf("opening the approvals socket: %w", err)
		}
	}
	return ap, nil
}

// serve answers the host CLI and expires old requests until ctx is done.
func (ap *approvals) serve(ctx context.Context) {
	if ap.socket != nil {
		c := approval.ServeSocket(ctx, ap.socket, ap.gate)
		go func() { <-ctx.Done(); c.Close() }()
	}
	if ap.store != nil {
		go ap.gate.Run(ctx)
	}
}

func (ap *approvals) close() {
	if ap.socket != nil {
		ap.socket.Close()
	}
	if ap.store != nil {
		ap.store.Close()
	}
}

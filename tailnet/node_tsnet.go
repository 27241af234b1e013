// SPDX-License-Identifier: Apache-2.0

//go:build !tailops_notsnet

package tailnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"tailscale.com/envknob"
	"tailscale.com/net/netns"
	"tailscale.com/tsnet"
)

// TSNetBuilt reports whether this build has the tsnet mode: it does
// unless built with -tags tailops_notsnet.
const TSNetBuilt = true

// tsServer is the in-process Tailscale node.
type tsServer = tsnet.Server

func startTSNet(ctx context.Context, cfg NodeConfig, log *slog.Logger) (*Node, error) {
	if cfg.Dir == "" {
		return nil, errors.New("starting tsnet: no state directory")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating tsnet state directory: %w", err)
	}
	// Started as root, the engine would mark its sockets with SO_MARK
	// (netns), which needs CAP_NET_ADMIN: once the sandbox drops it, every
	// socket the engine opens afterwards (a rebind after a link change, a
	// new control or DERP connection) would fail. Unprivileged, the marks
	// fail silently and the engine goes without them; so it does as root.
	netns.SetEnabled(false)
	if !cfg.UploadLogs {
		// Read by tsnet's log policy and logtail transport: no upload.
		envknob.SetNoLogsNoSupport()
	}
	host := cfg.Hostname
	if host == "" {
		host = DefaultHostname()
	}
	ts := &tsnet.Server{
		Dir:           cfg.Dir,
		Hostname:      host,
		AuthKey:       cfg.AuthKey,
		ControlURL:    cfg.ControlURL,
		AdvertiseTags: cfg.Tags,
		Ephemeral:     cfg.Ephemeral,
		UserLogf: func(format string, args ...any) {
			log.Info("tsnet: " + fmt.Sprintf(format, args...))
		},
	}
	if cfg.Debug {
		ts.Logf = func(format string, args ...any) {
			log.Debug("tailscale: " + strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
		}
	}
	st, err := ts.Up(ctx)
	if err != nil {
		ts.Close()
		return nil, fmt.Errorf("bringing tsnet up: %w", err)
	}
	lc, err := ts.LocalClient()
	if err != nil {
		ts.Close()
		return nil, fmt.Errorf("getting tsnet's local client: %w", err)
	}
	return &Node{mode: ModeTSNet, ts: ts, lc: lc, status: st, log: log}, nil
}

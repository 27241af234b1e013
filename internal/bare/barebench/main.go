// SPDX-License-Identifier: Apache-2.0

// Command barebench is the peer of TailOps' start-up benchmark: package
// bare's server on the --listen address, opened as TailOps opens its own
// (Multipath TCP off). BenchmarkStartup builds it and starts and times it
// the same way as `tailops serve`.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tailops/tailops/internal/bare"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address to serve on")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "barebench:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: bare.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

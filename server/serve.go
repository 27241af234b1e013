// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tailnet"
)

// Serve serves HTTP on every listener until ctx is done or one of them
// fails. Then it stops accepting connections and drains the calls in
// flight (see drain), waiting up to the shutdown timeout before it
// cancels them. It returns once every call has its outcome recorded.
func (s *Server) Serve(ctx context.Context, lns []net.Listener) error {
	srv := &http.Server{
		Handler:           readBodyWithin(s.bodyTimeout, s.Handler()),
		ReadHeaderTimeout: 10 * time.Second,
		// Not ReadTimeout: it would also end the event streams, whose
		// requests last as long as the client listens.
		IdleTimeout:    s.idleTimeout,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// WhoIs answers are cached per connection, never for a new
		// connection that happens to reuse an address.
		ConnContext: tailnet.WithConn,
	}
	// Refusals past their source's budget are summarised while Serve
	// runs, flood or not; Stop writes the last summaries.
	fctx, stopSummaries := context.WithCancel(ctx)
	summarised := make(chan struct{})
	go func() { defer close(summarised); s.summariseRefusals(fctx, refusalSummaryEvery) }()
	defer func() { stopSummaries(); <-summarised }()
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errc <- srv.Serve(ln) }()
	}
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serving HTTP: %w", err)
	case <-ctx.Done():
		s.log.Info("shutting down")
	}
	// Shutdown closes the listeners and idle connections at once, then
	// waits for the rest; the calls in flight are drained meanwhile, and
	// their responses get a few seconds to be written.
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(sctx) }()
	s.drain(s.shutdownTimeout, CleanupGrace)
	t := time.AfterFunc(5*time.Second, cancel)
	defer t.Stop()
	if err := <-shut; err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Warn("closing connections still open after the calls ended", slog.Any("error", err))
		srv.Close()
	}
	return serveErr
}

// DefaultBodyTimeout is how long a request's body may take to arrive
// once its headers have: a client that sends a few bytes of a long body
// and stalls would otherwise hold its connection and handler for ever,
// before any token is checked.
const DefaultBodyTimeout = 30 * time.Second

// DefaultIdleTimeout is how long a keep-alive connection may wait for its
// next request before it is closed.
const DefaultIdleTimeout = 2 * time.Minute

// readBodyWithin gives a request with a body d to send all of it, from
// when its handler starts: the connection's read deadline, lifted once
// the body has been read to its end, so that a response that then
// streams for long (an event stream, a slow tool) is not cut off. A
// body left unread (a request refused before it is read) keeps the
// deadline, which also bounds the server's discarding of it.
func readBodyWithin(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(d)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, lift: func() { rc.SetReadDeadline(time.Time{}) }}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody is a request body that lifts its connection's read
// deadline once read to its end.
type deadlineBody struct {
	io.ReadCloser
	lift   func()
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.lifted {
		b.lifted = true
		b.lift()
	}
	return n, err
}

// ServeStdio serves one local client on stdin/stdout as caller (there is
// no bearer token: the caller is who started the process) until the
// client closes stdin or ctx is done; then it drains the calls in flight
// like Serve.
func (s *Server) ServeStdio(ctx context.Context, caller *auth.Caller, stdin io.Reader, stdout io.Writer) error {
	std := mcpserver.NewStdioServer(s.mcp)
	std.SetContextFunc(func(ctx context.Context) context.Context {
		return context.WithValue(auth.WithCaller(ctx, caller), stdioKey{}, true)
	})
	// Listen cancels its calls as soon as its context is done: on a
	// signal, it gets its own context only after the calls in flight were
	// drained (see drain).
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	done := make(chan error, 1)
	go func() { done <- std.Listen(lctx, stdin, stdout) }()
	var err error
	select {
	case err = <-done: // the client closed stdin
	case <-ctx.Done():
		s.drain(s.shutdownTimeout, CleanupGrace)
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

// SPDX-License-Identifier: Apache-2.0

package approval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// SocketName is the approvals socket's file name in the state directory.
const SocketName = "approvals.sock"

// The socket protocol is HTTP/1.1 with JSON bodies:
//
//	GET  /v1/approvals[?all=1]      → []Request (pending, or all)
//	GET  /v1/approvals/{id}         → Request
//	POST /v1/approvals/{id}/approve {"reason": "..."} → Request
//	POST /v1/approvals/{id}/deny    {"reason": "..."} → Request
//
// Errors are {"error": "<message>", "code": "<code>"} with a 4xx or 5xx
// status; errorCodes lists the codes.
const (
	socketHost   = "tailops-approvals"
	maxSocketReq = 8 << 10
)

// errorCodes names the sentinels that cross the socket.
var errorCodes = []struct {
	code   string
	err    error
	status int
}{
	{"not_found", ErrNotFound, http.StatusNotFound},
	{"not_pending", ErrNotPending, http.StatusConflict},
	{"expired", ErrExpired, http.StatusConflict},
	{"self_approval", ErrSelfApproval, http.StatusForbidden},
	{"no_grant_scope", ErrNoGrantScope, http.StatusForbidden},
	{"two_person_disabled", ErrTwoPersonDisabled, http.StatusForbidden},
}

// socketListener removes its socket file on Close, if it is still the
// one it created.
type socketListener struct {
	*net.UnixListener
	path string
	fi   fs.FileInfo
	once sync.Once
}

func (l *socketListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		if fi, serr := os.Lstat(l.path); serr == nil && os.SameFile(fi, l.fi) {
			os.Remove(l.path)
		}
	})
	return err
}

// ListenSocket creates the approvals unix socket at path (normally
// STATE_DIR/approvals.sock) with mode 0600, so that only the server's
// user and root can connect; ServeSocket also checks every peer's uid. The
// socket is bound in a private temporary directory beside path, set to
// 0600 and renamed into place, so it is never reachable with a wider mode.
// A stale socket at path is replaced; a live one (another server answers)
// or a file that is not a socket is an error. Call it before the sandbox
// is applied; closing the listener removes the socket.
func ListenSocket(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("creating approvals socket: %s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("creating approvals socket: %s is in use by another server", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale approvals socket: %w", err)
		}
	}
	tmpDir, err := os.MkdirTemp(filepath.Dir(path), ".approvals-sock-*")
	if err != nil {
		return nil, fmt.Errorf("creating approvals socket: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("creating approvals socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, error) {
		ln.Close()
		return nil, fmt.Errorf("creating approvals socket: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	return &socketListener{UnixListener: ln, path: path, fi: fi}, nil
}

// peer is who is at the other end of a socket connection.
type peer struct {
	uid int
	err error
}

type peerKey struct{}

// ServeSocket serves the approvals protocol for g on ln (from
// ListenSocket) until ctx is done or the returned Closer is closed, which
// also closes ln. Only peers whose SO_PEERCRED uid is 0 or the server's
// own uid are served; others get 403 and a warning is logged. Decisions
// are made as LocalUser{uid, user name} with MechanismLocalCLI and need a
// Gate with two-person approval.
func ServeSocket(ctx context.Context, ln net.Listener, g *Gate) io.Closer {
	h := &socketHandler{g: g, self: os.Getuid()}
	srv := &http.Server{
		Handler:           h.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		ErrorLog:          slog.NewLogLogger(g.logger.Handler(), slog.LevelWarn),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			uid, err := peerUID(c)
			return context.WithValue(ctx, peerKey{}, peer{uid: uid, err: err})
		},
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.logger.Error("serving approvals socket", slog.Any("error", err))
		}
	}()
	stop := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			srv.Close()
		case <-stop:
		}
	}()
	var once sync.Once
	return closerFunc(func() error {
		var err error
		once.Do(func() {
			close(stop)
			err = srv.Close()
			<-done
		})
		return err
	})
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

type socketHandler struct {
	g    *Gate
	self int
}

func (h *socketHandler) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/approvals", func(w http.ResponseWriter, r *http.Request) {
		all := r.URL.Query().Get("all") == "1"
		rs, err := h.g.list(r.Context(), all)
		h.reply(w, rs, err)
	})
	mux.HandleFunc("GET /v1/approvals/{id}", func(w http.ResponseWriter, r *http.Request) {
		req, err := h.g.get(r.Context(), r.PathValue("id"))
		h.reply(w, req, err)
	})
	mux.HandleFunc("POST /v1/approvals/{id}/approve", func(w http.ResponseWriter, r *http.Request) { h.decide(w, r, true) })
	mux.HandleFunc("POST /v1/approvals/{id}/deny", func(w http.ResponseWriter, r *http.Request) { h.decide(w, r, false) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := r.Context().Value(peerKey{}).(peer)
		switch {
		case p.err != nil:
			h.g.logger.Warn("approvals socket: cannot identify peer", slog.Any("error", p.err))
			writeError(w, http.StatusForbidden, "permission_denied", "permission denied: cannot identify the peer")
			return
		case p.uid != 0 && p.uid != h.self:
			h.g.logger.Warn("approvals socket: refusing peer", slog.Int("uid", p.uid))
			writeError(w, http.StatusForbidden, "permission_denied", fmt.Sprintf(
				"permission denied: uid %d may not manage approvals; only root and the service user (uid %d) may", p.uid, h.self))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (h *socketHandler) decide(w http.ResponseWriter, r *http.Request, approved bool) {
	var body struct {
		Reason string `json:"reason"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSocketReq)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "bad_request", "bad request: "+err.Error())
		return
	}
	p, _ := r.Context().Value(peerKey{}).(peer)
	req, err := h.g.DecideLocal(r.Context(), r.PathValue("id"), approved, body.Reason, localUser(p.uid))
	h.reply(w, req, err)
}

// localUser names uid; the name is empty when it cannot be looked up
// (for example when the sandbox hides /etc/passwd).
func localUser(uid int) LocalUser {
	u := LocalUser{UID: uid}
	if pw, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		u.Name = pw.Username
	}
	return u
}

func (h *socketHandler) reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		for _, c := range errorCodes {
			if errors.Is(err, c.err) {
				writeError(w, c.status, c.code, err.Error())
				return
			}
		}
		h.g.logger.Error("approvals socket request failed", slog.Any("error", err))
		writeError(w, http.StatusInternalServerError, "internal", "internal error; see the server's log")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg, "code": code})
}

// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestWorkload runs what a TailOps server does, after Apply: an HTTP
// server and client on loopback, audit writes with fsync, /proc reads,
// users and time zones, CA certificates, signals, profiling timers, many
// threads and the GC under load. A syscall missing from the allow-list
// shows up here as an EPERM failure.
func TestWorkload(t *testing.T) {
	if !inChild(t) {
		logDuration(t, runInChild(t, "SANDBOX_TEST_DIR="+t.TempDir()))
		return
	}
	state, _, _ := stateDirs(t, os.Getenv("SANDBOX_TEST_DIR"))
	audit := filepath.Join(state, "audit")
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(int(port))

	// As the server does: listener first, then the sandbox, then serve.
	ln, err := ListenConfig().Listen(t.Context(), "tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(b)
		json.NewEncoder(w).Encode(map[string]any{"len": len(b), "sum": fmt.Sprintf("%x", sum)})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	specs := []Grant{grant("system_info", Needs{Read: []string{"/proc"}})}
	applyForTest(t, specs, Config{StateDir: state, AuditDir: audit, BindPorts: []uint16{port}, ConnectPorts: []uint16{port}})

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	report := func(err error) {
		if err != nil {
			errs <- err
		}
	}

	// HTTP round trips: fresh connections and keep-alive, concurrently.
	for i := range 8 {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: i%2 == 0}}
			for j := range 25 {
				body := bytes.Repeat([]byte{byte(j)}, 1000*j)
				req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/echo", bytes.NewReader(body))
				resp, err := client.Do(req)
				if err != nil {
					report(fmt.Errorf("http round trip: %w", err))
					return
				}
				var got struct{ Len int }
				err = json.NewDecoder(resp.Body).Decode(&got)
				resp.Body.Close()
				if err != nil || got.Len != len(body) {
					report(fmt.Errorf("http answer: %+v, %v", got, err))
				}
			}
		})
	}
	// Landlock rules are per port: the serving port binds on IPv6
	// loopback too.
	srv2ln, err := ListenConfig().Listen(ctx, "tcp6", "[::1]:"+strconv.Itoa(int(port)))
	if err == nil {
		srv2ln.Close()
	} else if !isNoIPv6(err) {
		report(fmt.Errorf("listen on [::1] serving port: %w", err))
	}

	// Audit writes with fsync, as JSON lines through slog, plus renames.
	wg.Go(func() {
		f, err := os.OpenFile(filepath.Join(audit, "audit.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			report(fmt.Errorf("opening audit log: %w", err))
			return
		}
		defer f.Close()
		log := slog.New(slog.NewJSONHandler(f, nil))
		for i := range 200 {
			log.Info("tool call", "tool", "system_info", "n", i)
			if i%20 == 0 {
				report(f.Sync())
			}
		}
		report(f.Sync())
		for i := range 20 {
			tmp, err := os.CreateTemp(state, "state-*.tmp")
			if err != nil {
				report(fmt.Errorf("creating temp state file: %w", err))
				return
			}
			_, err = tmp.Write(bytes.Repeat([]byte("x"), 4096))
			report(err)
			report(tmp.Sync())
			report(tmp.Close())
			report(os.Rename(tmp.Name(), filepath.Join(state, "state-"+strconv.Itoa(i)+".json")))
		}
		report(os.MkdirAll(filepath.Join(state, "sub", "dir"), 0o700))
		report(os.RemoveAll(filepath.Join(state, "sub")))
		entries, err := os.ReadDir(state)
		if err != nil || len(entries) < 20 {
			report(fmt.Errorf("listing state dir: %d entries, %v", len(entries), err))
		}
	})

	// /proc reads, users, time zones, CA certificates, names, hostname.
	wg.Go(func() {
		for _, f := range []string{"/proc/self/status", "/proc/loadavg", "/proc/meminfo", "/proc/stat", "/proc/uptime"} {
			if _, err := os.ReadFile(f); err != nil {
				report(fmt.Errorf("reading %s: %w", f, err))
			}
		}
		if ents, err := os.ReadDir("/proc"); err != nil || len(ents) == 0 {
			report(fmt.Errorf("listing /proc: %v", err))
		}
		if u, err := user.Current(); err != nil || u.Username == "" {
			report(fmt.Errorf("user.Current: %v", err))
		}
		if _, err := user.Lookup("root"); err != nil {
			report(fmt.Errorf("user.Lookup: %w", err))
		}
		if _, err := user.LookupGroupId("0"); err != nil {
			report(fmt.Errorf("user.LookupGroupId: %w", err))
		}
		for _, z := range []string{"Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Local"} {
			if _, err := time.LoadLocation(z); err != nil {
				report(fmt.Errorf("time zone %s: %w", z, err))
			}
		}
		if _, err := x509.SystemCertPool(); err != nil {
			report(fmt.Errorf("system cert pool: %w", err))
		}
		if addrs, err := net.DefaultResolver.LookupHost(ctx, "localhost"); err != nil || len(addrs) == 0 {
			report(fmt.Errorf("resolving localhost: %v %v", addrs, err))
		}
		if h, err := os.Hostname(); err != nil || h == "" {
			report(fmt.Errorf("hostname: %v", err))
		}
		if _, err := os.Getwd(); err != nil {
			report(fmt.Errorf("getwd: %w", err))
		}
		b := make([]byte, 64)
		if _, err := rand.Read(b); err != nil {
			report(fmt.Errorf("crypto/rand: %w", err))
		}
	})

	// Signals to ourselves (SIGHUP reloads the config in the server).
	wg.Go(func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGHUP)
		defer signal.Stop(ch)
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			report(fmt.Errorf("kill(self, SIGHUP): %w", err))
			return
		}
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			report(fmt.Errorf("SIGHUP not delivered"))
		}
	})

	// CPU profiling uses timer_create and signals.
	wg.Go(func() {
		f, err := os.Create(filepath.Join(state, "cpu.pprof"))
		if err != nil {
			report(fmt.Errorf("creating profile: %w", err))
			return
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			report(fmt.Errorf("starting CPU profile: %w", err))
			return
		}
		time.Sleep(300 * time.Millisecond)
		pprof.StopCPUProfile()
	})

	// Many threads (locked goroutines force new OS threads) and the GC
	// under allocation load.
	for range 64 {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var keep [][]byte
			for j := range 200 {
				keep = append(keep, make([]byte, 16<<10))
				if j%50 == 0 {
					keep = nil
				}
			}
			runtime.KeepAlive(keep) // the allocations stay live until here
			time.Sleep(20 * time.Millisecond)
		})
	}
	wg.Go(func() {
		for range 10 {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
	})

	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assertThreadsConfined(t)
}

func isNoIPv6(err error) bool {
	return err != nil && (bytes.Contains([]byte(err.Error()), []byte("cannot assign requested address")) ||
		bytes.Contains([]byte(err.Error()), []byte("address family not supported")))
}

// SPDX-License-Identifier: Apache-2.0

// Package gitsource fetches a stack's git repository at a ref into a
// directory, safely: the one way TailOps reads code from a git server.
//
// # What it allows
//
// Only https and ssh (and plain http when Config.AllowHTTP says so, for
// tests on loopback). The transports are built per call, with go-git's
// low-level API, so go-git's process-wide client registry (which also
// holds file://, which runs the git binary, and git://) is never used,
// never changed, and no other transport can be reached through it. The
// repository host must be on Config.Hosts before anything connects.
// HTTP uses its own client: no proxy from the environment, no
// redirects. SSH authenticates with the deploy key in Config.SSHKeyFile
// only (never an agent) and checks the server against the known_hosts
// the configuration pins (never ~/.ssh/known_hosts or ~/.ssh/config).
// Every connection is made by Config.DialContext, never through a proxy
// named by the environment.
//
// # What it never does
//
// go-git runs no hooks, no filters, no submodules and no other program;
// a fetch writes only under Request.Dir. A checkout whose symlinks
// point outside the tree, whose pack or files exceed Config.MaxBytes
// (each file counted as at least a filesystem block), or whose tree has
// more than Config.MaxEntries files and directories, is refused before
// anything is checked out: a few objects naming one subtree many times
// (a "git bomb") cannot fill the disk.
package gitsource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"golang.org/x/crypto/ssh"
	"golang.org/x/net/proxy"
)

func init() {
	// go-git's SSH transport asks this process-wide setting for a Hostname
	// and Port of every host it connects to; by default it reads
	// ~/.ssh/config and /etc/ssh/ssh_config. It is the one global that the
	// per-call transports below cannot override, so it is switched off
	// for the whole process: nothing in TailOps may be redirected by an
	// ssh_config.
	gitssh.DefaultSSHConfig = nil
	// go-git's SSH transport dials through golang.org/x/net/proxy: with
	// no proxy set it would take one from ALL_PROXY. Each SSH endpoint
	// names instead a "proxy" of this scheme, which dials with the
	// Config's own DialContext (see sshDialer).
	proxy.RegisterDialerType(dialScheme, func(u *url.URL, _ proxy.Dialer) (proxy.Dialer, error) {
		d, ok := dialers.Load(u.Host)
		if !ok {
			return nil, errors.New("gitsource: SSH dial outside a Fetch or Remote")
		}
		return d.(ctxDialer), nil
	})
}

// dialScheme is the proxy scheme that routes go-git's SSH dials to the
// calling Config's DialContext, and dialers the dial functions by call.
const dialScheme = "tailops-gitsource-dial"

var (
	dialers sync.Map // string → ctxDialer
	dialSeq atomic.Uint64
)

// ctxDialer is a dial function as a proxy.ContextDialer.
type ctxDialer func(ctx context.Context, network, addr string) (net.Conn, error)

func (d ctxDialer) Dial(network, addr string) (net.Conn, error) {
	return d(context.Background(), network, addr)
}

func (d ctxDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d(ctx, network, addr)
}

// Defaults for the zero Config.
const (
	DefaultTimeout    = 10 * time.Minute
	DefaultMaxBytes   = 256 << 20
	DefaultMaxEntries = 100_000
)

// minFileBytes is what a file counts towards MaxBytes at the least: a
// filesystem block, which even an empty file's checkout costs in inodes
// and directory entries.
const minFileBytes = 4096

// Config says which servers may be reached and how. The zero value
// allows no host: every Fetch and Remote is refused.
type Config struct {
	// Hosts is the allow-list (git_hosts): "host" allows the host on the
	// scheme's default port (443, 22; 80 for http), "host:port" (IPv6 as
	// "[addr]:port") exactly that port. Compared case-insensitively with
	// the URL's host as written; names are not resolved to compare.
	Hosts []string
	// KnownHosts are known_hosts lines (git_known_hosts), and
	// KnownHostsFile a file of them; both are used when both are set. SSH
	// is refused when neither lists the server's key.
	KnownHosts     []byte
	KnownHostsFile string
	// SSHKeyFile is the deploy key (git_ssh_key_file): an unencrypted
	// OpenSSH or PEM private key. Empty: ssh URLs are refused.
	SSHKeyFile string
	// AllowHTTP allows plain http:// URLs. Off by default; meant for tests
	// on loopback.
	AllowHTTP bool
	// RootCAs verifies https servers; nil means the system's roots.
	RootCAs *x509.CertPool
	// Timeout bounds a whole Fetch or Remote, on top of the caller's
	// context; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxBytes bounds the pack received and, separately, the bytes the
	// checkout writes, each file counted as at least 4 KiB (a block);
	// 0 means DefaultMaxBytes.
	MaxBytes int64
	// MaxEntries bounds the files, symbolic links and directories of the
	// commit's tree, every path counted (a subtree named twice counts
	// twice, as the checkout writes it twice); 0 means
	// DefaultMaxEntries.
	MaxEntries int
	// DialContext opens every connection, https, http and ssh alike (a
	// destination policy can refuse addresses here); nil means a
	// net.Dialer. No proxy is ever taken from the environment.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Request is one fetch.
type Request struct {
	// URL is the repository (see ParseURL).
	URL string
	// Ref is a branch, a tag, a full ref name (refs/heads/…, refs/tags/…)
	// or a full 40-hex commit hash. Empty means the remote's HEAD.
	Ref string
	// Dir is where the working tree goes, with the repository in
	// Dir/.git. It must not exist or be an empty directory; on failure
	// what Fetch wrote there is removed.
	Dir string
}

// Result is what a fetch checked out.
type Result struct {
	// Commit is the full hash of the commit checked out.
	Commit string
	// Ref is the full ref name it came from (refs/heads/main,
	// refs/tags/v1), or empty when the request named a commit.
	Ref string
}

// Errors callers can test with errors.Is.
var (
	ErrHostNotAllowed = errors.New("repository host is not in git_hosts")
	ErrRefNotFound    = errors.New("ref not found on the remote")
	ErrTooLarge       = errors.New("repository exceeds the configured size limit")
	ErrUnsafeTree     = errors.New("repository tree is unsafe to check out")
)

var hexHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

// checkRef validates a ref argument.
func checkRef(ref string) error {
	if ref == "" || hexHash.MatchString(ref) {
		return nil
	}
	if strings.HasPrefix(ref, "-") {
		return fmt.Errorf("ref %q looks like an option", ref)
	}
	name := ref
	if !strings.HasPrefix(ref, "refs/") {
		name = "refs/heads/" + ref
	} else if !strings.HasPrefix(ref, "refs/heads/") && !strings.HasPrefix(ref, "refs/tags/") {
		return fmt.Errorf("ref %q: only refs/heads/ and refs/tags/ may be named", ref)
	}
	if len(ref) > 255 || strings.ContainsAny(ref, "\x00\\") {
		return fmt.Errorf("ref %q is not a valid ref name", ref)
	}
	if err := plumbing.ReferenceName(name).Validate(); err != nil {
		return fmt.Errorf("ref %q is not a valid ref name: %w", ref, err)
	}
	return nil
}

// Check parses rawURL and checks it against the configuration (host
// allow-list, scheme) without connecting anywhere: what Fetch and Remote
// refuse first.
func (c Config) Check(rawURL string) error {
	_, err := c.target(rawURL)
	return err
}

// target parses and checks a URL against the configuration.
func (c Config) target(raw string) (URL, error) {
	u, err := ParseURL(raw)
	if err != nil {
		return URL{}, err
	}
	hosts, err := parseHosts(c.Hosts)
	if err != nil {
		return URL{}, fmt.Errorf("checking git_hosts: %w", err)
	}
	if !allowed(hosts, u) {
		return URL{}, fmt.Errorf("repository %s: host %s: %w; add it to git_hosts to allow it", u, u.HostPort(), ErrHostNotAllowed)
	}
	if u.Scheme == "http" && !c.AllowHTTP {
		return URL{}, fmt.Errorf("repository %s: plain http is not allowed (use https)", u)
	}
	return u, nil
}

// session opens an upload-pack session with a transport made for this
// call only.
//
// go-git's SSH session does not watch a context: its connection is
// closed when ctx ends, which ends whatever waits on it.
func (c Config) session(ctx context.Context, u URL) (transport.UploadPackSession, error) {
	ep := &transport.Endpoint{Protocol: u.Scheme, Host: u.Host, Port: u.Port, Path: u.Path}
	var tr transport.Transport
	var auth transport.AuthMethod
	dial := c.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second}).DialContext
	}
	switch u.Scheme {
	case "https", "http":
		hc := &http.Client{
			Transport: &http.Transport{
				Proxy:               nil, // never a proxy from the environment
				DialContext:         dial,
				TLSClientConfig:     &tls.Config{RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12},
				TLSHandshakeTimeout: 30 * time.Second,
				ForceAttemptHTTP2:   true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return errors.New("redirects are not followed")
			},
		}
		tr = githttp.NewClientWithOptions(hc, &githttp.ClientOptions{RedirectPolicy: githttp.NoFollowRedirects})
	case "ssh":
		if c.SSHKeyFile == "" {
			return nil, errors.New("ssh repositories need a deploy key: set git_ssh_key_file")
		}
		pem, err := os.ReadFile(c.SSHKeyFile)
		if err != nil {
			return nil, fmt.Errorf("reading the SSH deploy key (git_ssh_key_file): %w", err)
		}
		signer, err := ssh.ParsePrivateKey(pem)
		if err != nil {
			// The parser's message never holds key material.
			return nil, fmt.Errorf("parsing the SSH deploy key %s (git_ssh_key_file; an unencrypted private key): %w", c.SSHKeyFile, err)
		}
		kh := append([]byte(nil), c.KnownHosts...)
		if c.KnownHostsFile != "" {
			b, err := os.ReadFile(c.KnownHostsFile)
			if err != nil {
				return nil, fmt.Errorf("reading known_hosts (git_known_hosts): %w", err)
			}
			kh = append(append(kh, '\n'), b...)
		}
		keys, err := parseKnownHosts(kh)
		if err != nil {
			return nil, err
		}
		cb, algos := hostKeyCallback(keys, u.HostPort())
		if len(algos) == 0 {
			return nil, fmt.Errorf("no key for %s in the configured known_hosts (git_known_hosts): %w", knownHostsName(u.HostPort()), ErrHostKeyMismatch)
		}
		user := u.User
		if user == "" {
			user = "git"
		}
		auth = sshAuth{&ssh.ClientConfig{
			User:              user,
			Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback:   cb,
			HostKeyAlgorithms: algos,
			Timeout:           30 * time.Second,
		}}
		tr = gitssh.NewClient(nil)
		// go-git's SSH transport dials when the session opens, below.
		id := strconv.FormatUint(dialSeq.Add(1), 10)
		dialers.Store(id, ctxDialer(func(dctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(dctx, network, addr)
			if err != nil {
				return nil, err
			}
			context.AfterFunc(ctx, func() { conn.Close() })
			return conn, nil
		}))
		defer dialers.Delete(id)
		ep.Proxy = transport.ProxyOptions{URL: dialScheme + "://" + id}
	default:
		return nil, fmt.Errorf("scheme %q is not allowed", u.Scheme)
	}
	s, err := tr.NewUploadPackSession(ep, auth)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", u, err)
	}
	return s, nil
}

// sshAuth is the whole SSH client configuration, handed to go-git's SSH
// transport as its auth method: the deploy key and nothing else (no
// agent, no keyboard), the pinned host keys, and a dial timeout.
type sshAuth struct{ cfg *ssh.ClientConfig }

var _ gitssh.AuthMethod = sshAuth{}

func (sshAuth) Name() string     { return gitssh.PublicKeysName }
func (a sshAuth) String() string { return "user: " + a.cfg.User + ", name: " + gitssh.PublicKeysName }

// ClientConfig returns a copy, as go-git may change what it gets.
func (a sshAuth) ClientConfig() (*ssh.ClientConfig, error) {
	c := *a.cfg
	return &c, nil
}

func (c Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c Config) maxBytes() int64 {
	if c.MaxBytes > 0 {
		return c.MaxBytes
	}
	return DefaultMaxBytes
}

func (c Config) maxEntries() int {
	if c.MaxEntries > 0 {
		return c.MaxEntries
	}
	return DefaultMaxEntries
}

// resolved is a ref found among the advertised references.
type resolved struct {
	name plumbing.ReferenceName // empty for a commit
	want plumbing.Hash          // what to ask for (a tag object for annotated tags)
	tip  bool                   // want is a ref tip the server advertised
}

// resolve finds ref among the advertised references.
func resolve(ar *packp.AdvRefs, ref string) (resolved, error) {
	if hexHash.MatchString(ref) {
		h := plumbing.NewHash(ref)
		for _, v := range ar.References {
			if v == h {
				return resolved{want: h, tip: true}, nil
			}
		}
		return resolved{want: h}, nil
	}
	var names []plumbing.ReferenceName
	switch {
	case ref == "":
		if ar.Head == nil {
			return resolved{}, fmt.Errorf("the remote has no HEAD: %w", ErrRefNotFound)
		}
		for _, s := range ar.Capabilities.Get(capability.SymRef) {
			if from, to, ok := strings.Cut(s, ":"); ok && from == "HEAD" {
				names = append(names, plumbing.ReferenceName(to))
			}
		}
		if len(names) == 0 {
			return resolved{want: *ar.Head, tip: true}, nil
		}
	case strings.HasPrefix(ref, "refs/"):
		names = []plumbing.ReferenceName{plumbing.ReferenceName(ref)}
	default:
		names = []plumbing.ReferenceName{plumbing.NewBranchReferenceName(ref), plumbing.NewTagReferenceName(ref)}
	}
	for _, n := range names {
		if h, ok := ar.References[n.String()]; ok {
			return resolved{name: n, want: h, tip: true}, nil
		}
	}
	return resolved{}, fmt.Errorf("ref %q: %w (no such branch or tag)", ref, ErrRefNotFound)
}

// Remote returns the commit that ref names on the remote now, without
// fetching anything (ls-remote): compare it with a deployed commit to
// see whether the remote has moved. An annotated tag is reported as its
// commit when the server advertises it peeled (git always does). A
// commit hash is returned as it is.
func Remote(ctx context.Context, cfg Config, rawURL, ref string) (string, error) {
	if err := checkRef(ref); err != nil {
		return "", err
	}
	u, err := cfg.target(rawURL)
	if err != nil {
		return "", err
	}
	if hexHash.MatchString(ref) {
		return ref, nil
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout())
	defer cancel()
	s, err := cfg.session(ctx, u)
	if err != nil {
		return "", err
	}
	defer s.Close()
	ar, err := s.AdvertisedReferencesContext(ctx)
	if err != nil {
		return "", fmt.Errorf("listing the refs of %s: %w", u, err)
	}
	r, err := resolve(ar, ref)
	if err != nil {
		return "", fmt.Errorf("repository %s: %w", u, err)
	}
	if r.name != "" {
		if p, ok := ar.Peeled[r.name.String()]; ok {
			return p.String(), nil
		}
	}
	return r.want.String(), nil
}

// Fetch clones req.URL at req.Ref into req.Dir (shallow where the
// server allows) and checks the commit out. A commit that no ref tip
// names is fetched directly when the server allows it
// (allow-reachable-sha1-in-want), otherwise by fetching every branch and
// tag and checking it is among them.
//
// An attempt ended by go-git's SSH race (closingInputRace) is made again,
// up to fetchAttempts in all.
func Fetch(ctx context.Context, cfg Config, req Request) (Result, error) {
	return retryRace(ctx, func() (Result, error) { return fetchOnce(ctx, cfg, req) })
}

// fetchAttempts is how many times Fetch tries a fetch that go-git's SSH
// race ends.
const fetchAttempts = 3

// retryRace calls fetch until it returns something other than go-git's
// SSH race, at most fetchAttempts times, and returns the last result; a
// race in every attempt says so, and that another fetch may pass.
func retryRace(ctx context.Context, fetch func() (Result, error)) (res Result, err error) {
	for range fetchAttempts {
		res, err = fetch()
		if !closingInputRace(err) || ctx.Err() != nil {
			return res, err
		}
	}
	return res, fmt.Errorf("%w (the SSH server closed the connection before the client had finished, in each of %d attempts: a known race of the git client library, not a refusal; call again)", err, fetchAttempts)
}

// closingInputRace reports the error go-git v5 returns when an SSH
// server has sent its whole pack and closed the channel before the client
// closed its side of it: UploadPack's close of the input then meets EOF,
// and the fetch fails though nothing went wrong (go-git issue 1685, fixed
// in v6; v5.19.3 still has it, and gives the EOF as text, not wrapped).
// Fetch left nothing behind after it (the destination is emptied), so
// the fetch is made again.
func closingInputRace(err error) bool {
	return err != nil && strings.HasSuffix(err.Error(), "closing input: EOF")
}

// fetchOnce is one attempt of Fetch.
func fetchOnce(ctx context.Context, cfg Config, req Request) (res Result, err error) {
	if err := checkRef(req.Ref); err != nil {
		return Result{}, err
	}
	u, err := cfg.target(req.URL)
	if err != nil {
		return Result{}, err
	}
	cleanup, err := prepareDir(req.Dir)
	if err != nil {
		return Result{}, err
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout())
	defer cancel()

	st := filesystem.NewStorage(osfs.New(filepath.Join(req.Dir, ".git"), osfs.WithBoundOS()), cache.NewObjectLRUDefault())
	repo, err := git.Init(st, osfs.New(req.Dir, osfs.WithBoundOS()))
	if err != nil {
		return Result{}, fmt.Errorf("initialising %s: %w", req.Dir, err)
	}

	s, err := cfg.session(ctx, u)
	if err != nil {
		return Result{}, err
	}
	ar, err := s.AdvertisedReferencesContext(ctx)
	if err != nil {
		s.Close()
		return Result{}, fmt.Errorf("listing the refs of %s: %w", u, err)
	}
	r, err := resolve(ar, req.Ref)
	if err != nil {
		s.Close()
		return Result{}, fmt.Errorf("repository %s: %w", u, err)
	}
	direct := r.tip || ar.Capabilities.Supports(capability.AllowReachableSHA1InWant)
	if direct {
		err = fetchPack(ctx, s, ar, st, []plumbing.Hash{r.want}, true, cfg.maxBytes())
	}
	s.Close()
	if !direct || (err != nil && !r.tip && !errors.Is(err, ErrTooLarge) && ctx.Err() == nil) {
		// The server will not send a commit no ref names (git's default,
		// uploadpack.allowReachableSHA1InWant off): fetch every branch
		// and tag whole, then look for the commit among them.
		err = fetchAll(ctx, cfg, u, st)
	}
	if err != nil {
		return Result{}, fmt.Errorf("fetching %s from %s: %w", refOrHEAD(req.Ref), u, err)
	}

	commit, err := peelToCommit(repo, r.want)
	if err != nil {
		return Result{}, fmt.Errorf("repository %s, %s: %w", u, refOrHEAD(req.Ref), err)
	}
	if err := checkTree(ctx, repo, commit, cfg); err != nil {
		return Result{}, fmt.Errorf("repository %s at %s: %w", u, commit.Hash, err)
	}
	if r.name != "" {
		if err := st.SetReference(plumbing.NewHashReference(r.name, r.want)); err != nil {
			return Result{}, fmt.Errorf("recording %s: %w", r.name, err)
		}
	}
	wt, err := repo.Worktree()
	if err != nil {
		return Result{}, fmt.Errorf("opening the worktree %s: %w", req.Dir, err)
	}
	if err := wt.Checkout(&git.CheckoutOptions{Hash: commit.Hash, Force: true}); err != nil {
		return Result{}, fmt.Errorf("checking out %s into %s: %w", commit.Hash, req.Dir, err)
	}
	return Result{Commit: commit.Hash.String(), Ref: r.name.String()}, nil
}

func refOrHEAD(ref string) string {
	if ref == "" {
		return "HEAD"
	}
	return ref
}

// fetchAll fetches every branch and tag, whole, on a new session.
func fetchAll(ctx context.Context, cfg Config, u URL, st *filesystem.Storage) error {
	s, err := cfg.session(ctx, u)
	if err != nil {
		return err
	}
	defer s.Close()
	ar, err := s.AdvertisedReferencesContext(ctx)
	if err != nil {
		return fmt.Errorf("listing the refs of %s: %w", u, err)
	}
	seen := map[plumbing.Hash]bool{}
	var wants []plumbing.Hash
	for name, h := range ar.References {
		if (strings.HasPrefix(name, "refs/heads/") || strings.HasPrefix(name, "refs/tags/")) && !seen[h] {
			seen[h] = true
			wants = append(wants, h)
		}
	}
	if len(wants) == 0 {
		return fmt.Errorf("the remote has no branch or tag: %w", ErrRefNotFound)
	}
	return fetchPack(ctx, s, ar, st, wants, false, cfg.maxBytes())
}

// fetchPack asks for wants (at depth 1 when shallow and the server can)
// and stores the pack, at most max bytes of it.
func fetchPack(ctx context.Context, s transport.UploadPackSession, ar *packp.AdvRefs, st *filesystem.Storage, wants []plumbing.Hash, shallow bool, max int64) (err error) {
	req := packp.NewUploadPackRequestFromCapabilities(ar.Capabilities)
	req.Wants = wants
	if shallow && ar.Capabilities.Supports(capability.Shallow) {
		req.Depth = packp.DepthCommits(1)
		if err := req.Capabilities.Set(capability.Shallow); err != nil {
			return err
		}
	}
	if ar.Capabilities.Supports(capability.NoProgress) {
		if err := req.Capabilities.Set(capability.NoProgress); err != nil {
			return err
		}
	}
	resp, err := s.UploadPack(ctx, req)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := resp.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if len(resp.Shallows) > 0 {
		old, err := st.Shallow()
		if err != nil {
			return err
		}
		if err := st.SetShallow(append(old, resp.Shallows...)); err != nil {
			return err
		}
	}
	var r io.Reader = resp
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		r = sideband.NewDemuxer(sideband.Sideband64k, r)
	case req.Capabilities.Supports(capability.Sideband):
		r = sideband.NewDemuxer(sideband.Sideband, r)
	}
	lr := &limitReader{r: r, left: max}
	if err := packfile.UpdateObjectStorage(st, lr); err != nil {
		if lr.over {
			return fmt.Errorf("the pack is larger than %d bytes: %w", max, ErrTooLarge)
		}
		return fmt.Errorf("storing the pack: %w", err)
	}
	return nil
}

// limitReader fails once more than left bytes were read.
type limitReader struct {
	r    io.Reader
	left int64
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		l.over = true
		return 0, ErrTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// peelToCommit returns the commit h names, through annotated tags.
func peelToCommit(repo *git.Repository, h plumbing.Hash) (*object.Commit, error) {
	for range 10 {
		obj, err := repo.Storer.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, fmt.Errorf("commit %s is not on any branch or tag of the remote: %w", h, ErrRefNotFound)
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			return object.DecodeCommit(repo.Storer, obj)
		case plumbing.TagObject:
			t, err := object.DecodeTag(repo.Storer, obj)
			if err != nil {
				return nil, err
			}
			h = t.Target
		default:
			return nil, fmt.Errorf("%s is a %s, not a commit", h, obj.Type())
		}
	}
	return nil, fmt.Errorf("%s: too many nested tags", h)
}

// checkTree refuses a tree with more than cfg's MaxEntries files and
// directories, whose files exceed its MaxBytes (each counted as at least
// minFileBytes), that holds a symlink pointing outside it, or a submodule
// (never fetched). It stops when ctx ends: the fetch's timeout bounds it.
func checkTree(ctx context.Context, repo *git.Repository, c *object.Commit, cfg Config) error {
	tree, err := c.Tree()
	if err != nil {
		return fmt.Errorf("reading the tree: %w", err)
	}
	maxBytes, maxEntries := cfg.maxBytes(), cfg.maxEntries()
	var total int64
	entries := 0
	links := map[string]string{} // symlink → target
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		name, entry, err := walker.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the tree: %w", err)
		}
		if entries++; entries > maxEntries {
			return fmt.Errorf("the tree has more than %d files and directories: %w", maxEntries, ErrTooLarge)
		}
		if entries%1024 == 1 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("checking the tree: %w", err)
			}
		}
		switch entry.Mode {
		case filemode.Submodule:
			return fmt.Errorf("%s is a submodule (not supported): %w", name, ErrUnsafeTree)
		case filemode.Dir:
			continue
		}
		blob, err := object.GetBlob(repo.Storer, entry.Hash)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		total += max(blob.Size, minFileBytes)
		if total > maxBytes {
			return fmt.Errorf("the files are larger than %d bytes (each counted as at least %d): %w", maxBytes, minFileBytes, ErrTooLarge)
		}
		if entry.Mode == filemode.Symlink {
			rd, err := blob.Reader()
			if err != nil {
				return fmt.Errorf("reading %s: %w", name, err)
			}
			b, err := io.ReadAll(io.LimitReader(rd, 4096))
			rd.Close()
			if err != nil {
				return fmt.Errorf("reading %s: %w", name, err)
			}
			links[name] = string(b)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(links)) {
		if _, ok := resolveInTree(links, name); !ok {
			return fmt.Errorf("symlink %s points outside the repository (%q): %w", name, links[name], ErrUnsafeTree)
		}
	}
	return nil
}

// maxLinkHops bounds the symbolic links resolveInTree follows for one
// path, as the kernel bounds them (ELOOP).
const maxLinkHops = 40

// resolveInTree resolves p, a slash path in a tree whose symbolic links
// are links (path → target), as the kernel would in a checkout of it,
// following every link on the way, through chains: ok is false when the
// path leaves the tree (an absolute target, ".." past the top) or
// follows more than maxLinkHops links. Judging each link by its own
// target alone misses chains: a → s/l/../.., with s/l → ../../...
func resolveInTree(links map[string]string, p string) (resolved string, ok bool) {
	hops := 0
	var out []string
	parts := strings.Split(p, "/")
	for i := 0; i < len(parts); i++ {
		switch c := parts[i]; c {
		case "", ".":
		case "..":
			if len(out) == 0 {
				return "", false
			}
			out = out[:len(out)-1]
		default:
			target, isLink := links[strings.Join(append(out, c), "/")]
			if !isLink {
				out = append(out, c)
				continue
			}
			if hops++; hops > maxLinkHops || path.IsAbs(target) || strings.HasPrefix(target, "\\") {
				return "", false
			}
			// The target, from the link's directory (out), then the rest.
			parts = append(strings.Split(target, "/"), parts[i+1:]...)
			i = -1
		}
	}
	return strings.Join(out, "/"), true
}

// prepareDir checks that dir is absent or empty and returns what
// removes what Fetch writes there.
func prepareDir(dir string) (func(), error) {
	if dir == "" {
		return nil, errors.New("no destination directory")
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.Mkdir(dir, 0o750); err != nil {
			return nil, fmt.Errorf("creating %s: %w", dir, err)
		}
		return func() { os.RemoveAll(dir) }, nil
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	case len(entries) > 0:
		return nil, fmt.Errorf("destination %s is not empty", dir)
	}
	return func() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}, nil
}

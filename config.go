// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/tailscale/hujson"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/server"
	"github.com/tailops/tailops/tailnet"
	"github.com/tailops/tailops/tools/packages"
	"github.com/tailops/tailops/tools/stacks"
)

// config is everything `tailops serve` (and the commands that share its
// resolution) needs. Each field is bound to a flag with a TAILOPS_*
// environment twin; the HuJSON file fills what flags and environment leave
// unset.
type config struct {
	Listen        string
	Stdio         bool
	StdioScopes   string
	StateDir      string
	ConfigFile    string
	LogLevel      string
	ReadOnly      bool
	Tools         listFlag
	DisableTools  listFlag
	AuditLog      string
	AuditMaxBytes int64
	SecretFile    string
	JWKSFile      string
	JWKSURL       string
	ResourceURL   string
	JWTIssuer     string
	AuthServers   listFlag
	TokenMaxLife  time.Duration
	FileRoots     listFlag
	Sandbox       string
	// ShutdownTimeout is how long calls in flight may run at shutdown
	// before they are cancelled.
	ShutdownTimeout time.Duration
	// MetricsListen is the address of the metrics-only listener; empty
	// means none.
	MetricsListen string
	// Toolsets are the toolsets offered, by name (--toolsets, toolsets);
	// empty means all. DisableDestructive (--disable-destructive,
	// disable_destructive) drops every destructive tool.
	Toolsets           listFlag
	DisableDestructive bool

	// The tailnet layer (see package tailnet).
	Tailnet          string
	Auth             string
	AllowLoopback    bool
	TSHostname       string
	TSAuthKeyFile    string
	TSTags           listFlag
	TSControlURL     string
	TSEphemeral      bool
	TSLogs           bool
	TSAllow          listFlag
	TSCapability     string
	TailscaledSocket string
	// Fleet are the tags of this entry point's fleet members (--fleet,
	// fleet); empty means this node is no entry point.
	Fleet       listFlag
	tailnetMode tailnet.Mode
	authMode    tailnet.AuthMode
	tsAllow     []tailnet.AllowEntry

	// Network diagnostics' destination policy (see package netpolicy).
	DiagAllow    listFlag
	DiagPorts    listFlag
	DiagMethods  listFlag
	DiagResolver string
	diagPorts    []uint16

	// VulnData is where check_vulnerabilities reads the Debian security
	// tracker's data (--vuln-data, vuln_data): a URL or a file; VulnAllow
	// (--vuln-data-allow, vuln_data_allow) lifts the destination policy's
	// default for a URL's host.
	VulnData  string
	VulnAllow listFlag

	// JournalDirs are the journal tools' directories (--journal-dir,
	// journal_dirs); empty means journald's own (see journalDirs).
	JournalDirs listFlag
	// The firewall tools (see package tools/firewall): off unless
	// --firewall, a host-mode feature that needs CAP_NET_ADMIN.
	Firewall           bool
	FirewallInterfaces listFlag
	FirewallPorts      listFlag
	firewallPorts      []uint16
	// Which units the systemd tools may change (see package systemd).
	ServiceAllow    listFlag
	ServiceHighRisk listFlag
	// The stacks tools' stack roots and bind roots (see config_stacks.go).
	StackRoots     listFlag
	StackBindRoots listFlag
	// The hosts deploy_stack may fetch git repositories from (see
	// config_stacks.go).
	GitHosts listFlag

	// Approvals (see package approval).
	Approvals approvalFlags

	// MCP sessions (see sessions.go).
	Sessions server.SessionLimits

	// InlineMax is --inline-max (see config_inline.go).
	InlineMax int

	// RateLimit is --rate-limit; rateLimits is it and the config file's
	// rate_limits, parsed (see config_ratelimit.go).
	RateLimit  string
	rateLimits server.RateLimits

	// Confirm is --confirm; confirm is it (or the config file's key
	// confirm) resolved to tool names (see config_confirm.go).
	Confirm listFlag
	confirm []string
	// confirmLowered is whether confirm holds default, which also
	// confirms a critical tool's call its arguments lower to high.
	confirmLowered bool

	set             map[string]bool // flags given on the command line or by environment
	fromEnv         map[string]bool // of those, the ones the environment gave
	file            fileConfig      // the parsed config file
	fileStamp       string          // the config file's inode, mtime and size when it was read
	secretFromEnv   bool
	createdSecretAt string

	// configGrant is how the sandbox grants the config file (set by
	// confine); nil when the sandbox is off.
	configGrant *sandbox.ConfigFileGrant

	// env is what the toolsets and the sandbox take from the environment
	// (see environ), read once by resolve.
	env environ
}

// fileConfig is the HuJSON config file. Unknown keys are refused.
type fileConfig struct {
	Tools                    []string          `json:"tools"`
	DisableTools             []string          `json:"disable_tools"`
	ReadOnly                 *bool             `json:"read_only"`
	Toolsets                 []string          `json:"toolsets"`
	DisableDestructive       *bool             `json:"disable_destructive"`
	Revoked                  *auth.Revocations `json:"revoked"`
	FileRoots                []string          `json:"file_roots"`
	FileDeny                 []string          `json:"file_deny"`
	AllowTokensWithoutExpiry bool              `json:"allow_tokens_without_expiry"`
	TokenMaxLifetime         string            `json:"token_max_lifetime"`
	StdioScopes              []string          `json:"stdio_scopes"`
	TSAllow                  []string          `json:"ts_allow"`
	DiagAllow                []string          `json:"diag_allow"`
	DiagPorts                []uint16          `json:"diag_ports"`
	DiagHTTPMethods          []string          `json:"diag_http_methods"`
	DiagResolver             string            `json:"diag_resolver"`
	JournalDirs              []string          `json:"journal_dirs"`
	VulnData                 string            `json:"vuln_data"`
	VulnDataAllow            []string          `json:"vuln_data_allow"`
	// Firewall is --firewall; FirewallTailnetInterfaces and
	// FirewallTailnetPorts are --firewall-tailnet-interface and
	// --firewall-tailnet-port.
	Firewall                  *bool    `json:"firewall"`
	FirewallTailnetInterfaces []string `json:"firewall_tailnet_interfaces"`
	FirewallTailnetPorts      []uint16 `json:"firewall_tailnet_ports"`
	// Fleet is --fleet.
	Fleet           []string `json:"fleet"`
	ServiceAllow    []string `json:"service_allow"`
	ServiceHighRisk []string `json:"service_high_risk"`
	// StackRoots, StackBindRoots and Stacks are the stacks tools'
	// (see config_stacks.go).
	StackRoots     []string                 `json:"stack_roots"`
	StackBindRoots []string                 `json:"stack_bind_roots"`
	Stacks         map[string]stacks.Policy `json:"stacks"`
	// GitHosts, GitKnownHosts and GitSSHKeyFile are where stacks may be
	// fetched from with git, and how (see config_stacks.go).
	GitHosts      []string `json:"git_hosts"`
	GitKnownHosts string   `json:"git_known_hosts"`
	GitSSHKeyFile string   `json:"git_ssh_key_file"`
	// Approval lists tools that need approval although they are not
	// critical (e.g. http_request_test).
	Approval []string `json:"approval"`
	// Session limits (see sessions.go); nil or empty: the flag's value.
	SessionIdleTimeout   string `json:"session_idle_timeout"`
	MaxSessions          *int   `json:"max_sessions"`
	MaxSessionsPerCaller *int   `json:"max_sessions_per_caller"`
	// InlineMax is --inline-max.
	InlineMax *int `json:"inline_max"`
	// MetricsListen is --metrics-listen.
	MetricsListen string `json:"metrics_listen"`
	// RateLimit is --rate-limit; RateLimits are per-scope limits on
	// top of it, scope to limit.
	RateLimit  string            `json:"rate_limit"`
	RateLimits map[string]string `json:"rate_limits"`
	// Confirm is --confirm.
	Confirm []string `json:"confirm"`
	// JWKSURL is --jwks-url.
	JWKSURL string `json:"jwks_url"`
}

// listFlag is a repeatable, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			*l = append(*l, f)
		}
	}
	return nil
}

// envName is the environment twin of a flag: --state-dir is TAILOPS_STATE_DIR.
func envName(flagName string) string {
	return "TAILOPS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// bindCommon registers the flags shared by serve, token and sandbox.
func (c *config) bindCommon(fs *flag.FlagSet) {
	fs.StringVar(&c.StateDir, "state-dir", "", "state directory (default /var/lib/tailops as root, else $XDG_STATE_HOME/tailops)")
	fs.StringVar(&c.ConfigFile, "config", "", "HuJSON config file (tools, read_only, revoked tokens, file roots…)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&c.SecretFile, "shared-secret-file", "", "file holding the shared secret for HMAC tokens and HS256 JWTs (default STATE_DIR/secret; TAILOPS_SHARED_SECRET may hold the secret itself)")
}

// bindServe registers serve's flags.
func (c *config) bindServe(fs *flag.FlagSet) {
	c.bindCommon(fs)
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "address for MCP over streamable HTTP at /mcp")
	fs.BoolVar(&c.Stdio, "stdio", false, "serve MCP over stdin/stdout instead of HTTP")
	fs.StringVar(&c.StdioScopes, "stdio-scopes", "readonly", "scopes of the stdio caller")
	fs.BoolVar(&c.ReadOnly, "read-only", false, "offer only read-only tools")
	fs.Var(&c.Toolsets, "toolsets", "offer only the tools of these toolsets, by name (comma-separated, repeatable; default all; an unknown name lists the known ones)")
	fs.BoolVar(&c.DisableDestructive, "disable-destructive", false, "never offer tools annotated destructive")
	fs.Var(&c.Tools, "tools", "offer only these tools, of the toolsets --toolsets selects (comma-separated, repeatable)")
	fs.Var(&c.DisableTools, "disable-tools", "never offer these tools (comma-separated, repeatable)")
	fs.StringVar(&c.AuditLog, "audit-log", "", "audit log file (default STATE_DIR/audit/audit.log)")
	fs.Int64Var(&c.AuditMaxBytes, "audit-max-bytes", 64<<20, "rotate the audit log at this size")
	fs.StringVar(&c.JWKSFile, "jwks-file", "", "JWKS file with public keys for EdDSA, ES256 and RS256 JWTs")
	bindJWKSURL(fs, &c.JWKSURL)
	fs.StringVar(&c.ResourceURL, "resource-url", "", "this server's resource URL: required JWT audience and RFC 9728 resource")
	fs.StringVar(&c.JWTIssuer, "jwt-issuer", "", "required JWT issuer")
	fs.Var(&c.AuthServers, "authorization-server", "OAuth authorization server issuer URL, announced in RFC 9728 metadata (repeatable)")
	fs.DurationVar(&c.TokenMaxLife, "token-max-lifetime", 0, "longest token lifetime accepted (0: no limit)")
	fs.Var(&c.FileRoots, "file-root", "directory the file tools may read (repeatable; default /var/log)")
	fs.StringVar(&c.Sandbox, "sandbox", "enforce", "kernel sandbox: enforce, best-effort or off")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", server.DefaultShutdownTimeout,
		"on SIGTERM or SIGINT, how long calls in flight may run before they are cancelled (then they get "+server.CleanupGrace.String()+" more to roll back)")
	c.bindTailnet(fs)
	fs.Var(&c.DiagAllow, "diag-allow", "destinations the network diagnostics may reach beyond public addresses: CIDRs, host names, *.suffix, either with :port (repeatable)")
	fs.Var(&c.DiagPorts, "diag-port", "ports the network diagnostics may connect to (repeatable; default any)")
	fs.Var(&c.DiagMethods, "diag-http-method", "HTTP methods http_request_test may use beyond GET and HEAD (repeatable)")
	fs.StringVar(&c.DiagResolver, "diag-resolver", "", "DNS server the diagnostics resolve names with, ip[:port] (default the system resolver)")
	fs.StringVar(&c.VulnData, "vuln-data", "", "where check_vulnerabilities reads the Debian security tracker's JSON: an http(s) URL, fetched through the destination policy, or an absolute file path (default "+packages.DefaultVulnData+")")
	fs.Var(&c.VulnAllow, "vuln-data-allow", "destinations the --vuln-data URL may reach beyond public addresses: CIDRs, host names, *.suffix, either with :port (repeatable)")
	fs.Var(&c.JournalDirs, "journal-dir", "directory of journal files the journal tools read (repeatable; default /var/log/journal and /run/log/journal, under HOST_VAR and HOST_RUN)")
	fs.BoolVar(&c.Firewall, "firewall", false, "offer the firewall tools (nftables over netlink; needs CAP_NET_ADMIN in the host's network namespace)")
	fs.Var(&c.FirewallInterfaces, "firewall-tailnet-interface", "interfaces firewall rules may never drop or reject (repeatable; default tailscale0)")
	fs.Var(&c.FirewallPorts, "firewall-tailnet-port", "Tailscale UDP ports firewall rules may never drop or reject (repeatable; default 41641)")
	fs.Var(&c.ServiceAllow, "service-allow", "units start_service, stop_service, restart_service and reload_service may change: names or globs (* and ?), nginx meaning nginx.service (repeatable; default none)")
	fs.Var(&c.ServiceHighRisk, "service-high-risk", "units whose restart_service and stop_service are high risk, so run without approval: names or globs (repeatable; default none: critical)")
	bindStacks(fs, c)
	c.Approvals.bind(fs)
	bindSessions(fs, &c.Sessions)
	bindInline(fs, &c.InlineMax)
	bindMetrics(fs, &c.MetricsListen)
	bindRateLimit(fs, &c.RateLimit)
	bindConfirm(fs, &c.Confirm)
}

// tailnetHelp is --tailnet's help: the modes this build has.
func tailnetHelp() string {
	if !tailnet.TSNetBuilt {
		return "tailnet mode: off (loopback, tokens only) or local (use the host's tailscaled); this build has no tsnet"
	}
	return "tailnet mode: off (loopback, tokens only), tsnet (the server is its own tailnet node) or local (use the host's tailscaled)"
}

// tailnetModes names the --tailnet values that give a tailnet in this
// build, for messages.
func tailnetModes() string {
	if !tailnet.TSNetBuilt {
		return "--tailnet local"
	}
	return "--tailnet tsnet or local"
}

// bindTailnet registers the tailnet layer's flags.
func (c *config) bindTailnet(fs *flag.FlagSet) {
	fs.StringVar(&c.Tailnet, "tailnet", "off", tailnetHelp())
	fs.StringVar(&c.Auth, "auth", "token", "where a tailnet caller's scopes come from: token, tailscale (grants; no token) or both (token and grant; the intersection)")
	fs.BoolVar(&c.AllowLoopback, "allow-loopback", false, "with --tailnet: let loopback callers that are not tailnet peers in, by token")
	fs.StringVar(&c.TSHostname, "ts-hostname", "", "tsnet: the node's name (default tailops-<host>)")
	fs.StringVar(&c.TSAuthKeyFile, "ts-authkey-file", "", "tsnet: file holding the auth key that joins a new node (default: TS_AUTHKEY, else a login URL in the log)")
	fs.Var(&c.TSTags, "ts-tags", "tsnet: tags the node advertises, such as tag:tailops (comma-separated, repeatable)")
	fs.StringVar(&c.TSControlURL, "ts-control-url", "", "tsnet: coordination server URL, for Headscale (default: Tailscale's)")
	fs.BoolVar(&c.TSEphemeral, "ts-ephemeral", false, "tsnet: register as an ephemeral node")
	fs.BoolVar(&c.TSLogs, "ts-logs", false, "tsnet: let Tailscale upload its logs (off: TS_NO_LOGS_NO_SUPPORT)")
	fs.Var(&c.Fleet, "fleet", "tsnet: make this node a fleet entry point whose members are the TailOps peers with this tag, such as tag:tailops (repeatable)")
	fs.Var(&c.TSAllow, "ts-allow", "with --tailnet: admit only these peers, tag:NAME or login names, optionally =scope+scope (comma-separated, repeatable)")
	fs.StringVar(&c.TSCapability, "ts-capability", tailnet.DefaultCapability, "with --tailnet: the app capability whose grants give scopes")
	fs.StringVar(&c.TailscaledSocket, "tailscaled-socket", tailnet.DefaultSocket, "local: tailscaled's LocalAPI socket")
}

// parseFlags parses args, then fills unset flags from their TAILOPS_*
// environment twins (empty ones count as unset), and records which flags
// were set either way.
func parseFlags(fs *flag.FlagSet, args []string, c *config) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.set, c.fromEnv = map[string]bool{}, map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if c.set[f.Name] || err != nil {
			return
		}
		// An empty variable counts as unset: TAILOPS_TOOLS= must not
		// replace the config file's list with "all tools".
		if v := os.Getenv(envName(f.Name)); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", envName(f.Name), e)
			}
			c.set[f.Name], c.fromEnv[f.Name] = true, true
		}
	})
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// resolve applies defaults that depend on the environment, reads the
// config file and validates everything.
func (c *config) resolve() error {
	c.env = readEnviron(os.Getenv)
	if c.StateDir == "" {
		c.StateDir = defaultStateDir()
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.ShutdownTimeout < 0 {
		return fmt.Errorf("--shutdown-timeout %s: must not be negative", c.ShutdownTimeout)
	}
	if c.ConfigFile != "" {
		c.fileStamp = fileStamp(c.ConfigFile) // before reading: a change after this is reloaded
		fc, err := loadFileConfig(c.ConfigFile)
		if err != nil {
			return err
		}
		c.file = fc
		if !c.set["tools"] {
			c.Tools = fc.Tools
		}
		if !c.set["disable-tools"] {
			c.DisableTools = fc.DisableTools
		}
		if !c.set["read-only"] && fc.ReadOnly != nil {
			c.ReadOnly = *fc.ReadOnly
		}
		if !c.set["file-root"] && len(fc.FileRoots) > 0 {
			c.FileRoots = fc.FileRoots
		}
		if !c.set["stdio-scopes"] && len(fc.StdioScopes) > 0 {
			c.StdioScopes = strings.Join(fc.StdioScopes, ",")
		}
		if !c.set["token-max-lifetime"] && fc.TokenMaxLifetime != "" {
			d, err := time.ParseDuration(fc.TokenMaxLifetime)
			if err != nil {
				return fmt.Errorf("config file %s: key \"token_max_lifetime\": %w", c.ConfigFile, err)
			}
			c.TokenMaxLife = d
		}
	}
	if c.AuditLog == "" {
		c.AuditLog = filepath.Join(c.StateDir, "audit", "audit.log")
	}
	if err := c.checkOwnDirs(); err != nil {
		return err
	}
	if !c.set["vuln-data"] && c.file.VulnData != "" {
		c.VulnData = c.file.VulnData
	}
	if !c.set["vuln-data-allow"] && len(c.file.VulnDataAllow) > 0 {
		c.VulnAllow = c.file.VulnDataAllow
	}
	if !c.set["journal-dir"] && len(c.file.JournalDirs) > 0 {
		c.JournalDirs = c.file.JournalDirs
	}
	for _, d := range c.JournalDirs {
		if !filepath.IsAbs(d) && c.set["journal-dir"] {
			return fmt.Errorf("--journal-dir %q: must be an absolute path", d)
		} else if !filepath.IsAbs(d) {
			return fmt.Errorf("config file %s: key \"journal_dirs\": %q: must be an absolute path", c.ConfigFile, d)
		}
	}
	c.resolveToolsets()
	if err := c.resolveJWKS(); err != nil {
		return err
	}
	if err := c.resolveStacks(); err != nil {
		return err
	}
	if err := c.resolveTailnet(); err != nil {
		return err
	}
	if err := c.resolveFirewall(); err != nil {
		return err
	}
	if err := c.resolveFleet(); err != nil {
		return err
	}
	if c.StdioScopes != "" {
		if _, err := auth.ParseScopes(c.StdioScopes); err != nil {
			return fmt.Errorf("--stdio-scopes: %w", err)
		}
	}
	return nil
}

// resolveTailnet parses and checks the tailnet flags together: each
// tsnet-only or local-only flag needs its mode, and tailscale or both
// authentication needs a tailnet.
func (c *config) resolveTailnet() error {
	var err error
	if c.tailnetMode, err = tailnet.ParseMode(c.Tailnet); err != nil {
		return fmt.Errorf("--tailnet: %w", err)
	}
	if c.authMode, err = tailnet.ParseAuthMode(c.Auth); err != nil {
		return fmt.Errorf("--auth: %w", err)
	}
	if !c.set["diag-allow"] && len(c.file.DiagAllow) > 0 {
		c.DiagAllow = c.file.DiagAllow
	}
	if !c.set["service-allow"] && len(c.file.ServiceAllow) > 0 {
		c.ServiceAllow = c.file.ServiceAllow
	}
	if !c.set["service-high-risk"] && len(c.file.ServiceHighRisk) > 0 {
		c.ServiceHighRisk = c.file.ServiceHighRisk
	}
	if !c.set["diag-http-method"] && len(c.file.DiagHTTPMethods) > 0 {
		c.DiagMethods = c.file.DiagHTTPMethods
	}
	if !c.set["diag-resolver"] && c.file.DiagResolver != "" {
		c.DiagResolver = c.file.DiagResolver
	}
	c.diagPorts = c.file.DiagPorts
	if c.set["diag-port"] {
		c.diagPorts = nil
		for _, p := range c.DiagPorts {
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil || n == 0 {
				return fmt.Errorf("--diag-port %q: want a port number from 1 to 65535", p)
			}
			c.diagPorts = append(c.diagPorts, uint16(n))
		}
	}
	if !c.set["ts-allow"] && len(c.file.TSAllow) > 0 {
		c.TSAllow = c.file.TSAllow
	}
	if c.tsAllow, err = tailnet.ParseAllow(c.TSAllow); err != nil {
		return err
	}
	need := func(mode tailnet.Mode, flags ...string) error {
		for _, f := range flags {
			if c.set[f] && c.tailnetMode != mode {
				return fmt.Errorf("--%s needs --tailnet %s", f, mode)
			}
		}
		return nil
	}
	if err := need(tailnet.ModeTSNet, "ts-hostname", "ts-authkey-file", "ts-tags", "ts-control-url", "ts-ephemeral", "ts-logs"); err != nil {
		return err
	}
	if err := need(tailnet.ModeLocal, "tailscaled-socket"); err != nil {
		return err
	}
	if c.tailnetMode == tailnet.ModeOff {
		switch {
		case c.authMode != tailnet.AuthToken:
			return fmt.Errorf("--auth %s needs a tailnet (%s)", c.authMode, tailnetModes())
		case c.AllowLoopback:
			return fmt.Errorf("--allow-loopback needs a tailnet (%s); without one, loopback is all there is", tailnetModes())
		case len(c.tsAllow) > 0:
			return fmt.Errorf("--ts-allow needs a tailnet (%s)", tailnetModes())
		}
		return nil
	}
	if c.Stdio {
		return fmt.Errorf("--stdio serves one local client; it cannot be combined with --tailnet %s", c.tailnetMode)
	}
	if c.TSCapability == "" {
		return errors.New("--ts-capability is empty")
	}
	for _, tag := range c.TSTags {
		if !strings.HasPrefix(tag, "tag:") || len(tag) == len("tag:") {
			return fmt.Errorf("--ts-tags %q: tags look like tag:NAME", tag)
		}
	}
	return nil
}

// tsAuthKey returns the auth key from --ts-authkey-file, or "" to let
// tsnet read TS_AUTHKEY.
func (c *config) tsAuthKey() (string, error) {
	if c.TSAuthKeyFile == "" {
		return "", nil
	}
	b, err := readSecretFile(c.TSAuthKeyFile, "--ts-authkey-file")
	if err != nil {
		return "", err
	}
	k := strings.TrimSpace(string(b))
	if k == "" {
		return "", fmt.Errorf("--ts-authkey-file %s is empty", c.TSAuthKeyFile)
	}
	return k, nil
}

// fileStamp identifies a version of a file by device and inode (a new
// file renamed over it, as editors and `mv` do), mtime and size (an
// in-place edit); "" if absent.
func fileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	var dev, ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		dev, ino = uint64(st.Dev), st.Ino
	}
	return fmt.Sprint(dev, ino, fi.ModTime().UnixNano(), fi.Size())
}

// loadFileConfig reads a HuJSON config file, refusing unknown keys.
func loadFileConfig(path string) (fileConfig, error) {
	var fc fileConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return fc, fmt.Errorf("reading config file: %w", err)
	}
	std, err := hujson.Standardize(b)
	if err != nil {
		return fc, fmt.Errorf("config file %s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(std))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		msg := err.Error()
		if k, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return fc, fmt.Errorf("config file %s: unknown key %s", path, k)
		}
		return fc, fmt.Errorf("config file %s: %s", path, strings.TrimPrefix(msg, "json: "))
	}
	if dec.More() {
		return fc, fmt.Errorf("config file %s: more than one JSON value", path)
	}
	if _, err := auth.CheckScopes(fc.StdioScopes); err != nil {
		return fc, fmt.Errorf("config file %s: key \"stdio_scopes\": %w", path, err)
	}
	return fc, nil
}

// checkOwnDirs refuses a state directory, or an audit log's directory,
// that is not a directory of its own: the sandbox grants both read-write,
// so --audit-log /var/log/tailops-audit.log would let the server write
// every log, and one in /etc /etc/shadow. With --sandbox off nothing is
// granted, but TailOps still creates, renames and removes its files there
// (secrets, approvals, rotated logs), which a shared directory such as
// /tmp lets others pre-empt; so the check holds in every mode.
func (c *config) checkOwnDirs() error {
	if err := sandbox.CheckOwnDir(c.StateDir, c.env.host.Etc); err != nil {
		return fmt.Errorf("--state-dir %s %v; TailOps keeps its secrets and state there, and its kernel sandbox grants the directory read-write: "+
			"give TailOps a directory of its own, such as /var/lib/tailops", c.StateDir, err)
	}
	dir := filepath.Dir(c.AuditLog)
	if err := sandbox.CheckOwnDir(dir, c.env.host.Etc); err != nil {
		return fmt.Errorf("--audit-log %s: its directory %s %v; TailOps creates and rotates the log's files there, and its kernel sandbox grants the directory read-write: "+
			"give the audit log a directory of its own, such as %s (the default)", c.AuditLog, dir, err, filepath.Join(c.StateDir, "audit", "audit.log"))
	}
	return nil
}

// defaultStateDir is /var/lib/tailops for root, else $XDG_STATE_HOME/tailops.
func defaultStateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/tailops"
	}
	if x := os.Getenv("XDG_STATE_HOME"); x != "" {
		return filepath.Join(x, "tailops")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "state", "tailops")
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// errNoSecret is returned when no shared secret is configured or stored.
var errNoSecret = errors.New("no shared secret")

// loadSecret returns the shared secret from TAILOPS_SHARED_SECRET, the
// secret file, or STATE_DIR/secret; both the variable and a secret file
// is an error (which one was meant?), as is a file other users may read.
// With create set and nothing configured, it creates STATE_DIR/secret
// with 32 random bytes, mode 0600.
func (c *config) loadSecret(create bool) ([]byte, error) {
	if v := os.Getenv("TAILOPS_SHARED_SECRET"); v != "" {
		if c.SecretFile != "" {
			return nil, fmt.Errorf("both TAILOPS_SHARED_SECRET and --shared-secret-file %s give the shared secret: set one", c.SecretFile)
		}
		c.secretFromEnv = true
		return []byte(v), nil
	}
	path := c.SecretFile
	explicit := path != ""
	if !explicit {
		path = filepath.Join(c.StateDir, "secret")
	}
	b, err := readSecretFile(path, "shared secret file")
	switch {
	case err == nil:
		if utf8.Valid(b) { // a text secret written by hand: drop the editor's newline
			b = bytes.TrimRight(b, "\r\n")
		}
		if len(b) < 16 {
			return nil, fmt.Errorf("shared secret in %s is %d bytes; at least 16 are needed", path, len(b))
		}
		return b, nil
	case !errors.Is(err, os.ErrNotExist) || explicit || !create:
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist (start `tailops serve` once to create it, or set TAILOPS_SHARED_SECRET_FILE)", errNoSecret, path)
		}
		return nil, err
	}
	if err := os.MkdirAll(c.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating shared secret: %w", err)
	}
	if _, err := f.Write(secret); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing shared secret: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing shared secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing shared secret: %w", err)
	}
	c.createdSecretAt = path
	return secret, nil
}

// newLogger returns the process logger: text on w at the configured level.
func (c *config) newLogger(w io.Writer) *slog.Logger {
	l, _ := parseLevel(c.LogLevel)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

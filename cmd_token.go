// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tailops/tailops/auth"
)

// runTokenMint is `tailops token mint`: it prints one HMAC token on stdout,
// signed with the same shared secret serve uses.
func runTokenMint(args []string, stdout, stderr io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("tailops token mint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.bindCommon(fs)
	agent := fs.String("agent", "", "who the token is for (recorded in every audit record)")
	scopes := fs.String("scopes", "", "comma-separated scopes, e.g. readonly or container:write,system:read")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	if err := parseFlags(fs, args, &cfg); err != nil {
		return err
	}
	// What a token is and who gets it is said on the command line: a
	// TAILOPS_SCOPES left in an environment would mint admin tokens
	// nobody asked for.
	for _, f := range []string{"agent", "scopes", "ttl"} {
		if cfg.fromEnv[f] {
			return fmt.Errorf("--%s must be given on the command line: token mint does not read %s", f, envName(f))
		}
	}
	if err := cfg.resolve(); err != nil {
		return err
	}
	switch {
	case *agent == "":
		return fmt.Errorf("--agent is required")
	case *scopes == "":
		return fmt.Errorf("--scopes is required (known: %s)", scopeList(auth.Known()))
	case *ttl <= 0:
		return fmt.Errorf("--ttl must be positive, got %s", *ttl)
	}
	ss, err := auth.ParseScopes(*scopes)
	if err != nil {
		return fmt.Errorf("--scopes: %w", err)
	}
	secret, err := cfg.loadSecret(false)
	if err != nil {
		return err
	}
	tok, err := auth.MintHMAC(secret, auth.Claims{Agent: *agent, Scopes: ss, Expiry: time.Now().Add(*ttl)})
	if err != nil {
		return fmt.Errorf("minting token: %w", err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// runTokenInspect is `tailops token inspect TOKEN`: it shows the claims,
// and whether the token verifies with this server's configuration. It
// exits 1 when the token does not verify.
func runTokenInspect(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("tailops token inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.bindCommon(fs)
	fs.StringVar(&cfg.JWKSFile, "jwks-file", "", "JWKS file with public keys for EdDSA, ES256 and RS256 JWTs")
	bindJWKSURL(fs, &cfg.JWKSURL)
	fs.StringVar(&cfg.ResourceURL, "resource-url", "", "required JWT audience")
	fs.StringVar(&cfg.JWTIssuer, "jwt-issuer", "", "required JWT issuer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: tailops token inspect [flags] TOKEN, or - to read it from standard input")
	}
	raw := fs.Arg(0)
	if raw == "-" {
		// Read from standard input, the token stays out of the process
		// list (/proc/PID/cmdline) and the shell's history.
		b, err := io.ReadAll(io.LimitReader(stdin, 64<<10))
		if err != nil {
			return fmt.Errorf("reading the token from standard input: %w", err)
		}
		if raw = strings.TrimSpace(string(b)); raw == "" {
			return fmt.Errorf("no token on standard input")
		}
	}
	rest := fs.Args()[1:]
	if err := parseFlags(fs, rest, &cfg); err != nil {
		return err
	}
	if err := cfg.resolve(); err != nil {
		return err
	}
	ins, err := auth.Inspect(raw)
	if err != nil {
		return fmt.Errorf("decoding token: %w", err)
	}
	out := struct {
		Token    *auth.Inspection `json:"token"`
		Verifies bool             `json:"verifies"`
		Reason   string           `json:"reason,omitempty"`
		Caller   *auth.Caller     `json:"caller,omitempty"`
	}{Token: ins}
	v, err := inspectVerifier(&cfg)
	if err != nil {
		out.Reason = "cannot verify here: " + err.Error()
	} else if c, err := v.Verify(raw); err != nil {
		out.Reason = err.Error()
	} else {
		out.Verifies, out.Caller = true, c
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	if !out.Verifies {
		return exitError{1}
	}
	return nil
}

// inspectVerifier is token inspect's verifier: the server's, with the
// --jwks-url key set fetched once, with the host's dialer.
func inspectVerifier(cfg *config) (*auth.Verifier, error) {
	var remote *auth.RemoteJWKS
	if cfg.JWKSURL != "" {
		var err error
		if remote, err = auth.NewRemoteJWKS(auth.RemoteJWKSConfig{URL: cfg.JWKSURL}); err != nil {
			return nil, err
		}
		if err := remote.Fetch(context.Background(), "token inspect"); err != nil {
			return nil, err
		}
	}
	return cfg.newVerifier(nil, false, remote)
}

// scopeList joins scopes with commas, for messages.
func scopeList(ss []auth.Scope) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// SPDX-License-Identifier: Apache-2.0

package main

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tailnet"
)

// bindJWKSURL registers --jwks-url.
func bindJWKSURL(fs *flag.FlagSet, u *string) {
	fs.StringVar(u, "jwks-url", "", "URL of a JWKS with public keys for EdDSA, ES256 and RS256 JWTs (an identity provider's, such as tsidp's https://idp.TAILNET.ts.net/.well-known/jwks.json), "+
		"fetched at start, every 15 minutes, on SIGHUP and when a token names an unknown kid (at most once a minute); https, or http to loopback; not with --jwks-file")
}

// resolveJWKS fills --jwks-url from the config file when the flag and
// environment left it unset, and checks it: an https URL (http only to
// loopback), and not together with --jwks-file.
func (c *config) resolveJWKS() error {
	src := "--jwks-url"
	if !c.set["jwks-url"] && c.file.JWKSURL != "" {
		c.JWKSURL = c.file.JWKSURL
		src = fmt.Sprintf("config file %s: key %q", c.ConfigFile, "jwks_url")
	}
	if c.JWKSURL == "" {
		return nil
	}
	if c.JWKSFile != "" {
		return fmt.Errorf("--jwks-file and %s are mutually exclusive: the keys come from a file or from a URL, not both", src)
	}
	if _, err := auth.CheckJWKSURL(c.JWKSURL); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	return nil
}

// jwksConnectPort is the TCP port the --jwks-url fetches connect to
// through the host, which the sandbox must grant for the refreshes; 0
// without --jwks-url and in tsnet mode, where outbound TCP stays open to
// any port for the engine and a host on the tailnet is dialled inside
// the process.
func (c *config) jwksConnectPort() uint16 {
	if c.JWKSURL == "" || c.tailnetMode == tailnet.ModeTSNet {
		return 0
	}
	u, err := auth.CheckJWKSURL(c.JWKSURL)
	if err != nil {
		return 0 // resolveJWKS refused it
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	n, _ := strconv.ParseUint(port, 10, 16)
	return uint16(n)
}

// SPDX-License-Identifier: Apache-2.0

package main

import (
	"flag"
	"fmt"

	"github.com/tailops/tailops/server"
)

// bindRateLimit registers --rate-limit.
func bindRateLimit(fs *flag.FlagSet, limit *string) {
	fs.StringVar(limit, "rate-limit", "off", "each caller's (token's, or tailnet node's) tool calls: N/s, N/m or N/h, optionally ,burst=B (e.g. 20/s,burst=40); off: no limit")
}

// resolveRateLimits fills --rate-limit from the config file's rate_limit
// when the flag and environment left it unset, parses it and the file's
// per-scope rate_limits. Only serve has these.
func (c *config) resolveRateLimits() error {
	src := "--rate-limit"
	if !c.set["rate-limit"] && c.file.RateLimit != "" {
		c.RateLimit = c.file.RateLimit
		src = fmt.Sprintf("config file %s: key %q", c.ConfigFile, "rate_limit")
	}
	def, err := server.ParseRate(c.RateLimit)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	scopes, err := server.ParseScopeRates(c.file.RateLimits)
	if err != nil {
		return fmt.Errorf("config file %s: key \"rate_limits\": %w", c.ConfigFile, err)
	}
	c.rateLimits = server.RateLimits{Default: def, Scopes: scopes}
	return nil
}

// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestVulnDataConfig: check_vulnerabilities' data source and allow-list
// come from --vuln-data and --vuln-data-allow, their environment twins,
// or the config file's vuln_data and vuln_data_allow, the flag first.
func TestVulnDataConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.hujson")
	os.WriteFile(cfg, []byte(`{"vuln_data": "/srv/tracker.json", "vuln_data_allow": ["192.168.1.0/24"]}`), 0o600)
	for _, tc := range []struct {
		name      string
		env       string
		args      []string
		wantData  string
		wantAllow []string
	}{
		{"config file", "", []string{"--config", cfg}, "/srv/tracker.json", []string{"192.168.1.0/24"}},
		{"flag over the file", "", []string{"--config", cfg, "--vuln-data", "https://mirror.lan/json", "--vuln-data-allow", "mirror.lan"}, "https://mirror.lan/json", []string{"mirror.lan"}},
		{"environment twin over the file", "/env/tracker.json", []string{"--config", cfg}, "/env/tracker.json", []string{"192.168.1.0/24"}},
		{"default", "", nil, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("TAILOPS_VULN_DATA", tc.env)
			}
			got := startServer(t, tc.args...).in.cfg.packagesConfig(nil)
			if got.VulnData != tc.wantData || !slices.Equal(got.VulnAllow, tc.wantAllow) {
				t.Errorf("vuln data %q, allow %q; want %q, %q", got.VulnData, got.VulnAllow, tc.wantData, tc.wantAllow)
			}
		})
	}
}

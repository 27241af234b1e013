// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// osReleaseFiles are where os-release(5) may be, in the order read.
var osReleaseFiles = []string{"/etc/os-release", "/usr/lib/os-release"}

// readCodename returns VERSION_CODENAME from the first os-release file of
// paths that exists.
func readCodename(paths []string) (string, error) {
	for _, p := range paths {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading the host's release: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "VERSION_CODENAME=")
			if !ok {
				continue
			}
			v = strings.Trim(v, `"'`)
			if err := validCodename(v); err != nil {
				return "", fmt.Errorf("reading the host's release from %s: %w", p, err)
			}
			return v, nil
		}
		if err := sc.Err(); err != nil {
			return "", fmt.Errorf("reading the host's release from %s: %w", p, err)
		}
		return "", fmt.Errorf("%s has no VERSION_CODENAME (a Debian testing or sid host, or not Debian): "+
			"set the release the security tracker knows the host as (packages Config.Release)", p)
	}
	return "", fmt.Errorf("no os-release file (%s): in a container, mount the host's /etc (-e HOST_ETC=/host/etc)", strings.Join(paths, ", "))
}

// validCodename reports why s is not a release codename such as bookworm.
func validCodename(s string) error {
	if s == "" || len(s) > 32 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return fmt.Errorf("release codename %q: want a lower-case word such as bookworm", clipUTF8(s, 40))
	}
	return nil
}

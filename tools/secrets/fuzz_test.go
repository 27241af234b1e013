// SPDX-License-Identifier: Apache-2.0

package secrets

import (
	"strings"
	"sync"
	"testing"
)

var (
	fuzzOnce    sync.Once
	fuzzScanner *scanner
)

// FuzzScan scans arbitrary file contents with the embedded rules: it
// must never panic, and every finding is on a line the data has.
func FuzzScan(f *testing.F) {
	f.Add([]byte("aws_access_key_id = " + awsKey + "\n"))
	f.Add([]byte(privateKey))
	f.Add([]byte("DB_PASSWORD=" + envPassword))
	f.Add([]byte("password = ${DB_PASSWORD}\r\napi_key=\x00\xff\xfe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzOnce.Do(func() {
			rs, err := loadRules(gitleaksTOML)
			if err != nil {
				t.Fatal(err)
			}
			fuzzScanner = &scanner{rules: rs, key: []byte("k")}
		})
		hits, _ := fuzzScanner.scan("/r/f", "f", data)
		lines := strings.Count(string(data), "\n") + 1
		for _, h := range hits {
			if h.line < 1 || h.line > lines || h.rule == "" || len(h.fingerprint) != 24 {
				t.Fatalf("finding %+v in %d lines", h, lines)
			}
		}
	})
}

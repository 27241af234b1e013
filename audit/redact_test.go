// SPDX-License-Identifier: Apache-2.0

package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/redact"
	rt "github.com/tailops/tailops/redact/redacttest"
)

type credentials struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Port     int    `json:"port"`
}

// TestWriteStoresNoSecrets: Write redacts (package redact's rules) every
// field that can carry a secret, and leaves harmless arguments as they are.
func TestWriteStoresNoSecrets(t *testing.T) {
	harmless := map[string]any{
		"keyword": "kernel panic", "path": "/var/log/syslog", "container": rt.ContainerID,
		"image": "nginx@sha256:" + rt.ContainerID, "author": "alice", "use_auth": true, "lines": 100.0,
		"command": "docker ps -a --format '{{.Names}}'", "url": "https://example.com/a?b=c",
		"when": "12:30:00", "message": "invalid token",
	}
	tests := []struct {
		name    string
		rec     audit.Record
		secrets []string
	}{
		{"sensitive keys", audit.Record{Arguments: map[string]any{
			"api_key": "k-0001-abcd", "privateKey": "PRIVVAL-xyz", "Authorization": "Basic dXNlcjpwYXNz",
			"cookie": "session=abcd1234", "passwd": 987654321.0}},
			[]string{"k-0001-abcd", "PRIVVAL-xyz", "dXNlcjpwYXNz", "abcd1234", "987654321"}},
		{"nested and in slices", audit.Record{Arguments: map[string]any{
			"config": map[string]any{"db": map[string]any{"password": "nestedpw-77"}},
			"items":  []any{map[string]any{"token": "slicetok-99"}, []any{"Bearer deep-bearer-1"}}}},
			[]string{"nestedpw-77", "slicetok-99", "deep-bearer-1"}},
		{"token-shaped values", audit.Record{Arguments: map[string]any{
			"cmd":   "curl -H 'Authorization: Bearer abc123hdr' https://x && gh auth login --with-token " + rt.GHP,
			"env":   []any{"TS_AUTHKEY=" + rt.TSKey, "SLACK=" + rt.XOXB, "AWS=" + rt.AKIA, "GH=" + rt.GHPAT, "S=" + rt.XOXP},
			"jwt":   rt.JWT,
			"hmac":  rt.HMACToken,
			"pem":   rt.PEMBlock,
			"dsn":   "postgres://admin:hunter2pass@db/app",
			"flags": "--password=Sup3rS3cret -e MYSQL_ROOT_PASSWORD=rootpw123 API_TOKEN=tok_live_abc",
			"json":  `{"auth":{"username":"bob","password":"jsonpw-33"}}`}},
			[]string{"abc123hdr", rt.GHP, rt.TSKey, rt.XOXB, rt.AKIA, rt.GHPAT, rt.XOXP, rt.JWT, rt.SigHex, rt.PEMBody, "hunter2pass",
				"Sup3rS3cret", "rootpw123", "tok_live_abc", "jsonpw-33"}},
		{"raw JSON arguments", audit.Record{Arguments: json.RawMessage(`{"client_secret":"rawsecret-55","n":1,"note":"` + rt.GHP + `"}`)},
			[]string{"rawsecret-55", rt.GHP}},
		{"struct arguments", audit.Record{Arguments: credentials{User: "bob", Password: "structpw-11"}},
			[]string{"structpw-11"}},
		// Found in review: an argument vector's flag value, and a token as
		// an https URL's user name.
		{"exec_in_container argv and a URL's token", audit.Record{Tool: "exec_in_container", Arguments: map[string]any{
			"container": "gitea", "argv": []any{"gitea", "admin", "user", "change-password", "--username", "bob", "--password", "hunter2horse"},
			"url": "https://3f2a9c0d1b7e4f6a8c5d2e9b0a1f3c7d4e6b8f90@gitea.lan/api/v1/user"}},
			[]string{"hunter2horse", "3f2a9c0d1b7e4f6a8c5d2e9b0a1f3c7d4e6b8f90"}},
		// Found in review: the client names these (an unknown tool or
		// prompt, a fleet node argument).
		{"tool, prompt and node names", audit.Record{Tool: rt.GHP, Prompt: rt.XOXB, Node: rt.TSKey}, []string{rt.GHP, rt.XOXB, rt.TSKey}},
		{"reason, error and approval", audit.Record{
			Reason: "token " + rt.GHP + " revoked", Error: "exit 1: Authorization: Bearer errbearer-8",
			Approval: map[string]any{"approver_token": "approvaltok-4"}},
			[]string{rt.GHP, "errbearer-8", "approvaltok-4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			l := openLog(t, path, nil)
			r := tt.rec
			if err := l.Write(context.Background(), &r); err != nil {
				t.Fatal(err)
			}
			if err := l.Write(context.Background(), &audit.Record{Arguments: harmless}); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.secrets {
				if strings.Contains(string(data), s) || strings.Contains(string(data), jsonEscaped(s)) {
					t.Errorf("secret %q written to the log", s)
				}
			}
			if !strings.Contains(string(data), redact.Redacted) {
				t.Error("no [REDACTED] marker in the log")
			}
			var rec audit.Record
			if err := json.Unmarshal([]byte(lastLine(t, path)), &rec); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rec.Arguments, harmless) {
				t.Errorf("harmless arguments changed:\n got %v\nwant %v", rec.Arguments, harmless)
			}
		})
	}
}

// jsonEscaped is s as it appears inside a JSON string.
func jsonEscaped(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// TestWriteCapsArguments: arguments over audit.MaxRecordedArguments (the
// HTTP edge takes up to 4 MiB) are recorded shortened, never whole, yet
// still say what the call was for: white space padding is gone, the
// short values stay, a long string keeps its start (redacted, with a
// secret across the cut seen whole), a long array its first elements.
// Arguments at the limit are recorded whole.
func TestWriteCapsArguments(t *testing.T) {
	argv := []any{"sh", "-c", "rm -rf /srv/data"}
	padded := `{"container":"db","argv":["sh","-c","rm -rf /srv/data"]` + strings.Repeat(" ", 70<<10) + `}`
	straddle := strings.Repeat("x", 4096-9) + " " + rt.GHP + " " + strings.Repeat("y", 4<<20)
	many := make([]any, 100_000)
	for i := range many {
		many[i] = "arg"
	}
	atLimit := `{"p":"` + strings.Repeat("x", audit.MaxRecordedArguments-8) + `"}`
	for _, tc := range []struct {
		name    string
		args    any
		want    map[string]any // keys that must be recorded as given
		secrets []string
	}{
		{"white space padding", json.RawMessage(padded), map[string]any{"container": "db", "argv": argv}, nil},
		{"a long string, a secret across the cut", json.RawMessage(`{"container":"db","payload":` + jsonQuote(straddle) + `}`),
			map[string]any{"container": "db"}, []string{rt.GHP, rt.GHP[:8]}},
		{"decoded, a long string", map[string]any{"container": "db", "payload": strings.Repeat("token=a ", 512<<10)},
			map[string]any{"container": "db"}, nil},
		{"a long array", map[string]any{"container": "db", "argv": many}, map[string]any{"container": "db"}, nil},
		{"raw, at the limit", json.RawMessage(atLimit), map[string]any{"p": strings.Repeat("x", audit.MaxRecordedArguments-8)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			l := openLog(t, path, nil)
			if err := l.Write(context.Background(), &audit.Record{Tool: "exec_in_container", Arguments: tc.args}); err != nil {
				t.Fatal(err)
			}
			line := lastLine(t, path)
			if len(line) > audit.MaxRecordedArguments+4<<10 {
				t.Errorf("a record of %d bytes", len(line))
			}
			var rec struct {
				Arguments map[string]any `json:"arguments"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if !reflect.DeepEqual(rec.Arguments[k], v) {
					t.Errorf("argument %s recorded as %.200v, want %.200v", k, rec.Arguments[k], v)
				}
			}
			for _, sec := range tc.secrets {
				if strings.Contains(line, sec) {
					t.Errorf("the record holds %.30q", sec)
				}
			}
			if p, ok := rec.Arguments["payload"].(string); ok && !strings.HasSuffix(p, "bytes in all, the rest not recorded]") {
				t.Errorf("payload recorded as %.100q…, without saying it was cut", p)
			}
			if a, ok := rec.Arguments["argv"].([]any); ok && len(a) > 257 {
				t.Errorf("argv of %d elements recorded", len(a))
			}
		})
	}
}

// jsonQuote is s as a JSON string.
func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestWriteCapsTextFields: a text field a caller can fill (a tool's,
// prompt's or node's name, a URI, the request id, a reason or error that
// quotes them) over audit.MaxRecordedText is recorded cut on a rune
// boundary, keeping its start and saying how long it was, so that a few
// calls naming a 1 MiB tool cannot fill the log's disk; a secret across
// the cut is still redacted, a field at the limit is recorded whole, and
// the chain still verifies.
func TestWriteCapsTextFields(t *testing.T) {
	huge := func(start string) string { return start + strings.Repeat("x", 1<<20) }
	straddle := strings.Repeat("x", audit.MaxRecordedText-9) + " " + rt.GHP + " " + strings.Repeat("y", 1<<20)
	for _, tc := range []struct {
		name    string
		rec     audit.Record
		secrets []string
	}{
		{"1 MiB in every text field", audit.Record{Tool: huge("tool-"), Prompt: huge("prompt-"), Resource: huge("test://res/"),
			Node: huge("node-"), RequestID: huge("req-"), Reason: huge("unknown tool "), Error: huge("error: ")}, nil},
		{"a secret across the cut", audit.Record{Tool: "see", Reason: straddle, Error: straddle}, []string{rt.GHP, rt.GHP[:8]}},
		{"runes across the cut", audit.Record{Tool: "t" + strings.Repeat("é", 1<<19), Resource: "u" + strings.Repeat("日", 1<<18)}, nil},
		{"at the limit", audit.Record{Tool: strings.Repeat("t", audit.MaxRecordedText), Reason: strings.Repeat("r", audit.MaxRecordedText)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			l := openLog(t, path, nil)
			r := tc.rec
			if err := l.Write(context.Background(), &r); err != nil {
				t.Fatal(err)
			}
			line := lastLine(t, path)
			if len(line) > 40<<10 {
				t.Errorf("a record of %d bytes", len(line))
			}
			var rec audit.Record
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatal(err)
			}
			for _, f := range textFields(tc.rec, rec) {
				checkRecordedText(t, f.name, f.given, f.got)
			}
			for _, sec := range tc.secrets {
				if strings.Contains(line, sec) {
					t.Errorf("the record holds %.30q", sec)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if n, p, err := audit.Verify(path); n != 1 || p != nil || err != nil {
				t.Errorf("Verify = %d, %v, %v; want 1 record intact", n, p, err)
			}
		})
	}
}

// textField is one text field of a record, as given to Write and as
// recorded.
type textField struct{ name, given, got string }

// textFields pairs the text fields of given and got.
func textFields(given, got audit.Record) []textField {
	return []textField{{"tool", given.Tool, got.Tool}, {"prompt", given.Prompt, got.Prompt},
		{"resource", given.Resource, got.Resource}, {"node", given.Node, got.Node},
		{"request_id", given.RequestID, got.RequestID}, {"reason", given.Reason, got.Reason}, {"error", given.Error, got.Error}}
}

// checkRecordedText checks that a text field is recorded whole up to
// audit.MaxRecordedText and, over it, cut to its start on a rune
// boundary, saying how long it was.
func checkRecordedText(t *testing.T, name, given, got string) {
	t.Helper()
	if len(given) <= audit.MaxRecordedText {
		if got != given {
			t.Errorf("%s of %d bytes recorded as %.60q…, want it whole", name, len(given), got)
		}
		return
	}
	marker := fmt.Sprintf("…[%d bytes in all, the rest not recorded]", len(given))
	switch {
	case !strings.HasSuffix(got, marker):
		t.Errorf("%s recorded as …%q, without %q", name, got[max(len(got)-60, 0):], marker)
	case len(got) > audit.MaxRecordedText+len(marker):
		t.Errorf("%s recorded with %d bytes", name, len(got))
	case !strings.HasPrefix(got, given[:20]):
		t.Errorf("%s recorded as %.60q…, want it to start %q", name, got, given[:20])
	case !utf8.ValidString(got) || strings.ContainsRune(got, utf8.RuneError):
		t.Errorf("%s cut inside a rune: …%q", name, got[max(len(got)-len(marker)-8, 0):])
	}
}

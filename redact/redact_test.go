// SPDX-License-Identifier: Apache-2.0

package redact_test

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tailops/tailops/redact"
	rt "github.com/tailops/tailops/redact/redacttest"
)

func TestSecretName(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"token", true}, {"access_token", true}, {"refreshToken", true}, {"TOKEN_ID", true},
		{"secret", true}, {"client_secret", true}, {"SecretAccessKey", true},
		{"password", true}, {"Password", true}, {"db_passwd", true}, {"PGPASSWORD", true}, {"passphrase", true},
		{"pass", true}, {"pwd", true}, {"MYSQL_PWD", true},
		{"key", true}, {"api_key", true}, {"apikey", true}, {"apiKey", true}, {"APIKey", true},
		{"privateKey", true}, {"private-key", true}, {"X-API-Key", true}, {"ssh_keys", true}, {"key_id", true},
		{"auth", true}, {"Authorization", true}, {"proxy-authorization", true}, {"oauth", true},
		{"basicauth", true}, {"auth_header", true}, {"use_auth", true},
		{"credentials", true}, {"aws_credential_file", true}, {"cookie", true}, {"Set-Cookie", true},
		{"STRIPE_KEY", true}, {"SSH_KEY", true}, {"DB_PWD", true}, {"SESSION_COOKIE", true}, {"LICENSE_KEY", true},
		{"HASH_SALT", true}, {"SENTRY_DSN", true}, {"--api-key", true},
		{"monkey", true}, // documented false positive of the "ends in key" rule

		{"keyword", false}, {"keywords", false}, {"keyboard", false}, {"keyspace", false},
		{"author", false}, {"authors", false}, {"authority", false}, {"coauthor", false},
		{"path", false}, {"container", false}, {"lines", false}, {"command", false},
		{"passenger", false}, {"compass", false}, {"bypass_cache", false}, {"", false},
		{"salted", false}, {"TZ", false}, {"PATH", false}, {"webhook_timeout", false},
	}
	for _, tt := range tests {
		if got := redact.SecretName(tt.key); got != tt.want {
			t.Errorf("SecretName(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

type credentials struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Port     int    `json:"port"`
}

func TestValue(t *testing.T) {
	r := redact.Redacted
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"number", 42, 42},
		{"bool", true, true},
		{"plain string", "docker ps -a", "docker ps -a"},
		{"authorization header in a command",
			"curl -H 'Authorization: Bearer abc123' https://x",
			"curl -H 'Authorization: " + r + "' https://x"},
		{"bearer in prose", "sent Bearer abc.def-ghi to it", "sent Bearer " + r + " to it"},
		{"jwt inside text", "login with " + rt.JWT + " now", "login with " + r + " now"},
		{"tailops hmac token", "TAILOPS_TOKEN " + rt.HMACToken, "TAILOPS_TOKEN " + r},
		{"tskey", "tailscale up --authkey " + rt.TSKey, "tailscale up --authkey " + r},
		{"github tokens", rt.GHP + " " + rt.GHPAT, r + " " + r},
		{"slack tokens", rt.XOXB + "," + rt.XOXP, r + "," + r},
		{"aws key id", "id=" + rt.AKIA, "id=" + r},
		{"pem block", "before\n" + rt.PEMBlock + "\nafter", "before\n" + r + "\nafter"},
		{"pem block without end", "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA", r},
		{"password in url", "postgres://admin:hunter2@db:5432/app", "postgres://admin:" + r + "@db:5432/app"},
		{"token as an https url's user", "https://3f2a9c0d1b7e4f6a8c5d2e9b0a1f3c7d4e6b8f90@gitea.lan/api/v1/user", "https://" + r + "@gitea.lan/api/v1/user"},
		{"token as an http url's user", "clone HTTP://tok@git.lan/x.git", "clone HTTP://" + r + "@git.lan/x.git"},
		{"ssh url's user kept", "ssh://git@gitea.lan:2222/me/app.git", "ssh://git@gitea.lan:2222/me/app.git"},
		{"at sign in an https path kept", "https://registry.lan/v2/@scope/pkg", "https://registry.lan/v2/@scope/pkg"},
		{"env assignment",
			"docker run -e MYSQL_ROOT_PASSWORD=rootpw -e TZ=UTC mysql",
			"docker run -e MYSQL_ROOT_PASSWORD=" + r + " -e TZ=UTC mysql"},
		{"flag", "mysqldump --password='x y' db", "mysqldump --password='" + r + "' db"},
		{"token in a query string", "https://example.com/a?token=abc&b=c", "https://example.com/a?token=" + r + "&b=c"},
		{"empty quoted value", `password=""`, `password="` + r + `"`},
		{"unterminated quote", `secret="abc def`, `secret="` + r + `"`},
		{"json text", `{"password":"x","user":"bob"}`, `{"password":"` + r + `","user":"bob"}`},
		{"container id kept", rt.ContainerID, rt.ContainerID},
		{"image digest kept", "nginx@sha256:" + rt.SigHex, "nginx@sha256:" + rt.SigHex},
		{"map keys",
			map[string]any{"api_key": "k", "keyword": "k", "use_auth": true, "password": nil, "n": 1.0},
			map[string]any{"api_key": r, "keyword": "k", "use_auth": true, "password": nil, "n": 1.0}},
		{"nested",
			map[string]any{"config": map[string]any{"db": map[string]any{"password": "pw", "host": "db"}},
				"list": []any{map[string]any{"token": "t"}, "ok"}},
			map[string]any{"config": map[string]any{"db": map[string]any{"password": r, "host": "db"}},
				"list": []any{map[string]any{"token": r}, "ok"}}},
		{"whole object under a sensitive key",
			map[string]any{"auth": map[string]any{"user": "bob", "pass": "pw"}},
			map[string]any{"auth": r}},
		{"secret as a key", map[string]any{rt.GHP: "x"}, map[string]any{r: r}},
		{"raw message",
			json.RawMessage(`{"secret":"s","list":[1,"` + rt.AKIA + `"],"big":12345678901234567890}`),
			json.RawMessage(`{"big":12345678901234567890,"list":[1,"` + r + `"],"secret":"` + r + `"}`)},
		{"invalid raw message", json.RawMessage(`not json ` + rt.GHP), "not json " + r},
		{"struct", credentials{User: "bob", Password: "pw", Port: 5432},
			map[string]any{"user": "bob", "password": r, "port": json.Number("5432")}},
		{"map of strings", map[string]string{"X-Api-Key": "k", "Accept": "Bearer x"},
			map[string]string{"X-Api-Key": r, "Accept": "Bearer " + r}},
		{"slice of strings", []string{"ls", rt.GHP}, []string{"ls", r}},
		{"argv in a list", map[string]any{"argv": []any{"gitea", "admin", "--username", "bob", "--password", "hunter2horse", "--admin"}},
			map[string]any{"argv": []any{"gitea", "admin", "--username", "bob", "--password", r, "--admin"}}},
		{"flag before a non-string", []any{"--token", 42.0, "x"}, []any{"--token", 42.0, "x"}},
		{"flag before a flag", []any{"--password", "--verbose", "v"}, []any{"--password", "--verbose", "v"}},
		{"argv of strings", []string{"mysql", "--password", "pw", "db"}, []string{"mysql", "--password", r, "db"}},
		{"bytes", []byte("Bearer xyz"), "Bearer " + r},
		{"unencodable", func() {}, "[unencodable func()]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redact.Value(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Value(%#v)\n got %#v\nwant %#v", tt.in, got, tt.want)
			}
			if again := redact.Value(got); !reflect.DeepEqual(again, got) {
				t.Errorf("Value is not idempotent: %#v → %#v", got, again)
			}
		})
	}
}

func TestValueLeavesInputAlone(t *testing.T) {
	in := map[string]any{"token": "t", "nested": map[string]any{"password": "p"}, "list": []any{"Bearer x"}}
	redact.Value(in)
	want := map[string]any{"token": "t", "nested": map[string]any{"password": "p"}, "list": []any{"Bearer x"}}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("Value modified its input: %v", in)
	}
}

func TestText(t *testing.T) {
	r := redact.Redacted
	tests := []stringCase{
		// Known prefixes.
		{"sk_live_51HqLyjWDarjtT1zdp7dcXYZab", r},
		{"rk_test_4eC39HqLyjWDarjtT1zdp7dc", r},
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", r},
		{"npm_aB3dE4fG5hJ6kL7mN8pQ9rS0tV1wX2yZ3aB4", r},
		{"hf_aBcDeFgHiJkLmNoPqRsTuVwXyZaBcDeFgH", r},
		{"key=AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "key=" + r},
		{"docker swarm join --token SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx 10.0.0.1:2377",
			"docker swarm join --token " + r + " 10.0.0.1:2377"},
		{"PLEX_CLAIM is claim-Ab12Cd34Ef56Gh78Ij90", "PLEX_CLAIM is " + r},
		{"xapp-1-A0123456789-1234567890123-abcdef", r},
		// Random-looking tokens under any name, in any text.
		{rt.Random32, r},
		{rt.Random24, r},
		{"SOME_ID=" + rt.Random32, "SOME_ID=" + r},
		{"curl -d id=" + rt.Random24 + " https://x", "curl -d id=" + r + " https://x"},
		{rt.Slashed, r},
		{"https://hooks.slack.com/services/T0A1B2C3D/B4E5F6G7H/" + rt.Random24,
			"https://hooks.slack.com/services/T0A1B2C3D/B4E5F6G7H/" + r},
		// Kept: hex of any length, one letter case, words, paths, versions.
		{rt.ContainerID, rt.ContainerID},
		{"nginx@sha256:" + rt.SigHex, "nginx@sha256:" + rt.SigHex},
		{"573BFD6B3D8FBC641079A6ABABF5BD827BD9BF62", "573BFD6B3D8FBC641079A6ABABF5BD827BD9BF62"},
		{"3f2504e0-4f89-11d3-9a0c-0305e82c3301", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
		{"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"},
		{"MyService_Production_2024", "MyService_Production_2024"},
		{"ApplicationInsightsInstrumentationKey2024", "ApplicationInsightsInstrumentationKey2024"},
		{"HelloWorldFromTheDockerContainer123", "HelloWorldFromTheDockerContainer123"},
		{"NextcloudAdminUser2023Backup", "NextcloudAdminUser2023Backup"},
		{"/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"},
		{"/home/User/Documents/Photos2023/IMG_20230514_123456.jpg", "/home/User/Documents/Photos2023/IMG_20230514_123456.jpg"},
		{"linuxserver/nginx:1.25.3-ls245", "linuxserver/nginx:1.25.3-ls245"},
		{"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		{"webhook: no answer within 200ms", "webhook: no answer within 200ms"},
	}
	checkStrings(t, "Text", redact.Text, tests)
}

// stringCase is an input and what a redaction function must return.
type stringCase struct{ in, want string }

// checkStrings runs f, named name, on each case, and again on its result,
// which must not change.
func checkStrings(t *testing.T, name string, f func(string) string, tests []stringCase) {
	t.Helper()
	for _, tt := range tests {
		got := f(tt.in)
		if got != tt.want {
			t.Errorf("%s(%q)\n got %q\nwant %q", name, tt.in, got, tt.want)
		}
		if again := f(got); again != got {
			t.Errorf("%s is not idempotent: %q → %q", name, got, again)
		}
	}
}

func TestEnv(t *testing.T) {
	r := redact.Redacted
	in := []string{
		"STRIPE_KEY=sk_live_abc", "SSH_KEY=-----BEGIN", "DB_PWD=hunter2", "SESSION_COOKIE=s%3Aabc", "LICENSE_KEY=AAAA-BBBB",
		"DB_PASSWORD=with spaces, commas; and=equals", "API_TOKEN=", "TZ=Europe/Berlin", "NOVALUE",
		"GH=" + rt.GHP, "ID=" + rt.Random32, "URL=postgres://app:s3cret@db/app", rt.GHP + "=x",
	}
	want := []string{
		"STRIPE_KEY=" + r, "SSH_KEY=" + r, "DB_PWD=" + r, "SESSION_COOKIE=" + r, "LICENSE_KEY=" + r,
		"DB_PASSWORD=" + r, "API_TOKEN=" + r, "TZ=Europe/Berlin", "NOVALUE",
		"GH=" + r, "ID=" + r, "URL=postgres://app:" + r + "@db/app", r + "=" + r,
	}
	if got := redact.Env(in); !reflect.DeepEqual(got, want) {
		t.Errorf("Env\n got %q\nwant %q", got, want)
	}
	if in[0] != "STRIPE_KEY=sk_live_abc" {
		t.Error("Env modified its input")
	}
	if redact.Env(nil) != nil {
		t.Error("Env(nil) is not nil")
	}
}

func TestMap(t *testing.T) {
	r := redact.Redacted
	in := map[string]string{
		"traefik.http.middlewares.auth.basicauth.users": "admin:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/",
		"com.docker.compose.config-hash":                rt.SigHex,
		"org.opencontainers.image.revision":             "e7c5a6b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6",
		"loki-url":                                      "https://user:pw123@loki.lan/loki/api/v1/push",
		"note":                                          "rotate " + rt.Random24 + " soon",
		"app":                                           "web",
	}
	want := map[string]string{
		"traefik.http.middlewares.auth.basicauth.users": r,
		"com.docker.compose.config-hash":                rt.SigHex,
		"org.opencontainers.image.revision":             "e7c5a6b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6",
		"loki-url":                                      "https://user:" + r + "@loki.lan/loki/api/v1/push",
		"note":                                          "rotate " + r + " soon",
		"app":                                           "web",
	}
	if got := redact.Map(in); !reflect.DeepEqual(got, want) {
		t.Errorf("Map\n got %q\nwant %q", got, want)
	}
}

func TestArgs(t *testing.T) {
	r := redact.Redacted
	tests := []struct{ in, want []string }{
		{[]string{"mysqld", "--password", "x y", "--port", "3306"}, []string{"mysqld", "--password", r, "--port", "3306"}},
		{[]string{"app", "--password=x y"}, []string{"app", "--password=" + r}},
		{[]string{"app", "-e", "API_TOKEN=abc def", "-e", "TZ=UTC"}, []string{"app", "-e", "API_TOKEN=" + r, "-e", "TZ=UTC"}},
		{[]string{"app", "--token", "--verbose"}, []string{"app", "--token", "--verbose"}},
		{[]string{"app", "--use-auth", "serve"}, []string{"app", "--use-auth", r}}, // documented false positive
		{[]string{"sh", "-c", "curl -H 'Authorization: Bearer abc' http://x && export SECRET=s3"},
			[]string{"sh", "-c", "curl -H 'Authorization: " + r + "' http://x && export SECRET=" + r}},
		{[]string{"CMD-SHELL", "wget -q http://localhost/?token=abc || exit 1"}, []string{"CMD-SHELL", "wget -q http://localhost/?token=" + r + " || exit 1"}},
		{[]string{"--", "-", rt.Random32}, []string{"--", "-", r}},
		{[]string{"---password=x"}, []string{"---password=" + r}},
	}
	for _, tt := range tests {
		if got := redact.Args(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Args(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestCommandLine(t *testing.T) {
	r := redact.Redacted
	tests := []stringCase{
		{"mysqld --password=x y --port 3306", "mysqld --password=" + r + " " + r},
		{"mysqld --password x --port 3306", "mysqld --password " + r + " " + r},
		{"app --password=last", "app --password=" + r},
		{"app '--password=x y' --port 1", "app '--password=" + r + "' " + r},
		{"app '-e' 'API_TOKEN=a b' 'TZ=Europe/Berlin x'", "app '-e' 'API_TOKEN=" + r + "' " + r},
		{"app 'TZ=Europe/Berlin x' 'unterminated", "app 'TZ=Europe/Berlin x' 'unterminated"},
		{"app '' x", "app '' x"},
		{"nginx -g daemon off;", "nginx -g daemon off;"},
		{"/docker-entrypoint.sh nginx -g 'daemon off;'", "/docker-entrypoint.sh nginx -g 'daemon off;'"},
		{"sh -c curl -H Authorization: Bearer abc http://x", "sh -c curl -H Authorization: " + r},
		{"run --note=Bearer abc def", "run --note=Bearer " + r + " def"},
		{"app " + rt.GHP + "=x y", "app " + r + "=" + r + " " + r},
		{"", ""},
	}
	checkStrings(t, "CommandLine", redact.CommandLine, tests)
}

// TestNamedIsOneAnswer: a name and value get the same answer from every
// function that redacts named values, so no output shows what another
// hides.
func TestNamedIsOneAnswer(t *testing.T) {
	for _, nv := range [][2]string{
		{"STRIPE_KEY", "sk_live_abc"}, {"TZ", "UTC"}, {"ID", rt.Random32}, {"note", "Bearer abc def"},
		{"DB_PASSWORD", "a b"}, {"use_auth", "true"}, {rt.GHP, "x"}, {"URL", "https://u:p@h/"},
	} {
		checkNamed(t, nv[0], nv[1])
	}
}

// checkNamed fails unless Value, Env, Map, Args and CommandLine agree
// with Named on name and value, and Named hides the value of a secret
// name.
func checkNamed(t *testing.T, name, value string) {
	t.Helper()
	rn, rv := redact.Named(name, value)
	if redact.SecretName(name) && rv != redact.Redacted {
		t.Errorf("Named(%q, %q) shows %q", name, value, rv)
	}
	if got := redact.Value(map[string]any{name: value}); !reflect.DeepEqual(got, map[string]any{rn: rv}) {
		t.Errorf("Value(%q: %q) = %q, Named says %q: %q", name, value, got, rn, rv)
	}
	if got := redact.Map(map[string]string{name: value}); !reflect.DeepEqual(got, map[string]string{rn: rv}) {
		t.Errorf("Map(%q: %q) = %q, Named says %q: %q", name, value, got, rn, rv)
	}
	if strings.Contains(name, "=") {
		return // not a name Env or Args can carry
	}
	if got := redact.Env([]string{name + "=" + value}); got[0] != rn+"="+rv {
		t.Errorf("Env(%q=%q) = %q, Named says %q=%q", name, value, got[0], rn, rv)
	}
	if !isArgName(name) {
		return
	}
	if got := redact.Args([]string{"--" + name + "=" + value}); got[0] != "--"+rn+"="+rv {
		t.Errorf("Args(--%q=%q) = %q, Named says %q=%q", name, value, got[0], rn, rv)
	}
	if rv != redact.Redacted || value == redact.Redacted {
		return
	}
	want := "app --" + rn + "=" + rv
	if strings.Contains(value, " ") {
		want += " " + redact.Redacted
	}
	if got := redact.CommandLine("app --" + name + "=" + value); got != want {
		t.Errorf("CommandLine(app --%s=%s) = %q, want %q", name, value, got, want)
	}
}

// isArgName reports whether name is one Args reads from --NAME=VALUE.
func isArgName(name string) bool {
	return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`).MatchString(name)
}

// FuzzText: Text never panics and is idempotent: what it returns has
// nothing more to redact.
func FuzzText(f *testing.F) {
	for _, s := range []string{"Authorization: Bearer abc", rt.JWT, rt.HMACToken, rt.PEMBlock, rt.Random32, rt.Slashed, "a=b password=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := redact.Text(s)
		if again := redact.Text(got); again != got {
			t.Errorf("Text(%q) = %q, and again %q", s, got, again)
		}
	})
}

// FuzzNamed: for any name and value, every function gives the answer
// Named gives, and a secret name's value is never shown.
func FuzzNamed(f *testing.F) {
	f.Add("DB_PASSWORD", "hunter2")
	f.Add("TZ", "UTC")
	f.Fuzz(func(t *testing.T, name, value string) {
		if !utf8.ValidString(name) || !utf8.ValidString(value) {
			return // JSON, which Value goes through, cannot carry them
		}
		checkNamed(t, name, value)
	})
}

// FuzzKnownSecrets: a token of a known shape is removed whatever text
// surrounds it, as long as a space separates them.
func FuzzKnownSecrets(f *testing.F) {
	f.Add("curl -H", "https://example.com")
	f.Fuzz(func(t *testing.T, before, after string) {
		for _, secret := range []string{rt.JWT, rt.HMACToken, rt.TSKey, rt.GHP, rt.GHPAT, rt.XOXB, rt.XOXP, rt.AKIA, rt.PEMBody, rt.Random32} {
			s := before + " " + secret + " " + after
			if secret == rt.PEMBody {
				s = before + " " + rt.PEMBlock + " " + after
			}
			if got := redact.Text(s); strings.Contains(got, secret) {
				t.Errorf("Text(%q) = %q: the secret is still there", s, got)
			}
		}
	})
}

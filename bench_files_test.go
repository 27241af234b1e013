// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// The file-tools comparison of issue 3: TailOps' read_file, list_directory
// and search_files beside the same tools of the official npm
// @modelcontextprotocol/server-filesystem, pinned in .ci/bench-fs.
const (
	fsBenchDir     = ".ci/bench-fs"
	fsBenchPackage = "@modelcontextprotocol/server-filesystem"
	fsBenchBigSize = 1 << 20 // bytes of the file read_file reads
	fsBenchEntries = 10000   // entries of the directory list_directory lists
	fsBenchDirs    = 100     // directories of the searched tree...
	fsBenchPerDir  = 100     // ...and files in each: 10,000 files
	fsBenchWarmups = 3       // untimed calls before each timed loop
	fsBenchTimeout = 2 * time.Minute
)

// fsFixture is the file tree both servers serve, made once per run.
type fsFixture struct {
	root    string // the only root either server is given
	big     string // the 1 MiB text file
	bigText string // its contents
	many    string // the directory of fsBenchEntries files
	tree    string // the tree of fsBenchDirs × fsBenchPerDir files
}

// fsServer is one MCP server under test, started as a child process and
// connected over stdio with the official Go SDK client.
type fsServer struct {
	name    string
	cs      *sdk.ClientSession
	stderr  *syncBuffer
	connect time.Duration // from starting the process to an initialized session
}

// fsOp is one benchmarked operation: the call each server gets and the
// check that its result is complete.
type fsOp struct {
	name  string
	calls map[string]fsCall // by server name
}

type fsCall struct {
	tool  string
	args  map[string]any
	check func(res *sdk.CallToolResult) error // cheap: runs in the timed loop
	full  func(res *sdk.CallToolResult) error // thorough: runs once, untimed; may be nil
}

const (
	fsOurs   = "tailops"
	fsTheirs = "server-filesystem"
)

// BenchmarkFileTools compares TailOps' file tools with the official npm
// @modelcontextprotocol/server-filesystem (version pinned in
// .ci/bench-fs/package-lock.json) in one run, on the same files, with the
// same client: the official Go SDK over stdio (sdk.CommandTransport), one
// session per server, sequential calls.
//
//   - read_file: the whole of a 1 MiB text file (theirs: read_text_file);
//   - list_directory: a directory of 10,000 files;
//   - search_files: every *.txt name in a tree of 100 directories × 100
//     files (ours: name_glob "*.txt"; theirs: pattern "**/*.txt", a glob
//     on paths relative to the searched directory).
//
// TailOps runs as shipped: `tailops serve --stdio --sandbox enforce` with
// the file:read scope, Landlock and seccomp applied, and every call
// written to the durable audit log. Every result is checked to be
// complete, so neither side can win by truncating. Each leaf reports
// ops/s (b.N over the timed loop) and the size of one result as JSON
// (result-KB); TailOps' leaves also report sandbox-setup-ms, parsed from
// the server's "sandbox applied" log line.
//
// The replay-* leaves measure the client alone: the same client against a
// stub in this process that answers each call at once, over an OS pipe,
// with the result the named server gave (as the client re-encodes it).
// replay-tailops is the most ops/s TailOps could reach with this client
// whatever its own speed. After all leaves, with -v, the ratio of ops/s
// (TailOps over theirs) per operation is logged against the ≥ 3× target,
// beside that ceiling.
//
// It installs the npm package with `npm ci` when node_modules is missing
// or stale, and fails if node or npm is missing.
func BenchmarkFileTools(b *testing.B) {
	script, version := fsInstallTheirs(b)
	fx := fsMakeFixture(b)
	ours, setup := fsStartOurs(b, fx)
	theirs := fsStartTheirs(b, fx, script)
	nodeVersion, _ := exec.Command("node", "--version").Output()
	b.Logf("%s %s on node %s; sandbox set-up %.3f ms; connect: %s %.0f ms, %s %.0f ms",
		fsBenchPackage, version, strings.TrimSpace(string(nodeVersion)), ms(setup),
		ours.name, ms(ours.connect), theirs.name, ms(theirs.connect))

	rates := map[string]float64{} // "op/leaf" → ops/s of the last (largest) run
	for _, op := range fsOps(fx) {
		b.Run(op.name, func(b *testing.B) {
			for _, s := range []*fsServer{ours, theirs} {
				b.Run(s.name, func(b *testing.B) {
					rates[op.name+"/"+s.name] = fsBench(b, s, op.calls[s.name])
					if s == ours {
						b.ReportMetric(ms(setup), "sandbox-setup-ms")
					}
				})
			}
			for _, s := range []*fsServer{ours, theirs} {
				b.Run("replay-"+s.name, func(b *testing.B) {
					stub := fsReplay(b, s, op.calls[s.name])
					rates[op.name+"/replay-"+s.name] = fsBench(b, stub, op.calls[s.name])
				})
			}
		})
	}
	for _, op := range fsOps(fx) {
		o, t := rates[op.name+"/"+fsOurs], rates[op.name+"/"+fsTheirs]
		if o == 0 || t == 0 {
			continue // filtered out by -bench
		}
		verdict := "met"
		if o/t < 3 {
			verdict = "MISSED"
		}
		ceiling := ""
		if r := rates[op.name+"/replay-"+fsOurs]; r > 0 {
			ceiling = fmt.Sprintf("; the client alone on TailOps' result: %.2f ops/s, so at most %.2f×", r, r/t)
		}
		b.Logf("%-14s tailops %8.2f ops/s, server-filesystem %8.2f ops/s: %.2f× (target ≥ 3×: %s)%s",
			op.name, o, t, o/t, verdict, ceiling)
	}
}

// fsBench makes fsBenchWarmups untimed calls (the first fully checked),
// then b.N timed ones, and reports ops/s and the result size.
func fsBench(b *testing.B, s *fsServer, c fsCall) float64 {
	call := func() *sdk.CallToolResult {
		ctx, cancel := context.WithTimeout(context.Background(), fsBenchTimeout)
		defer cancel()
		res, err := s.cs.CallTool(ctx, &sdk.CallToolParams{Name: c.tool, Arguments: c.args})
		if err != nil {
			b.Fatalf("%s %s: %v\nstderr:\n%s", s.name, c.tool, err, s.stderr)
		}
		if res.IsError {
			b.Fatalf("%s %s: tool error: %s", s.name, c.tool, fsText(res))
		}
		if err := c.check(res); err != nil {
			b.Fatalf("%s %s: incomplete result: %v", s.name, c.tool, err)
		}
		return res
	}
	res := call()
	if c.full != nil {
		if err := c.full(res); err != nil {
			b.Fatalf("%s %s: incomplete result: %v", s.name, c.tool, err)
		}
	}
	raw, err := json.Marshal(res)
	if err != nil {
		b.Fatal(err)
	}
	for range fsBenchWarmups - 1 {
		call()
	}
	b.ResetTimer()
	for range b.N {
		call()
	}
	b.StopTimer()
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "ops/s")
	b.ReportMetric(float64(len(raw))/1e3, "result-KB")
	return rate
}

// fsOps are the three operations, with each server's call and checks.
func fsOps(fx *fsFixture) []fsOp {
	exact := func(res *sdk.CallToolResult) error {
		if got := fsText(res); got != fx.bigText {
			return fmt.Errorf("got %d bytes of text, want the file's %d", len(got), len(fx.bigText))
		}
		return nil
	}
	return []fsOp{
		{name: "read_file", calls: map[string]fsCall{
			fsOurs: {tool: "read_file", args: map[string]any{"path": fx.big, "limit": 2 * fsBenchBigSize}, check: exact,
				full: func(res *sdk.CallToolResult) error {
					var r struct {
						BytesRead int  `json:"bytes_read"`
						EOF       bool `json:"eof"`
					}
					if err := fsStructured(res, &r); err != nil {
						return err
					}
					if r.BytesRead != fsBenchBigSize || !r.EOF {
						return fmt.Errorf("bytes_read %d, eof %v", r.BytesRead, r.EOF)
					}
					return nil
				}},
			fsTheirs: {tool: "read_text_file", args: map[string]any{"path": fx.big}, check: exact},
		}},
		{name: "list_directory", calls: map[string]fsCall{
			// Text: a header line, then one line per entry.
			fsOurs: {tool: "list_directory", args: map[string]any{"path": fx.many, "limit": fsBenchEntries},
				check: func(res *sdk.CallToolResult) error {
					t := fsText(res)
					if want := fmt.Sprintf("%s: %d entries\n", fx.many, fsBenchEntries); !strings.HasPrefix(t, want) {
						return fmt.Errorf("header is not %q", want)
					}
					return fsCountLines(t, "\n", fsBenchEntries+1)
				},
				full: func(res *sdk.CallToolResult) error {
					var r struct {
						Entries   []struct{ Name string }
						Total     int
						Truncated bool
					}
					if err := fsStructured(res, &r); err != nil {
						return err
					}
					if len(r.Entries) != fsBenchEntries || r.Total != fsBenchEntries || r.Truncated {
						return fmt.Errorf("%d entries, total %d, truncated %v", len(r.Entries), r.Total, r.Truncated)
					}
					return nil
				}},
			// Text: "[FILE] name" lines joined by newlines.
			fsTheirs: {tool: "list_directory", args: map[string]any{"path": fx.many},
				check: func(res *sdk.CallToolResult) error { return fsCountLines(fsText(res), "[FILE] ", fsBenchEntries) }},
		}},
		{name: "search_files", calls: map[string]fsCall{
			// max_results is TailOps' cap, 10,000, which equals the number
			// of matches: the search then ends on the last entry of the
			// walk, with stopped_by "max_results".
			fsOurs: {tool: "search_files", args: map[string]any{"path": fx.tree, "name_glob": "*.txt",
				"max_results": fsBenchDirs * fsBenchPerDir, "timeout_seconds": 60},
				check: func(res *sdk.CallToolResult) error {
					t := fsText(res)
					if want := fmt.Sprintf("\n[%d matches;", fsBenchDirs*fsBenchPerDir); !strings.Contains(t, want) {
						return fmt.Errorf("no %q in the result", want)
					}
					return fsCountLines(t, ".txt (file)\n", fsBenchDirs*fsBenchPerDir)
				},
				full: func(res *sdk.CallToolResult) error {
					var r struct {
						Matches    []struct{ Path string }
						DirsWalked int `json:"dirs_walked"`
					}
					if err := fsStructured(res, &r); err != nil {
						return err
					}
					last := filepath.Join(fx.tree, fmt.Sprintf("dir-%03d", fsBenchDirs-1), fmt.Sprintf("file-%03d.txt", fsBenchPerDir-1))
					if len(r.Matches) != fsBenchDirs*fsBenchPerDir || r.DirsWalked != fsBenchDirs+1 || r.Matches[len(r.Matches)-1].Path != last {
						return fmt.Errorf("%d matches, %d directories walked", len(r.Matches), r.DirsWalked)
					}
					return nil
				}},
			// Text: full paths joined by newlines.
			fsTheirs: {tool: "search_files", args: map[string]any{"path": fx.tree, "pattern": "**/*.txt"},
				check: func(res *sdk.CallToolResult) error {
					return fsCountLines(fsText(res)+"\n", ".txt\n", fsBenchDirs*fsBenchPerDir)
				}},
		}},
	}
}

// fsCountLines checks that sep occurs want times in text.
func fsCountLines(text, sep string, want int) error {
	if n := strings.Count(text, sep); n != want {
		return fmt.Errorf("%d × %q, want %d", n, sep, want)
	}
	return nil
}

// fsText is the text of a result's first content block.
func fsText(res *sdk.CallToolResult) string {
	if len(res.Content) == 0 {
		return ""
	}
	if t, ok := res.Content[0].(*sdk.TextContent); ok {
		return t.Text
	}
	return ""
}

// fsStructured decodes a result's structured content into v.
func fsStructured(res *sdk.CallToolResult, v any) error {
	if res.StructuredContent == nil {
		return fmt.Errorf("no structured content")
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// fsMakeFixture writes the files both servers serve.
func fsMakeFixture(b *testing.B) *fsFixture {
	b.Helper()
	root, err := filepath.EvalSymlinks(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	fx := &fsFixture{root: root, big: filepath.Join(root, "big.txt"), many: filepath.Join(root, "many"), tree: filepath.Join(root, "tree")}
	var sb strings.Builder
	for i := 0; sb.Len() < fsBenchBigSize; i++ {
		fmt.Fprintf(&sb, "2026-11-22T12:00:%02d.%06dZ INFO request %d served in %d us, status 200, path /api/v1/items/%d\n",
			i%60, i%1000000, i, 100+i%900, i%4096)
	}
	fx.bigText = sb.String()[:fsBenchBigSize-1] + "\n"
	fsWrite(b, fx.big, fx.bigText)
	fsMkdir(b, fx.many)
	for i := range fsBenchEntries {
		fsWrite(b, filepath.Join(fx.many, fmt.Sprintf("file-%05d.log", i)), "x\n")
	}
	fsMkdir(b, fx.tree)
	content := strings.Repeat("INFO all is well here\n", 9) + "ERROR something broke\n"
	for d := range fsBenchDirs {
		dir := filepath.Join(fx.tree, fmt.Sprintf("dir-%03d", d))
		fsMkdir(b, dir)
		for i := range fsBenchPerDir {
			fsWrite(b, filepath.Join(dir, fmt.Sprintf("file-%03d.txt", i)), content)
		}
	}
	return fx
}

func fsWrite(b *testing.B, path, content string) {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		b.Fatal(err)
	}
}

func fsMkdir(b *testing.B, path string) {
	if err := os.Mkdir(path, 0o755); err != nil {
		b.Fatal(err)
	}
}

// sandboxApplied matches the server's log line after confinement, as
// cmd_sandbox.go writes it with sandbox.Report.String.
var sandboxApplied = regexp.MustCompile(`msg="sandbox applied" report="sandbox (\S+): .* skipped=(\d+) .* in ([^"]+)"`)

// fsStartOurs starts `tailops serve --stdio` with the sandbox enforced
// and returns it with the sandbox set-up time it logged.
func fsStartOurs(b *testing.B, fx *fsFixture) (*fsServer, time.Duration) {
	b.Helper()
	cmd := exec.Command(binPath, "serve", "--stdio", "--stdio-scopes", "file:read", "--sandbox", "enforce",
		"--file-root", fx.root, "--state-dir", b.TempDir())
	s := fsConnect(b, fsOurs, cmd)
	m := sandboxApplied.FindStringSubmatch(s.stderr.String())
	if m == nil {
		b.Fatalf("no \"sandbox applied\" line in tailops' log:\n%s", s.stderr)
	}
	if m[1] != "enforce" || m[2] != "0" {
		b.Fatalf("sandbox not fully enforced (mode %s, skipped %s):\n%s", m[1], m[2], s.stderr)
	}
	d, err := time.ParseDuration(m[3])
	if err != nil {
		b.Fatalf("sandbox set-up time %q: %v", m[3], err)
	}
	return s, d
}

// fsStartTheirs starts the npm server on the fixture root.
func fsStartTheirs(b *testing.B, fx *fsFixture, script string) *fsServer {
	b.Helper()
	return fsConnect(b, fsTheirs, exec.Command("node", script, fx.root))
}

// fsConnect starts cmd and initializes an SDK client session over its
// stdin and stdout. Closing the session (at cleanup) closes the child's
// stdin and waits for it, signalling only that process if it lingers.
func fsConnect(b *testing.B, name string, cmd *exec.Cmd) *fsServer {
	b.Helper()
	s := &fsServer{name: name, stderr: &syncBuffer{}}
	cmd.Stderr = s.stderr
	c := sdk.NewClient(&sdk.Implementation{Name: "tailops-bench-fs", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	cs, err := c.Connect(ctx, &sdk.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, nil)
	if err != nil {
		b.Fatalf("starting %s (%s): %v\nstderr:\n%s", name, strings.Join(cmd.Args, " "), err, s.stderr)
	}
	s.connect, s.cs = time.Since(start), cs
	b.Cleanup(func() { cs.Close() })
	return s
}

// fsReplay records s's result for c and returns a session with a stub
// server that answers every tools/call with it at once: the client's own
// cost for that result. The stub runs in this process and speaks
// newline-delimited JSON-RPC over OS pipes, as a stdio server does; it
// answers initialize with the initialize result s gave, so the client
// negotiates the same protocol version.
func fsReplay(b *testing.B, s *fsServer, c fsCall) *fsServer {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fsBenchTimeout)
	defer cancel()
	res, err := s.cs.CallTool(ctx, &sdk.CallToolParams{Name: c.tool, Arguments: c.args})
	if err != nil {
		b.Fatalf("%s %s: %v", s.name, c.tool, err)
	}
	if res.IsError {
		b.Fatalf("%s %s: tool error: %s", s.name, c.tool, fsText(res))
	}
	result, err := json.Marshal(res)
	if err != nil {
		b.Fatal(err)
	}
	initResult, err := json.Marshal(s.cs.InitializeResult())
	if err != nil {
		b.Fatal(err)
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	respR, respW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer respW.Close()
		defer reqR.Close()
		in := bufio.NewReaderSize(reqR, 64<<10)
		out := bufio.NewWriterSize(respW, 64<<10)
		for {
			line, err := in.ReadBytes('\n')
			if err != nil {
				return // the client closed its end
			}
			var msg struct {
				ID     json.RawMessage `json:"id"`
				Method string          `json:"method"`
			}
			if json.Unmarshal(line, &msg) != nil || msg.ID == nil {
				continue // a notification
			}
			answer := []byte("{}")
			switch msg.Method {
			case "initialize":
				answer = initResult
			case "tools/call":
				answer = result
			}
			fmt.Fprintf(out, `{"jsonrpc":"2.0","id":%s,"result":%s}`+"\n", msg.ID, answer)
			if out.Flush() != nil {
				return
			}
		}
	}()
	stub := &fsServer{name: "replay-" + s.name, stderr: &syncBuffer{}}
	cl := sdk.NewClient(&sdk.Implementation{Name: "tailops-bench-fs", Version: "1"}, nil)
	cs, err := cl.Connect(ctx, &sdk.IOTransport{Reader: respR, Writer: reqW}, nil)
	if err != nil {
		b.Fatalf("connecting to the replay stub: %v", err)
	}
	b.Cleanup(func() {
		cs.Close()
		<-done
	})
	stub.cs = cs
	return stub
}

// fsInstallTheirs makes sure the pinned npm package is installed in
// .ci/bench-fs (npm ci when it is missing or another version) and returns
// the path of its bin script and its version.
func fsInstallTheirs(b *testing.B) (script, version string) {
	b.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Fatalf("BenchmarkFileTools needs %s (Node.js 20 or later with npm) to run %s: %v", tool, fsBenchPackage, err)
		}
	}
	dir, err := filepath.Abs(fsBenchDir)
	if err != nil {
		b.Fatal(err)
	}
	var want struct{ Dependencies map[string]string }
	if err := fsReadJSON(filepath.Join(dir, "package.json"), &want); err != nil {
		b.Fatal(err)
	}
	pinned := want.Dependencies[fsBenchPackage]
	if pinned == "" {
		b.Fatalf("%s/package.json does not pin %s", fsBenchDir, fsBenchPackage)
	}
	pkgDir := filepath.Join(dir, "node_modules", filepath.FromSlash(fsBenchPackage))
	var pkg struct {
		Version string
		Bin     map[string]string
	}
	if err := fsReadJSON(filepath.Join(pkgDir, "package.json"), &pkg); err != nil || pkg.Version != pinned {
		b.Logf("installing %s@%s in %s (npm ci)", fsBenchPackage, pinned, fsBenchDir)
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("npm ci in %s: %v\n%s", fsBenchDir, err, out)
		}
		if err := fsReadJSON(filepath.Join(pkgDir, "package.json"), &pkg); err != nil {
			b.Fatal(err)
		}
	}
	if pkg.Version != pinned {
		b.Fatalf("npm ci installed %s@%s, package.json pins %s", fsBenchPackage, pkg.Version, pinned)
	}
	bin := pkg.Bin["mcp-server-filesystem"]
	if bin == "" {
		b.Fatalf("%s@%s has no mcp-server-filesystem bin entry: %v", fsBenchPackage, pkg.Version, pkg.Bin)
	}
	return filepath.Join(pkgDir, filepath.FromSlash(bin)), pkg.Version
}

func fsReadJSON(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

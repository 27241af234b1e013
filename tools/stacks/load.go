// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/api"
	"go.yaml.in/yaml/v4"
)

// maxComposeFile bounds a compose file and a .env file read from a stack
// directory.
const maxComposeFile = 1 << 20

// envName is a variable name the env argument may set.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// loadInput is what a project is loaded from.
type loadInput struct {
	// name is the stack (compose project) name.
	name string
	// dir is the stack's directory, the project's working directory.
	dir string
	// file is the compose file, in dir.
	file string
	// root is the stack's directory, which every file the project reads
	// must be in (a git stack's checkout, of which dir may be a
	// subdirectory); "" means dir.
	root string
	// env are the call's variables; they win over the .env file's.
	env map[string]string
}

// load reads and resolves a compose project the way compose would, but
// with interpolation and services' environment seeing only the stack's
// .env file and in.env: never this process's environment. It refuses
// what would make compose run other programs or fetch code: build,
// provider, models and remote include; and what would make it read host
// files from outside the stack's directory (includes, extends, env and
// label files), before reading them. The project carries compose's
// labels, as compose's own loader sets them.
func load(ctx context.Context, in loadInput) (*types.Project, error) {
	for k := range in.env {
		if !envName.MatchString(k) {
			return nil, fmt.Errorf("env: %q is not a variable name", k)
		}
	}
	raw, err := readBounded(in.file, false)
	if err != nil {
		return nil, fmt.Errorf("reading the compose file: %w", err)
	}
	root := in.root
	if root == "" {
		root = in.dir
	}
	if err := checkIncludes(raw, in.file, scope{base: in.dir, wd: in.dir}, root, 0); err != nil {
		return nil, err
	}
	env, err := dotEnv(in.dir, root, in.env)
	if err != nil {
		return nil, err
	}
	details := types.ConfigDetails{
		WorkingDir:  in.dir,
		ConfigFiles: []types.ConfigFile{{Filename: in.file, Content: raw}},
		Environment: env,
	}
	p, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName(in.name, true)
		o.ResolvePaths = true
		o.ResourceLoaders = nil // local files only: no git, no OCI
		// env_file and label_file are read below, once checked.
		o.SkipResolveEnvironment = true
		o.SkipResolveLabels = true
	})
	if err != nil {
		return nil, fmt.Errorf("loading the compose file: %w", err)
	}
	for _, name := range sortedKeys(p.Services) {
		if err := hostFiles("service "+name, p.Services[name].ContainerSpec, root); err != nil {
			return nil, err
		}
	}
	if p, err = p.WithServicesEnvironmentResolved(false); err != nil {
		return nil, fmt.Errorf("loading the compose file: %w", err)
	}
	if p, err = p.WithServicesLabelsResolved(false); err != nil {
		return nil, fmt.Errorf("loading the compose file: %w", err)
	}
	labelProject(p)
	return p, nil
}

// labelProject gives p's services compose's labels, as compose's own
// loader does, so docker compose ls/ps see the stack.
func labelProject(p *types.Project) {
	for name, s := range p.Services {
		s.CustomLabels = map[string]string{
			api.ProjectLabel:     p.Name,
			api.ServiceLabel:     name,
			api.VersionLabel:     api.ComposeVersion,
			api.WorkingDirLabel:  p.WorkingDir,
			api.ConfigFilesLabel: strings.Join(p.ComposeFiles, ","),
			api.OneoffLabel:      "False",
		}
		p.Services[name] = s
	}
}

// dotEnv returns the stack's .env variables (none without the file)
// overlaid with call's. ${VAR} in the .env file sees only the call's
// variables and the file's earlier lines. The .env must be a file of the
// stack's directory root, not a symbolic link (to another stack's .env).
func dotEnv(dir, root string, call map[string]string) (map[string]string, error) {
	env := map[string]string{}
	path := filepath.Join(dir, ".env")
	if !inside(path, root) {
		return nil, fmt.Errorf("the stack's .env, or a directory on its path, is a symbolic link leading out of the stack's directory: make it a regular file there")
	}
	b, err := readBounded(path, true)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, errLink):
		return nil, fmt.Errorf("the stack's .env is a symbolic link, which could lead to another stack's secrets: make it a regular file in the stack's directory")
	case err != nil:
		return nil, fmt.Errorf("reading the stack's .env: %w", err)
	default:
		vars, err := dotenv.ParseWithLookup(bytes.NewReader(b), func(k string) (string, bool) {
			v, ok := call[k]
			return v, ok
		})
		if err != nil {
			return nil, fmt.Errorf("parsing the stack's .env: %w", err)
		}
		for k, v := range vars {
			env[k] = v
		}
	}
	for k, v := range call {
		env[k] = v
	}
	return env, nil
}

// errLink is a file read with noLink that is a symbolic link.
var errLink = errors.New("is a symbolic link")

// readBounded reads a regular file of at most maxComposeFile bytes; with
// noLink, one that is not a symbolic link itself (nor replaced by one
// while it is opened).
func readBounded(path string, noLink bool) ([]byte, error) {
	name := filepath.Base(path)
	var lst fs.FileInfo
	if noLink {
		var err error
		if lst, err = os.Lstat(path); err != nil {
			return nil, err
		}
		if lst.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s %w", name, errLink)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	switch {
	case err != nil:
		return nil, err
	case lst != nil && !os.SameFile(lst, st):
		return nil, fmt.Errorf("%s %w", name, errLink)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxComposeFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxComposeFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxComposeFile)
	}
	return b, nil
}

// maxIncludeDepth bounds how deep checkIncludes follows includes.
const maxIncludeDepth = 8

// scope is where compose-go resolves a compose file's relative paths.
type scope struct {
	// base is where its include paths and extends files resolve: the
	// stack's directory for the compose file, an include's
	// project_directory (by default the directory of its first path) for
	// the files it includes.
	base string
	// wd is where its includes' relative project_directory and env_file
	// resolve; "" in an included file, where compose-go resolves them
	// against this process's working directory.
	wd string
}

// composeRefs is what one YAML document of a compose file names that the
// loader reads before the project exists.
type composeRefs struct {
	Include  []any                     `yaml:"include"`
	Services map[string]map[string]any `yaml:"services"`
	Jobs     map[string]map[string]any `yaml:"jobs"`
}

// checkIncludes refuses a compose file (raw, read from file, its paths
// resolving in sc) whose include, or a service's extends, in any of its
// YAML documents (compose-go applies each one's), names anything but a
// local file in the stack's directory root: a remote one compose would
// fetch with git or from a registry, and a local one outside root
// (symbolic links followed), which the loader would read from the host —
// another stack's secrets as an include's env_file or .env,
// /proc/self/environ. Paths holding a variable cannot be checked before
// loading and are refused. Included and extended files are checked in
// turn; one that cannot be read whole (over maxComposeFile) is refused.
func checkIncludes(raw []byte, file string, sc scope, root string, depth int) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var doc composeRefs
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("parsing %s: %w", filepath.Base(file), err)
		}
		if err := doc.check(sc, root, depth); err != nil {
			return err
		}
	}
}

// check checks one document's includes and extends.
func (doc composeRefs) check(sc scope, root string, depth int) error {
	for _, inc := range doc.Include {
		var paths, envFiles []string
		var projectDir string
		switch v := inc.(type) {
		case string:
			paths = []string{v}
		case map[string]any:
			paths, envFiles = strings1(v["path"]), strings1(v["env_file"])
			projectDir, _ = v["project_directory"].(string)
		}
		if len(paths) == 0 {
			return refuse("project", "include", "an include names no path: give each one its compose file")
		}
		if depth >= maxIncludeDepth {
			return refuse("project", "include", fmt.Sprintf("includes nested deeper than %d", maxIncludeDepth))
		}
		for i, ref := range paths {
			path, err := localRef("project", "include", ref, sc.base, root)
			if err != nil {
				return err
			}
			paths[i] = path
		}
		// Where the included files resolve their own paths.
		next := scope{base: filepath.Dir(paths[0])}
		if projectDir != "" {
			dir, err := localRef("project", "include", projectDir, sc.wd, root)
			if err != nil {
				return err
			}
			next.base = dir
			if filepath.IsAbs(projectDir) {
				next.wd = dir
			}
		}
		for _, ref := range envFiles {
			if _, err := localRef("project", "include", ref, sc.wd, root); err != nil {
				return err
			}
		}
		if len(envFiles) == 0 && !inside(filepath.Join(next.base, ".env"), root) {
			return refuse("project", "include", fmt.Sprintf("the .env beside %q (which the loader reads for it) leads outside the stack's directory: make it a regular file there", filepath.Base(paths[0])))
		}
		for _, path := range paths {
			if err := checkRefFile("project", "include", path, next, root, depth); err != nil {
				return err
			}
		}
	}
	for _, group := range []struct {
		kind    string
		entries map[string]map[string]any
	}{{"service", doc.Services}, {"job", doc.Jobs}} {
		for _, name := range sortedKeys(group.entries) {
			ext, ok := group.entries[name]["extends"].(map[string]any)
			if !ok || ext["file"] == nil {
				continue
			}
			what := group.kind + " " + name
			ref, ok := ext["file"].(string)
			if !ok {
				return refuse(what, "extends", "extends.file must be a path")
			}
			path, err := localRef(what, "extends", ref, sc.base, root)
			if err != nil {
				return err
			}
			if depth >= maxIncludeDepth {
				return refuse(what, "extends", fmt.Sprintf("extends nested deeper than %d", maxIncludeDepth))
			}
			// The loader follows the extended file's own extends from its
			// directory. It ignores the file's includes, which are checked
			// all the same, as from there.
			dir := filepath.Dir(path)
			if err := checkRefFile(what, "extends", path, scope{base: dir, wd: dir}, root, depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// localRef resolves ref, a path an include or extends names, from base
// (which "" makes unknown), refusing it unless it is local and in root.
func localRef(what, key, ref, base, root string) (string, error) {
	switch {
	case remote(ref):
		return "", refuse(what, key, fmt.Sprintf("remote %q is not supported: use local files only", ref))
	case strings.Contains(ref, "$"):
		return "", refuse(what, key, fmt.Sprintf("%q holds a variable: name files in the stack's directory plainly", ref))
	}
	path := ref
	if !filepath.IsAbs(path) {
		if base == "" {
			return "", refuse(what, key, fmt.Sprintf("%q is relative in an included file, where compose-go would resolve it from TailOps' own working directory: leave it out, or set it where the stack's compose file includes", ref))
		}
		path = filepath.Join(base, path)
	}
	if !inside(path, root) {
		return "", refuse(what, key, fmt.Sprintf("%q is outside the stack's directory: a stack reads its files from there only", ref))
	}
	return path, nil
}

// checkRefFile reads an included or extended file and checks its own
// includes and extends, which resolve in sc.
func checkRefFile(what, key, path string, sc scope, root string, depth int) error {
	b, err := readBounded(path, false)
	if err != nil {
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err // the path is the stack's own: no need to repeat it
		}
		return refuse(what, key, fmt.Sprintf("%q cannot be checked (%v): include and extend regular files of at most %d bytes in the stack's directory", filepath.Base(path), err, maxComposeFile))
	}
	return checkIncludes(b, path, sc, root, depth+1)
}

// strings1 is a compose value that is a string or a list of strings, as
// a list.
func strings1(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// inside reports whether path lies in dir, as written and, where they
// exist, where their symbolic links lead.
func inside(path, dir string) bool {
	path, dir = filepath.Clean(path), filepath.Clean(dir)
	if !within(path, dir) {
		return false
	}
	realDir := dir
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		realDir = r
	}
	if r, err := filepath.EvalSymlinks(path); err == nil && !within(r, realDir) {
		return false
	}
	return true
}

// remote reports whether a compose resource path is fetched rather than
// read: a URL, an scp-like git address or an OCI reference.
func remote(p string) bool {
	return strings.Contains(p, "://") || strings.HasPrefix(p, "git@") || strings.HasPrefix(p, "oci:") ||
		strings.HasPrefix(p, "github.com/") || strings.HasSuffix(p, ".git")
}

// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
// provider, models and remote include. The project carries compose's
// labels, as compose's own loader sets them.
func load(ctx context.Context, in loadInput) (*types.Project, error) {
	for k := range in.env {
		if !envName.MatchString(k) {
			return nil, fmt.Errorf("env: %q is not a variable name", k)
		}
	}
	raw, err := readBounded(in.file)
	if err != nil {
		return nil, fmt.Errorf("reading the compose file: %w", err)
	}
	root := in.root
	if root == "" {
		root = in.dir
	}
	if err := checkIncludes(raw, in.file, root, 0); err != nil {
		return nil, err
	}
	env, err := dotEnv(in.dir, in.env)
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
	})
	if err != nil {
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
// variables and the file's earlier lines.
func dotEnv(dir string, call map[string]string) (map[string]string, error) {
	env := map[string]string{}
	b, err := readBounded(filepath.Join(dir, ".env"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
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

// readBounded reads a regular file of at most maxComposeFile bytes.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", filepath.Base(path))
	}
	if st.Size() > maxComposeFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", filepath.Base(path), maxComposeFile)
	}
	return os.ReadFile(path)
}

// maxIncludeDepth bounds how deep checkIncludes follows includes.
const maxIncludeDepth = 8

// checkIncludes refuses a compose file (raw, read from file) whose
// include, or a service's extends, names anything but a local file in the
// stack's directory root: a remote one compose would fetch with git or
// from a registry, and a local one outside root (symbolic links
// followed), which the loader would read from the host — another stack's
// secrets as an include's env_file, /proc/self/environ. Paths holding a
// variable cannot be checked before loading and are refused. Local
// includes are checked in turn.
func checkIncludes(raw []byte, file, root string, depth int) error {
	var doc struct {
		Include  []any                     `yaml:"include"`
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("parsing the compose file: %w", err)
	}
	base := filepath.Dir(file)
	local := func(what, key, ref string) (string, error) {
		switch {
		case remote(ref):
			return "", &PolicyError{Service: what, Key: key, Reason: fmt.Sprintf("remote %q is not supported: use local files only", ref)}
		case strings.Contains(ref, "$"):
			return "", &PolicyError{Service: what, Key: key, Reason: fmt.Sprintf("%q holds a variable: name files in the stack's directory plainly", ref)}
		}
		path := ref
		if !filepath.IsAbs(path) {
			path = filepath.Join(base, path)
		}
		if !inside(path, root) {
			return "", &PolicyError{Service: what, Key: key, Reason: fmt.Sprintf("%q is outside the stack's directory: a stack reads its files from there only", ref)}
		}
		return path, nil
	}
	for _, inc := range doc.Include {
		var paths, others []string
		switch v := inc.(type) {
		case string:
			paths = []string{v}
		case map[string]any:
			paths = strings1(v["path"])
			others = append(strings1(v["env_file"]), strings1(v["project_directory"])...)
		}
		for _, ref := range others {
			if _, err := local("project", "include", ref); err != nil {
				return err
			}
		}
		for _, ref := range paths {
			path, err := local("project", "include", ref)
			if err != nil {
				return err
			}
			if depth >= maxIncludeDepth {
				return &PolicyError{Service: "project", Key: "include", Reason: fmt.Sprintf("includes nested deeper than %d", maxIncludeDepth)}
			}
			b, err := readBounded(path)
			if err != nil {
				continue // the loader says what is wrong with it
			}
			if err := checkIncludes(b, path, root, depth+1); err != nil {
				return err
			}
		}
	}
	for name, s := range doc.Services {
		if ext, ok := s["extends"].(map[string]any); ok {
			if f, ok := ext["file"].(string); ok {
				path, err := local("service "+name, "extends", f)
				if err != nil {
					return err
				}
				// The loader follows the extended file's own extends.
				if depth >= maxIncludeDepth {
					return &PolicyError{Service: "service " + name, Key: "extends", Reason: fmt.Sprintf("extends nested deeper than %d", maxIncludeDepth)}
				}
				if b, err := readBounded(path); err == nil {
					if err := checkIncludes(b, path, root, depth+1); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
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

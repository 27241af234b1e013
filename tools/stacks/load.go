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
	if err := refuseRemote(raw); err != nil {
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

// refuseRemote refuses a compose file whose include (or a service's
// extends) names anything but a local file: compose would fetch it with
// git or from a registry.
func refuseRemote(raw []byte) error {
	var doc struct {
		Include  []any                     `yaml:"include"`
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("parsing the compose file: %w", err)
	}
	for _, inc := range doc.Include {
		var paths []string
		switch v := inc.(type) {
		case string:
			paths = []string{v}
		case map[string]any:
			switch p := v["path"].(type) {
			case string:
				paths = []string{p}
			case []any:
				for _, e := range p {
					if s, ok := e.(string); ok {
						paths = append(paths, s)
					}
				}
			}
		}
		for _, p := range paths {
			if remote(p) {
				return &PolicyError{Service: "project", Key: "include", Reason: fmt.Sprintf("remote include %q is not supported: include local files only", p)}
			}
		}
	}
	for name, s := range doc.Services {
		if ext, ok := s["extends"].(map[string]any); ok {
			if f, ok := ext["file"].(string); ok && remote(f) {
				return &PolicyError{Service: "service " + name, Key: "extends", Reason: fmt.Sprintf("remote file %q is not supported", f)}
			}
		}
	}
	return nil
}

// remote reports whether a compose resource path is fetched rather than
// read: a URL, an scp-like git address or an OCI reference.
func remote(p string) bool {
	return strings.Contains(p, "://") || strings.HasPrefix(p, "git@") || strings.HasPrefix(p, "oci:") ||
		strings.HasPrefix(p, "github.com/") || strings.HasSuffix(p, ".git")
}

// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/tailops/tailops/gitsource"
	"github.com/tailops/tailops/tools"
)

// defaultComposePath is the compose file's path in a repository when
// deploy_stack names none.
const defaultComposePath = "compose.yaml"

// remoteTimeout bounds get_stack_status's look at the remote.
const remoteTimeout = 10 * time.Second

// gitSource is where a git stack's compose file came from.
type gitSource struct {
	repo, ref, path string
	res             gitsource.Result
}

// gitDir is where stack name's checkouts are kept, one per commit:
// STATE_DIR/stacks/NAME/git/COMMIT, never under a stack root.
func (t *Toolset) gitDir(name string) string { return filepath.Join(t.hist.dir, name, "git") }

// composePath checks the compose file's path in a repository: relative,
// inside the checkout ("compose.yaml" when empty).
func composePath(p string) (string, error) {
	if p == "" {
		return defaultComposePath, nil
	}
	if filepath.IsAbs(p) || strings.Contains(p, `\`) || !filepath.IsLocal(p) || strings.HasPrefix(p, ".git/") || p == ".git" {
		return "", tools.ArgErrorf("path", "%q: the compose file's path must be relative and inside the repository (no .., no absolute path, not in .git)", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", tools.ArgErrorf("path", "%q: the compose file's path must not contain ..", p)
		}
	}
	return filepath.Clean(p), nil
}

// checkGit checks a git source before anything is fetched or created:
// git sources are configured, the name is not a stack root's, the path
// stays in the checkout and the repository's host is allowed.
func (t *Toolset) checkGit(name, repo, path string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	if len(t.cfg.Git.Hosts) == 0 {
		return "", tools.ArgErrorf("repo", "git sources are off: the owner lists the git servers deploy_stack may fetch from with --git-host (config key git_hosts)")
	}
	if t.hist.dir == "" {
		return "", errors.New("git sources need a state directory (--state-dir) to keep the checkouts in")
	}
	p, err := composePath(path)
	if err != nil {
		return "", err
	}
	if s, ok, err := findStack(t.cfg.StackRoots, name); err != nil {
		return "", err
	} else if ok {
		return "", tools.ArgErrorf("name", "stack %s is in the stack root %s: deploy it without repo, or give the git stack another name", name, s.root)
	}
	if err := t.cfg.Git.Check(repo); err != nil {
		return "", tools.ArgErrorf("repo", "%v", err)
	}
	return p, nil
}

// fetch checks repo out at ref into gitDir(name)/COMMIT (see
// keepCheckout when that commit is there already) and returns the stack
// it holds.
func (t *Toolset) fetch(ctx context.Context, name, repo, ref, path string) (diskStack, gitSource, error) {
	src := gitSource{repo: repo, ref: ref, path: path}
	base := t.gitDir(name)
	if err := os.MkdirAll(base, 0o700); err != nil {
		return diskStack{}, src, fmt.Errorf("creating the checkouts' directory of %s: %w", name, err)
	}
	tmp, err := os.MkdirTemp(base, ".fetch-")
	if err != nil {
		return diskStack{}, src, fmt.Errorf("creating a checkout directory for %s: %w", name, err)
	}
	src.res, err = gitsource.Fetch(ctx, t.cfg.Git, gitsource.Request{URL: repo, Ref: ref, Dir: tmp})
	if err != nil {
		os.RemoveAll(tmp)
		return diskStack{}, src, fmt.Errorf("stack %s: %w", name, err)
	}
	if src.ref == "" && strings.HasPrefix(src.res.Ref, "refs/") {
		src.ref = src.res.Ref
	}
	dir := filepath.Join(base, src.res.Commit)
	if err := t.keepCheckout(ctx, name, tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return diskStack{}, src, fmt.Errorf("keeping the checkout of %s at %s: %w", name, src.res.Commit, err)
	}
	s := gitStackAt(name, dir, path)
	st, err := os.Lstat(s.file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, src, tools.ArgErrorf("path", "%s has no file %s at %s", gitsource.Redact(repo), path, src.res.Commit)
	case err != nil:
		return s, src, fmt.Errorf("reading %s: %w", s.file, err)
	case !st.Mode().IsRegular():
		return s, src, tools.ArgErrorf("path", "%s at %s: %s is not a regular file", gitsource.Redact(repo), src.res.Commit, path)
	}
	return s, src, nil
}

// keepCheckout makes tmp, a checkout fetched and checked just now, the
// commit's checkout dir. One already there is never used as it is: a
// container that bind-mounts it (the policy allows a stack's own
// directory) may have rewritten its compose file or planted an .env, and
// a deploy would load that as "commit X". It is replaced by tmp,
// atomically (RENAME_EXCHANGE), when no container of the stack runs from
// it; while some do (their mounts hold it: replacing or deleting it would
// pull their files from under them), it is kept only if it still is
// tmp, file for file. Under the stack's lock, so that no deploy creates
// containers from it meanwhile.
func (t *Toolset) keepCheckout(ctx context.Context, name, tmp, dir string) error {
	err := os.Rename(tmp, dir)
	if err == nil || !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		return err
	}
	defer t.lockStack(name)()
	inUse, err := t.runsFrom(ctx, name, dir)
	if err != nil {
		return err
	}
	if !inUse {
		if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE); err != nil {
			return fmt.Errorf("replacing the old checkout: %w", err)
		}
		os.RemoveAll(tmp) // the old checkout now
		return nil
	}
	changed, err := treeDiff(tmp, dir)
	if err != nil {
		return fmt.Errorf("comparing the checkout with the commit: %w", err)
	}
	if changed != "" {
		return fmt.Errorf("the checkout, which the stack's containers run from, is no longer the commit: %s differs (written by a container that bind-mounts it? "+
			"keep what containers write in volumes), and deploying it would load what is there now; it is left as it is for them. "+
			"Deploy another commit, or remove the stack (remove_stack) and deploy it again", changed)
	}
	os.RemoveAll(tmp)
	// In use again: pruneCheckouts leaves it for checkoutGrace.
	now := time.Now()
	os.Chtimes(dir, now, now)
	return nil
}

// runsFrom reports whether a container of stack name was created in
// dir or beneath it (compose's working_dir label).
func (t *Toolset) runsFrom(ctx context.Context, name, dir string) (bool, error) {
	projects, err := t.projectContainers(ctx, name)
	if err != nil {
		return false, err
	}
	for _, c := range projects[name] {
		if within(filepath.Clean(c.Labels[api.WorkingDirLabel]), dir) {
			return true, nil
		}
	}
	return false, nil
}

// treeDiff returns the first path of directory got, or of want, at
// which they differ — in one only, of another type, executable or not,
// of other content or link target — leaving out each one's top-level
// .git, and empty directories in got only (Docker makes a bind mount's
// missing source); "" when they are the same. want is walked first, so
// that what got holds besides (as many files as a container wrote) is
// never listed whole.
func treeDiff(want, got string) (string, error) {
	files := map[string]fs.FileInfo{}
	// walk calls same for root's paths until it reports one differs.
	walk := func(root string, same func(rel string, fi fs.FileInfo) (bool, error)) (string, error) {
		var differs string
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil || rel == "." {
				return err
			}
			if rel == ".git" {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			ok, err := same(rel, fi)
			if err == nil && !ok {
				differs = rel
				return fs.SkipAll
			}
			return err
		})
		return differs, err
	}
	if _, err := walk(want, func(rel string, fi fs.FileInfo) (bool, error) { files[rel] = fi; return true, nil }); err != nil {
		return "", err
	}
	seen := 0
	differs, err := walk(got, func(rel string, fi fs.FileInfo) (bool, error) {
		w, ok := files[rel]
		if !ok && fi.IsDir() {
			ents, err := os.ReadDir(filepath.Join(got, rel))
			return len(ents) == 0, err
		}
		if !ok || w.Mode().Type() != fi.Mode().Type() {
			return false, nil
		}
		seen++
		switch {
		case fi.Mode().IsRegular():
			if w.Mode()&0o111 != fi.Mode()&0o111 || w.Size() != fi.Size() {
				return false, nil
			}
			return sameContent(filepath.Join(want, rel), filepath.Join(got, rel))
		case fi.Mode().Type() == fs.ModeSymlink:
			l1, err1 := os.Readlink(filepath.Join(want, rel))
			l2, err2 := os.Readlink(filepath.Join(got, rel))
			return l1 == l2, errors.Join(err1, err2)
		}
		return true, nil
	})
	if err != nil || differs != "" || seen == len(files) {
		return differs, err
	}
	for _, rel := range slices.Sorted(maps.Keys(files)) {
		if _, err := os.Lstat(filepath.Join(got, rel)); err != nil {
			return rel, nil
		}
	}
	return "", nil
}

// sameContent reports whether files a and b hold the same bytes.
func sameContent(a, b string) (bool, error) {
	sum := func(p string) ([]byte, error) {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return nil, err
		}
		return h.Sum(nil), nil
	}
	x, err := sum(a)
	if err != nil {
		return false, err
	}
	y, err := sum(b)
	return bytes.Equal(x, y), err
}

// gitStackAt is the stack of a checkout: its directory (the bind mounts'
// own root) is the checkout, its working directory the compose file's.
func gitStackAt(name, checkout, path string) diskStack {
	return diskStack{name: name, root: checkout, dir: checkout, file: filepath.Join(checkout, path)}
}

// prepareGit fetches a git stack and loads and checks it as prepare does
// a stack root's: nothing is created on the engine before this passes.
func (t *Toolset) prepareGit(ctx context.Context, name, repo, ref, path string, env map[string]string) (diskStack, gitSource, *types.Project, error) {
	p, err := t.checkGit(name, repo, path)
	if err != nil {
		return diskStack{}, gitSource{}, nil, err
	}
	s, src, err := t.fetch(ctx, name, repo, ref, p)
	if err != nil {
		return s, src, nil, err
	}
	proj, err := load(ctx, loadInput{name: name, dir: filepath.Dir(s.file), file: s.file, env: env, root: s.root})
	if err != nil {
		return s, src, nil, fmt.Errorf("stack %s (%s at %s): %w", name, gitsource.Redact(repo), src.res.Commit, err)
	}
	if err := t.checker(s).check(proj); err != nil {
		return s, src, nil, fmt.Errorf("stack %s is refused by its policy: %w", name, err)
	}
	return s, src, proj, nil
}

// record fills a deployment's git fields.
func (src gitSource) record(d *Deployment) {
	d.Repo, d.Ref, d.Commit, d.RepoPath = src.repo, src.ref, src.res.Commit, src.path
	d.Source = src.repo
}

// gitDeployed returns the stack of name's last good deployment when that
// came from git: ok is false for a stack root's stack or one never
// deployed.
func (t *Toolset) gitDeployed(name string) (diskStack, Deployment, bool, error) {
	d, ok, err := t.lastGood(name)
	if err != nil || !ok || d.Repo == "" {
		return diskStack{}, d, false, err
	}
	return t.stackOf(name, d), d, true, nil
}

// stackFor is the stack deployment d was made from: its checkout for a
// git deployment, else s.
func (t *Toolset) stackFor(s diskStack, d Deployment) diskStack {
	if d.Repo == "" {
		return s
	}
	return t.stackOf(s.name, d)
}

// stackOf is the stack a git deployment was made from (its checkout).
func (t *Toolset) stackOf(name string, d Deployment) diskStack {
	return gitStackAt(name, filepath.Join(t.gitDir(name), d.Commit), cmp.Or(d.RepoPath, defaultComposePath))
}

// managedStack is managedBy, then the git stacks: a project is a
// managed git stack when its last good deployment came from git and
// every container was created in one of its checkouts. git is that
// deployment, nil for a stack root's stack.
func (t *Toolset) managedStack(disk map[string]diskStack, name string, cs []container.Summary) (s diskStack, git *Deployment, ok bool) {
	if s, ok := managedBy(disk, name, cs); ok {
		return s, nil, true
	}
	if _, found := disk[name]; found || !validName(name) || len(cs) == 0 {
		return diskStack{}, nil, false
	}
	wds := make([]string, 0, len(cs))
	for _, c := range cs {
		wds = append(wds, c.Labels[api.WorkingDirLabel])
	}
	if !t.inGitDir(name, wds) {
		return diskStack{}, nil, false
	}
	gs, d, ok, err := t.gitDeployed(name)
	if err != nil || !ok {
		return diskStack{}, nil, false
	}
	return gs, &d, true
}

// inGitDir reports whether every container was created in one of name's
// checkouts (compose's working_dir label).
func (t *Toolset) inGitDir(name string, workingDirs []string) bool {
	if t.hist.dir == "" || len(workingDirs) == 0 {
		return false
	}
	base := t.gitDir(name) + string(filepath.Separator)
	for _, wd := range workingDirs {
		if !strings.HasPrefix(filepath.Clean(wd)+string(filepath.Separator), base) {
			return false
		}
	}
	return true
}

// remoteMoved asks the remote what the deployed ref names now; an error
// is returned as a note for the status, not a failure.
func (t *Toolset) remoteMoved(ctx context.Context, d Deployment) (commit string, moved bool, note string) {
	cfg := t.cfg.Git
	cfg.Timeout = remoteTimeout
	c, err := gitsource.Remote(ctx, cfg, d.Repo, d.Ref)
	if err != nil {
		return "", false, fmt.Sprintf("could not ask the remote whether it moved: %v", err)
	}
	return c, c != d.Commit, ""
}

// checkoutGrace is how long pruneCheckouts keeps a checkout that no
// history entry refers to: the one a call fetched while it plans, waits
// for approval and runs.
const checkoutGrace = time.Hour

// pruneCheckouts deletes name's checkouts that no entry of its history
// (the last maxHistory) refers to, and interrupted fetches, once unused
// for checkoutGrace: those of deployments that fell off the history, of
// plans never approved, of fetches cut short. Every checkout a history
// entry names stays, so rollback_stack can deploy it again, after
// remove_stack too. It reports what it deleted.
func (t *Toolset) pruneCheckouts(name string) ([]string, error) {
	if t.hist.dir == "" {
		return nil, nil
	}
	ds, err := t.hist.list(name)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, d := range ds {
		if d.Commit != "" {
			keep[d.Commit] = true
		}
	}
	base := t.gitDir(name)
	entries, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the checkouts of %s: %w", name, err)
	}
	var deleted []string
	var errs []error
	for _, e := range entries {
		if keep[e.Name()] {
			continue
		}
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < checkoutGrace {
			continue
		}
		if err := os.RemoveAll(filepath.Join(base, e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("deleting the checkout %s of %s: %w", e.Name(), name, err))
			continue
		}
		deleted = append(deleted, e.Name())
	}
	return deleted, errors.Join(errs...)
}

// prune runs pruneCheckouts after a change to stack name, logging what
// it deleted and why it could not: a checkout left behind never fails
// the change.
func (t *Toolset) prune(name string) {
	deleted, err := t.pruneCheckouts(name)
	if len(deleted) > 0 {
		t.log.Info("stacks: deleted old checkouts", slog.String("stack", name), slog.Any("checkouts", deleted))
	}
	if err != nil {
		t.log.Warn("stacks: deleting old checkouts", slog.String("stack", name), slog.Any("error", err))
	}
}

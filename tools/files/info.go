// SPDX-License-Identifier: Apache-2.0

package files

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tailops/tailops/tools"
)

type getFileInfoArgs struct {
	Path string `json:"path" jsonschema_description:"File, directory or symlink: absolute (inside a file root) or relative to the first root. A symlink is described itself, not followed."`
}

type fileInfoResult struct {
	Path          string `json:"path" jsonschema_description:"The path, as given."`
	Type          string `json:"type" jsonschema:"enum=file,enum=dir,enum=symlink,enum=other" jsonschema_description:"File type."`
	Size          int64  `json:"size" jsonschema_description:"Size in bytes."`
	Mode          string `json:"mode" jsonschema_description:"Permission bits in octal."`
	UID           uint32 `json:"uid" jsonschema_description:"Owner user ID."`
	GID           uint32 `json:"gid" jsonschema_description:"Owner group ID."`
	Links         uint64 `json:"links" jsonschema_description:"Hard link count; the content tools refuse regular files with more than one."`
	MTime         string `json:"mtime" jsonschema_description:"Modification time, RFC 3339, UTC."`
	SymlinkTarget string `json:"symlink_target,omitempty" jsonschema_description:"For a symlink: its target when it stays inside the roots, else \"outside roots\"."`
	IsText        *bool  `json:"is_text,omitempty" jsonschema_description:"For a readable regular file: whether its first 8 KiB look like UTF-8 text."`
}

func (fs *fileSystem) getFileInfoSpec() tools.Spec {
	return fileTool(fs, "get_file_info", "Get file info",
		"Describe a file, directory or symlink inside the file roots: type, size, mode, owner, link count, modification time, symlink target (only when it stays inside the roots) and whether it looks like text.",
		tools.RiskModerate, fs.getFileInfo, renderInfo)
}

func (fs *fileSystem) getFileInfo(_ context.Context, a *getFileInfoArgs) (*fileInfoResult, error) {
	if err := checkPathArg(a.Path); err != nil {
		return nil, err
	}
	dir, base, err := fs.openParent(a.Path)
	if err != nil {
		return nil, err
	}
	defer dir.close()

	st := dir.st
	if base != "" {
		if err := unix.Fstatat(dir.fd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, fs.openError(a.Path, err)
		}
		if err := fs.guardStat(a.Path, &st); err != nil {
			return nil, err
		}
	}
	res := &fileInfoResult{
		Path:  a.Path,
		Type:  fileType(st.Mode),
		Size:  st.Size,
		Mode:  modeString(st.Mode),
		UID:   st.Uid,
		GID:   st.Gid,
		Links: uint64(st.Nlink),
		MTime: mtimeString(&st),
	}
	switch {
	case res.Type == "symlink":
		res.SymlinkTarget = reasonOutside
		if target, err := readlinkat(dir, base); err == nil && fs.symlinkInside(a.Path, dir.rel, target) {
			res.SymlinkTarget = target
		}
	case res.Type == "file" && base != "":
		if f, err := fs.openChild(dir, base, openFile); err == nil {
			if f.st.Ino == st.Ino && f.st.Dev == st.Dev && fs.contentPolicy(a.Path, f) == nil {
				if text, err := fs.sniffText(f); err == nil {
					res.IsText = &text
				}
			}
			f.close()
		}
	}
	return res, nil
}

func readlinkat(dir *node, name string) (string, error) {
	buf := make([]byte, pathMax)
	n, err := unix.Readlinkat(dir.fd, name, buf)
	if err != nil {
		return "", fmt.Errorf("reading symlink: %w", err)
	}
	return string(buf[:n]), nil
}

func renderInfo(r *fileInfoResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s, %d bytes, mode %s, uid %d, gid %d, %d link(s), modified %s",
		r.Path, r.Type, r.Size, r.Mode, r.UID, r.GID, r.Links, r.MTime)
	if r.SymlinkTarget != "" {
		fmt.Fprintf(&b, ", -> %s", r.SymlinkTarget)
	}
	if r.IsText != nil {
		if *r.IsText {
			b.WriteString(", text")
		} else {
			b.WriteString(", binary")
		}
	}
	b.WriteByte('\n')
	return b.String()
}

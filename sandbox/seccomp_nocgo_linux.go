// SPDX-License-Identifier: Apache-2.0

//go:build linux && !cgo

package sandbox

import "errors"

// seccompSupport reports that this build has no seccomp: libseccomp
// needs cgo.
func seccompSupport() (bool, string) {
	return false, "this binary was built without cgo, so it cannot use libseccomp (rebuild with CGO_ENABLED=1)"
}

// syscallKnown accepts every name: without libseccomp there is no table
// to check against, and no filter is loaded.
func syscallKnown(string) bool { return true }

func loadSeccomp(*Policy) error {
	return errors.New("loading seccomp filter: built without cgo")
}

func loadMPTCPFilter() error {
	return errors.New("loading seccomp filter: built without cgo")
}

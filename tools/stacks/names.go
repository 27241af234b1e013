// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"regexp"

	"github.com/tailops/tailops/tools"
)

// stackName is a compose project name as compose itself accepts one
// (lower-case letters, digits, '-' and '_', starting with a letter or a
// digit): no '/', no '.', no leading '-', so a name can never leave a
// stack root or the state directory, nor be read as an option.
var stackName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// maxStackName bounds a stack name (a directory name, and the prefix of
// every container name compose derives from it).
const maxStackName = 63

// validName reports whether name may name a stack.
func validName(name string) bool {
	return len(name) <= maxStackName && stackName.MatchString(name)
}

// checkName returns an argument error for a name that cannot name a stack.
func checkName(name string) error {
	if !validName(name) {
		return tools.ArgErrorf("name", "must be a compose project name: lower-case letters, digits, '-' and '_', starting with a letter or a digit, at most %d characters; got %q", maxStackName, name)
	}
	return nil
}

// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// PolkitRuleFile is where Debian's (and most distributions') polkit reads
// the rule `tailops polkit-rule` writes.
const PolkitRuleFile = "/etc/polkit-1/rules.d/50-tailops.rules"

// PolkitActions are the polkit actions PackageKit checks for
// install_package and upgrade_packages: refreshing the lists, installing
// trusted packages, updating them. Untrusted installs, removals,
// downgrades and reinstalls are not among them.
var PolkitActions = []string{actionRefresh, actionInstall, actionUpdate}

// validUser is a user name polkit's subject.user can hold, and that is
// safe inside the rule's JavaScript string.
var validUser = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}\$?$`)

// PolkitRule returns the polkit rule (JavaScript) that lets user refresh
// the package lists, install trusted packages and update them through
// PackageKit (PolkitActions), and nothing else.
func PolkitRule(user string) (string, error) {
	if !validUser.MatchString(user) {
		return "", fmt.Errorf("user %q is not a valid user name", user)
	}
	u, _ := json.Marshal(user)
	a, _ := json.Marshal(PolkitActions)
	return fmt.Sprintf(`// TailOps: let %s refresh the package lists, install trusted packages and
// upgrade them through PackageKit (install_package, upgrade_packages).
// Untrusted packages, removals and downgrades stay refused.
polkit.addRule(function(action, subject) {
    if (subject.user == %s && %s.indexOf(action.id) >= 0) {
        return polkit.Result.YES;
    }
    return polkit.Result.NOT_HANDLED;
});
`, user, u, a), nil
}

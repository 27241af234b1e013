// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/tailops/tailops/internal/sysbus"
)

// DefaultBusAddress is the system bus, where PackageKit answers.
const DefaultBusAddress = sysbus.DefaultAddress

// PackageKit's names on the bus.
const (
	pkName   = "org.freedesktop.PackageKit"
	pkPath   = dbus.ObjectPath("/org/freedesktop/PackageKit")
	pkIface  = "org.freedesktop.PackageKit"
	pkTxn    = "org.freedesktop.PackageKit.Transaction"
	propsIfc = "org.freedesktop.DBus.Properties"
)

// PackageKit's bitfields (pk-bitfield.h: bit 1<<enum) and enums
// (pk-enum.h), as libpackagekit-glib2 1.2 numbers them.
const (
	filterNone       uint64 = 1 << 1
	flagOnlyTrusted  uint64 = 1 << 1
	infoInstalled    uint32 = 1
	infoAvailable    uint32 = 2
	infoBlocked      uint32 = 9
	exitSuccess      uint32 = 1
	percentUnknown   uint32 = 101
	errNotAuthorized uint32 = 48
)

// pkErrors are PackageKit's error codes (PkErrorEnum) by number.
var pkErrors = []string{
	"unknown", "out-of-memory", "no-network", "not-supported", "internal-error", "gpg-failure", "package-id-invalid",
	"package-not-installed", "package-not-found", "package-already-installed", "package-download-failed", "group-not-found",
	"group-list-invalid", "dep-resolution-failed", "filter-invalid", "create-thread-failed", "transaction-error",
	"transaction-cancelled", "no-cache", "repo-not-found", "cannot-remove-system-package", "process-kill",
	"failed-initialization", "failed-finalise", "failed-config-parsing", "cannot-cancel", "cannot-get-lock",
	"no-packages-to-update", "cannot-write-repo-config", "local-install-failed", "bad-gpg-signature",
	"missing-gpg-signature", "cannot-install-source-package", "repo-configuration-error", "no-license-agreement",
	"file-conflicts", "package-conflicts", "repo-not-available", "invalid-package-file", "package-install-blocked",
	"package-corrupt", "all-packages-already-installed", "file-not-found", "no-more-mirrors-to-try",
	"no-distro-upgrade-data", "incompatible-architecture", "no-space-on-device", "media-change-required",
	"not-authorized", "update-not-found", "cannot-install-repo-unsigned", "cannot-update-repo-unsigned",
	"cannot-get-filelist", "cannot-get-requires", "cannot-disable-repository", "restricted-download",
	"package-failed-to-configure", "package-failed-to-build", "package-failed-to-install", "package-failed-to-remove",
	"failed-due-to-running-process", "package-database-changed", "provide-type-not-supported", "install-root-invalid",
	"cannot-fetch-sources", "cancelled-priority", "unfinished-transaction", "lock-required", "repo-already-set",
}

// pkExits are a transaction's exit codes (PkExitEnum) by number.
var pkExits = []string{
	"unknown", "success", "failed", "cancelled", "key-required", "eula-required", "killed", "media-change-required",
	"need-untrusted", "cancelled-priority", "skip-transaction", "repair-required",
}

// pkStatuses are a transaction's statuses (PkStatusEnum) by number, as
// progress messages.
var pkStatuses = []string{
	"unknown", "waiting", "setting up", "running", "querying", "getting information", "removing packages",
	"refreshing the package lists", "downloading packages", "installing packages", "updating packages", "cleaning up",
	"obsoleting packages", "resolving dependencies", "checking signatures", "testing changes", "committing changes",
	"requesting data", "finished", "cancelling", "downloading repository information", "downloading the list of packages",
	"downloading file lists", "downloading lists of changes", "downloading groups", "downloading update information",
	"repackaging files", "loading the cache", "scanning applications", "generating package lists",
	"waiting for the package manager lock", "waiting for authentication", "updating running applications",
	"checking applications in use", "checking libraries in use", "copying files", "running hooks",
}

// enumName returns names[n], or "unknown (n)".
func enumName(names []string, n uint32) string {
	if int(n) < len(names) {
		return names[n]
	}
	return "unknown (" + strconv.FormatUint(uint64(n), 10) + ")"
}

// pkPackage is one Package signal: what PackageKit says of a package.
type pkPackage struct {
	Info uint32
	ID   string
}

// idParts splits PackageKit's package id, name;version;arch;data; ok is
// false when it does not have four parts.
func idParts(id string) (name, version, arch, data string, ok bool) {
	f := strings.Split(id, ";")
	if len(f) != 4 {
		return "", "", "", "", false
	}
	return f[0], f[1], f[2], f[3], true
}

// pkClient talks to PackageKit on the system bus, one connection per tool
// call (calls are rare and long; nothing is kept between them).
type pkClient struct {
	addr string
}

// connect opens an authenticated connection to the bus.
func (c *pkClient) connect() (*dbus.Conn, error) {
	conn, err := sysbus.Dial(c.addr)
	if err != nil {
		return nil, sysbus.Unreachable(c.addr, err)
	}
	return conn, nil
}

// ErrBusUnreachable is the cause of every tool error that comes from not
// reaching the system bus.
var ErrBusUnreachable = sysbus.ErrUnreachable

// ErrNoPackageKit is the cause of the tool error when PackageKit is not on
// the bus.
var ErrNoPackageKit = errors.New("PackageKit is not on the system bus")

// callError describes an error of a method call to PackageKit: above all,
// PackageKit missing from the bus.
func callError(err error, doing string) error {
	var de dbus.Error
	if errors.As(err, &de) {
		switch de.Name {
		case "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner":
			return fmt.Errorf("%w (%s): install it, `apt install packagekit` on Debian and Ubuntu "+
				"(dnf install PackageKit on Fedora), or on NixOS set services.packagekit.enable = true; "+
				"the bus starts it on demand, then call again", ErrNoPackageKit, strings.Join(sysbus.ErrorStrings(de.Body), "; "))
		case "org.freedesktop.DBus.Error.AccessDenied":
			return fmt.Errorf("%s: the system bus refused the call (%s): its policy for org.freedesktop.PackageKit "+
				"(/etc/dbus-1/system.d/org.freedesktop.PackageKit.conf) must let this uid talk to it", doing, strings.Join(sysbus.ErrorStrings(de.Body), "; "))
		}
		return fmt.Errorf("%s: PackageKit answered %s: %s", doing, de.Name, strings.Join(sysbus.ErrorStrings(de.Body), "; "))
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// role is a PackageKit transaction's role: the method run on it, its
// arguments, and what it is for people and for polkit.
type role struct {
	method string
	args   []any
	// doing says what the transaction does, for errors ("installing x").
	doing string
	// action is the polkit action PackageKit checks for it, "" for none.
	action string
}

// progressFunc receives a transaction's progress: PackageKit's percentage
// (0 to 100) and what it is doing.
type progressFunc func(percent float64, status string)

// txResult is what a finished transaction said.
type txResult struct {
	Packages []pkPackage
}

// TransactionError is a PackageKit transaction that failed: its exit, and
// PackageKit's error code and details when it sent them.
type TransactionError struct {
	// Doing says what the transaction did ("installing nginx").
	Doing string
	// Exit is the transaction's exit (failed, cancelled…).
	Exit string
	// Code is PackageKit's error code (package-not-found…), "" when none came.
	Code string
	// Details are PackageKit's words on it.
	Details string
	// Action is the polkit action the transaction needed.
	Action string
}

// Error says what failed and what to do about it.
func (e *TransactionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: PackageKit's transaction ended %s", e.Doing, e.Exit)
	if e.Code != "" {
		fmt.Fprintf(&b, " with error %s", e.Code)
	}
	if d := strings.TrimSpace(e.Details); d != "" {
		fmt.Fprintf(&b, ": %s", clipText(d, 2000))
	}
	if h := e.hint(); h != "" {
		b.WriteString("; ")
		b.WriteString(h)
	}
	return b.String()
}

// hint is what to do about the error.
func (e *TransactionError) hint() string {
	switch e.Code {
	case "not-authorized":
		return fmt.Sprintf("polkit did not authorize uid %d for %s: run `tailops polkit-rule --user USER` and install its output as %s "+
			"(on NixOS, add the rule to security.polkit.extraConfig), then call again", os.Getuid(), e.Action, PolkitRuleFile)
	case "package-not-found":
		return "no package of that name (and version) is in the configured apt sources: check the spelling, or add the source that has it"
	case "dep-resolution-failed", "package-conflicts", "file-conflicts":
		return "apt could not find a consistent set of packages; the details name the packages in the way"
	case "cannot-get-lock", "lock-required", "failed-initialization":
		return "another package manager (apt, dpkg, unattended-upgrades) may hold its lock: call again when it is done"
	case "no-network", "package-download-failed", "repo-not-available", "no-more-mirrors-to-try", "cannot-fetch-sources":
		return "the host could not download from its apt sources: check its network and sources"
	case "missing-gpg-signature", "bad-gpg-signature", "gpg-failure", "cannot-install-repo-unsigned", "cannot-update-repo-unsigned":
		return "TailOps installs only packages from trusted (signed) sources: sign the source or mark it trusted in apt's sources"
	case "no-space-on-device":
		return "free disk space on the host, then call again"
	case "package-failed-to-configure", "package-failed-to-install", "transaction-error":
		return "dpkg failed; the host's /var/log/apt/term.log has its full output"
	}
	return ""
}

// clipText cuts s to at most n bytes.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// run runs one transaction of role r on conn: creates it, subscribes to
// its signals, calls the role's method, and collects the packages it
// names until it finishes, reporting PackageKit's percentage to progress.
// When ctx ends first, the transaction is cancelled.
func (c *pkClient) run(ctx context.Context, conn *dbus.Conn, r role, progress progressFunc) (txResult, error) {
	var path dbus.ObjectPath
	if err := conn.Object(pkName, pkPath).CallWithContext(ctx, pkIface+".CreateTransaction", 0).Store(&path); err != nil {
		return txResult{}, callError(err, r.doing)
	}
	match := []dbus.MatchOption{dbus.WithMatchObjectPath(path), dbus.WithMatchSender(pkName)}
	if err := conn.AddMatchSignalContext(ctx, match...); err != nil {
		return txResult{}, fmt.Errorf("%s: subscribing to PackageKit's signals: %w", r.doing, err)
	}
	defer conn.RemoveMatchSignalContext(context.WithoutCancel(ctx), match...)
	sigs := make(chan *dbus.Signal, 64)
	conn.Signal(sigs)
	defer conn.RemoveSignal(sigs)
	tx := conn.Object(pkName, path)
	// Not interactive: polkit decides from its rules, asking nobody.
	if err := tx.CallWithContext(ctx, pkTxn+".SetHints", 0, []string{"interactive=false", "background=false"}).Err; err != nil {
		return txResult{}, callError(err, r.doing)
	}
	if err := tx.CallWithContext(ctx, pkTxn+"."+r.method, 0, r.args...).Err; err != nil {
		return txResult{}, callError(err, r.doing)
	}
	var res txResult
	var txErr *TransactionError
	status := ""
	for {
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			tx.CallWithContext(cctx, pkTxn+".Cancel", 0)
			cancel()
			return res, fmt.Errorf("%s: %w (PackageKit was asked to cancel the transaction; what it had done stays done)", r.doing, ctx.Err())
		case s, ok := <-sigs:
			if !ok {
				return res, fmt.Errorf("%s: the bus connection closed before PackageKit finished", r.doing)
			}
			if s.Path != path {
				continue
			}
			switch s.Name {
			case pkTxn + ".Package":
				var p pkPackage
				var summary string
				if dbus.Store(s.Body, &p.Info, &p.ID, &summary) == nil {
					res.Packages = append(res.Packages, p)
				}
			case pkTxn + ".ErrorCode":
				var code uint32
				var details string
				if dbus.Store(s.Body, &code, &details) == nil {
					txErr = &TransactionError{Doing: r.doing, Code: enumName(pkErrors, code), Details: details, Action: r.action}
				}
			case propsIfc + ".PropertiesChanged":
				var iface string
				var changed map[string]dbus.Variant
				var invalidated []string
				if dbus.Store(s.Body, &iface, &changed, &invalidated) != nil || iface != pkTxn {
					continue
				}
				if v, ok := changed["Status"].Value().(uint32); ok {
					status = enumName(pkStatuses, v)
				}
				if v, ok := changed["Percentage"].Value().(uint32); ok && v < percentUnknown && progress != nil {
					progress(float64(v), status)
				}
			case pkTxn + ".Finished":
				var exit, runtime uint32
				if err := dbus.Store(s.Body, &exit, &runtime); err != nil {
					return res, fmt.Errorf("%s: PackageKit's Finished signal: %w", r.doing, err)
				}
				if exit == exitSuccess && txErr == nil {
					return res, nil
				}
				if txErr == nil {
					txErr = &TransactionError{Doing: r.doing, Action: r.action}
				}
				txErr.Exit = enumName(pkExits, exit)
				return res, txErr
			case pkTxn + ".Destroy":
				return res, fmt.Errorf("%s: PackageKit dropped the transaction before it finished", r.doing)
			}
		}
	}
}

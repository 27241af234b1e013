// SPDX-License-Identifier: Apache-2.0

package metrics

import "github.com/tailops/tailops/approval"

// ApprovalOutcome is how a call's wait at the approval gate ended.
type ApprovalOutcome string

// ApprovalOutcome values.
const (
	// ApprovalApproved: an approval was consumed; the call runs.
	ApprovalApproved ApprovalOutcome = "approved"
	// ApprovalDenied: the request was denied (a person, or the webhook).
	ApprovalDenied ApprovalOutcome = "denied"
	// ApprovalExpired: the request expired before it was decided.
	ApprovalExpired ApprovalOutcome = "expired"
	// ApprovalPending: the wait ended undecided; the caller is told to
	// repeat the call once the request is approved.
	ApprovalPending ApprovalOutcome = "pending"
	// ApprovalRefused: no decision could be asked for (no mechanism, no
	// identified caller, too many requests pending, arguments that cannot
	// be bound), or the approval was used by another identical call.
	ApprovalRefused ApprovalOutcome = "refused"
	// ApprovalError: the approval store or the audit log failed; the call
	// does not run.
	ApprovalError ApprovalOutcome = "error"
)

// approvalOutcomes are the values the outcome label may take.
var approvalOutcomes = []ApprovalOutcome{ApprovalApproved, ApprovalDenied, ApprovalExpired,
	ApprovalPending, ApprovalRefused, ApprovalError}

// ApprovalOutcomeOf classifies what approval.Gate.Check returned.
func ApprovalOutcomeOf(o approval.Outcome, err error) ApprovalOutcome {
	switch {
	case err != nil:
		return ApprovalError
	case o.Allowed:
		return ApprovalApproved
	case o.Pending:
		return ApprovalPending
	case o.Request == nil:
		return ApprovalRefused
	}
	switch o.Request.State {
	case approval.StateDenied:
		return ApprovalDenied
	case approval.StateExpired:
		return ApprovalExpired
	}
	return ApprovalRefused
}

// SPDX-License-Identifier: Apache-2.0

package auth

// Revocations lists the tokens and agents that may no longer authenticate.
type Revocations struct {
	// TokenIDs are revoked token IDs (jti).
	TokenIDs []string `json:"token_ids"`
	// Agents are agents all of whose tokens are revoked.
	Agents []string `json:"agents"`
}

// SetRevocations replaces the revocation list, then calls the functions
// OnRevocations registered. It is safe to call while Verify runs; each
// Verify sees either the old list or the new one.
func (v *Verifier) SetRevocations(r Revocations) {
	v.revoked.Store(newRevocationSet(r))
	v.onRevokeMu.Lock()
	fs := v.onRevoke
	v.onRevokeMu.Unlock()
	for _, f := range fs {
		f()
	}
}

// OnRevocations registers f to be called after each SetRevocations, with
// the new list in force: for what a token started that is still running.
func (v *Verifier) OnRevocations(f func()) {
	v.onRevokeMu.Lock()
	defer v.onRevokeMu.Unlock()
	v.onRevoke = append(v.onRevoke, f)
}

// Revoked reports whether c's token ID or agent is on the revocation list
// now: for what outlives the request that verified the token.
func (v *Verifier) Revoked(c *Caller) bool {
	r := v.revoked.Load()
	return r != nil && c != nil && r.revokes(c)
}

// revocationSet is Revocations indexed for lookup; never modified once built.
type revocationSet struct {
	tokenIDs map[string]bool
	agents   map[string]bool
}

func newRevocationSet(r Revocations) *revocationSet {
	s := &revocationSet{tokenIDs: map[string]bool{}, agents: map[string]bool{}}
	for _, id := range r.TokenIDs {
		if id != "" {
			s.tokenIDs[id] = true
		}
	}
	for _, a := range r.Agents {
		if a != "" {
			s.agents[a] = true
		}
	}
	return s
}

// revokes reports whether c's token ID or agent is revoked.
func (s *revocationSet) revokes(c *Caller) bool {
	return (c.TokenID != "" && s.tokenIDs[c.TokenID]) || s.agents[c.Agent]
}

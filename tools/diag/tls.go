// SPDX-License-Identifier: Apache-2.0

package diag

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tailops/tailops/netpolicy"
	"github.com/tailops/tailops/tools"
)

// SSLArgs is check_ssl_certificate's input.
type SSLArgs struct {
	Host      string `json:"host" jsonschema_description:"Host name or IP address of the TLS server."`
	Port      *int   `json:"port,omitempty" jsonschema_description:"TCP port, 1 to 65535; default 443."`
	SNI       string `json:"sni,omitempty" jsonschema_description:"Server name to send (SNI) and verify the certificate for; default the host when it is a name (an IP address is verified against the certificate's IP SANs, with no SNI)."`
	TimeoutMS *int   `json:"timeout_ms,omitempty" jsonschema_description:"Milliseconds for connecting and the handshake, 100 to 30000; default 10000."`
}

// CertInfo describes one certificate of the chain.
type CertInfo struct {
	Subject            string   `json:"subject"`
	Issuer             string   `json:"issuer"`
	SerialNumber       string   `json:"serial_number" jsonschema_description:"Hexadecimal."`
	NotBefore          string   `json:"not_before" jsonschema_description:"RFC 3339, UTC."`
	NotAfter           string   `json:"not_after" jsonschema_description:"RFC 3339, UTC."`
	DaysToExpiry       int      `json:"days_to_expiry" jsonschema_description:"Whole days until not_after; negative once expired."`
	DNSNames           []string `json:"dns_names"`
	IPAddresses        []string `json:"ip_addresses"`
	EmailAddresses     []string `json:"email_addresses,omitempty"`
	URIs               []string `json:"uris,omitempty"`
	IsCA               bool     `json:"is_ca"`
	SelfSigned         bool     `json:"self_signed" jsonschema_description:"Subject and issuer are the same and the signature checks with its own key."`
	SignatureAlgorithm string   `json:"signature_algorithm"`
	PublicKey          string   `json:"public_key" jsonschema_description:"Algorithm and size, such as RSA 2048 or ECDSA P-256."`
	SHA256Fingerprint  string   `json:"sha256_fingerprint"`
}

// SSLResult is check_ssl_certificate's output.
type SSLResult struct {
	Host              string     `json:"host" jsonschema_description:"The host, as given."`
	Address           string     `json:"address" jsonschema_description:"The address connected to, address:port."`
	SNI               string     `json:"sni" jsonschema_description:"The server name sent; empty when none was."`
	TLSVersion        string     `json:"tls_version"`
	CipherSuite       string     `json:"cipher_suite"`
	ALPN              string     `json:"alpn,omitempty" jsonschema_description:"Negotiated application protocol."`
	Verified          bool       `json:"verified" jsonschema_description:"The chain verifies against the system roots for the name."`
	VerificationError string     `json:"verification_error,omitempty" jsonschema_description:"Why verification failed."`
	DaysToExpiry      int        `json:"days_to_expiry" jsonschema_description:"The leaf certificate's days to expiry."`
	HandshakeMS       float64    `json:"handshake_ms"`
	Chain             []CertInfo `json:"chain" jsonschema_description:"The certificates the server sent, leaf first."`
}

func (g *diag) checkSSL(ctx context.Context, in SSLArgs) (SSLResult, error) {
	if err := hostArg("host", in.Host); err != nil {
		return SSLResult{}, err
	}
	port, err := tools.IntArg("port", in.Port, 443, 1, 65535)
	if err != nil {
		return SSLResult{}, err
	}
	timeout, err := durationArg("timeout_ms", in.TimeoutMS, 10000, 100, 30000)
	if err != nil {
		return SSLResult{}, err
	}
	sni := ""
	if in.SNI != "" {
		h, err := netpolicy.ParseHost(in.SNI)
		if err != nil || h.IsAddr() {
			return SSLResult{}, tools.ArgErrorf("sni", "must be a host name, got %q", in.SNI)
		}
		sni = h.Name
	}
	pol := g.policy
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dest, err := pol.Resolve(cctx, in.Host, uint16(port))
	if err != nil {
		return SSLResult{}, err
	}
	if sni == "" && !dest.Host.IsAddr() {
		sni = dest.Host.Name
	}
	conn, err := dest.DialContext(cctx, "tcp")
	if err != nil {
		return SSLResult{}, err
	}
	defer conn.Close()
	// Verification happens below, against the chain the server sent, so
	// that a certificate that does not verify is still described.
	tc := tls.Client(conn, &tls.Config{ServerName: sni, InsecureSkipVerify: true, MinVersion: tls.VersionTLS10})
	start := time.Now()
	if err := tc.HandshakeContext(cctx); err != nil {
		return SSLResult{}, fmt.Errorf("TLS handshake with %s: %w", conn.RemoteAddr(), err)
	}
	hs := time.Since(start)
	st := tc.ConnectionState()
	res := SSLResult{
		Host: in.Host, Address: conn.RemoteAddr().String(), SNI: sni,
		TLSVersion: tls.VersionName(st.Version), CipherSuite: tls.CipherSuiteName(st.CipherSuite),
		ALPN: st.NegotiatedProtocol, HandshakeMS: ms(hs), Chain: []CertInfo{},
	}
	now := time.Now()
	for _, c := range st.PeerCertificates {
		res.Chain = append(res.Chain, certInfo(c, now))
	}
	if len(st.PeerCertificates) == 0 {
		res.VerificationError = "the server sent no certificate"
		return res, nil
	}
	res.DaysToExpiry = res.Chain[0].DaysToExpiry
	name := sni
	if name == "" { // an IP literal: verified against the IP SANs
		name = dest.Addrs[0].String()
	}
	if err := verifyChain(st.PeerCertificates, name, g.cfg.RootCAs, now); err != nil {
		res.VerificationError = err.Error()
	} else {
		res.Verified = true
	}
	return res, nil
}

// verifyChain verifies the leaf for name against roots (nil: the system
// roots), with the rest of the chain as intermediates.
func verifyChain(chain []*x509.Certificate, name string, roots *x509.CertPool, now time.Time) error {
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter, CurrentTime: now})
	return err
}

func certInfo(c *x509.Certificate, now time.Time) CertInfo {
	sum := sha256.Sum256(c.Raw)
	ci := CertInfo{
		Subject: c.Subject.String(), Issuer: c.Issuer.String(),
		SerialNumber: hex.EncodeToString(c.SerialNumber.Bytes()),
		NotBefore:    c.NotBefore.UTC().Format(time.RFC3339), NotAfter: c.NotAfter.UTC().Format(time.RFC3339),
		DaysToExpiry: int(math.Floor(c.NotAfter.Sub(now).Hours() / 24)),
		DNSNames:     append([]string{}, c.DNSNames...), IPAddresses: []string{}, EmailAddresses: c.EmailAddresses,
		IsCA: c.IsCA, SignatureAlgorithm: c.SignatureAlgorithm.String(), PublicKey: publicKeyText(c),
		SHA256Fingerprint: hex.EncodeToString(sum[:]),
	}
	for _, ip := range c.IPAddresses {
		ci.IPAddresses = append(ci.IPAddresses, ip.String())
	}
	for _, u := range c.URIs {
		ci.URIs = append(ci.URIs, u.String())
	}
	ci.SelfSigned = c.Subject.String() == c.Issuer.String() && c.CheckSignatureFrom(c) == nil
	return ci
}

func publicKeyText(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return c.PublicKeyAlgorithm.String()
}

func sslText(r SSLResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s), SNI %q: %s, %s\n", r.Host, r.Address, r.SNI, r.TLSVersion, r.CipherSuite)
	if r.Verified {
		b.WriteString("verified against the system roots\n")
	} else {
		fmt.Fprintf(&b, "NOT verified: %s\n", r.VerificationError)
	}
	for i, c := range r.Chain {
		fmt.Fprintf(&b, "%d: subject %s\n   issuer %s\n   valid %s to %s (%d days left)\n", i, c.Subject, c.Issuer, c.NotBefore, c.NotAfter, c.DaysToExpiry)
		if len(c.DNSNames)+len(c.IPAddresses) > 0 {
			fmt.Fprintf(&b, "   SANs %s\n", strings.Join(append(append([]string{}, c.DNSNames...), c.IPAddresses...), ", "))
		}
	}
	return b.String()
}

// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/docker/client"
	"github.com/docker/go-connections/tlsconfig"
)

// Config configures the Docker tools: where the engine is and how to
// reach it, as the Docker client's own environment says it (main reads
// DOCKER_HOST, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY and DOCKER_API_VERSION
// and passes them here). The zero value reaches the local socket,
// unix:///var/run/docker.sock, without TLS, negotiating the API version.
type Config struct {
	// Host is the engine's endpoint (DOCKER_HOST): unix:///path/to/sock
	// or tcp://host:port; empty means the local socket.
	Host string
	// CertPath is a directory holding the client's TLS files ca.pem,
	// cert.pem and key.pem (DOCKER_CERT_PATH), read on the first call;
	// empty means no TLS.
	CertPath string
	// TLSVerify, with CertPath, verifies the engine's certificate against
	// CertPath's ca.pem (DOCKER_TLS_VERIFY set to anything but empty, as
	// the Docker client reads it); false does not verify it, as the Docker
	// client does not.
	TLSVerify bool
	// APIVersion fixes the API version (DOCKER_API_VERSION, such as
	// 1.41); empty means negotiated with the engine on the first call.
	APIVersion string
	// Logger receives the tools' own log lines; nil means slog.Default().
	Logger *slog.Logger
	// Self is the id of the container this server runs in
	// (SelfContainer); "" when it runs in none. The tools that change a
	// container, or run a program in one, refuse it.
	Self string
}

// Endpoint is where the tools reach the engine, as far as the kernel
// sandbox must grant it.
type Endpoint struct {
	// Socket is the unix socket's path, for a unix:// endpoint.
	Socket string
	// TCPPort is the port, for a tcp:// endpoint.
	TCPPort uint16
	// CertFiles are the TLS files the client reads from CertPath on its
	// first call (after the sandbox is on); nil without CertPath.
	CertFiles []string
}

// tlsFiles are the names client.WithTLSClientConfigFromEnv reads in
// DOCKER_CERT_PATH; nothing else there (~/.docker: config.json).
var tlsFiles = []string{"ca.pem", "cert.pem", "key.pem"}

// resolveEndpoint returns the endpoint cfg names. One the tools cannot
// use (another scheme, a tcp:// one without a port) is an error naming
// DOCKER_HOST, without repeating the address (which may hold
// credentials).
func resolveEndpoint(cfg Config) (Endpoint, error) {
	host, from := cfg.Host, "DOCKER_HOST"
	if host == "" {
		host, from = client.DefaultDockerHost, "the default Docker host"
	}
	var ep Endpoint
	if cfg.CertPath != "" {
		for _, f := range tlsFiles {
			ep.CertFiles = append(ep.CertFiles, filepath.Join(cfg.CertPath, f))
		}
	}
	scheme, addr, ok := strings.Cut(host, "://")
	switch {
	case !ok || addr == "":
		return Endpoint{}, fmt.Errorf("%s: want unix:///path/to/docker.sock or tcp://host:port", from)
	case scheme == "unix":
		ep.Socket = addr
	case scheme == "tcp":
		// Parsed as the client parses it; the error is not wrapped, as
		// it would repeat the address.
		u, err := url.Parse(host)
		if err != nil {
			return Endpoint{}, fmt.Errorf("%s: not a tcp://host:port address", from)
		}
		port, err := strconv.ParseUint(u.Port(), 10, 16)
		if err != nil || port == 0 {
			return Endpoint{}, fmt.Errorf("%s: a tcp:// endpoint needs its port (usually 2375, or 2376 with TLS)", from)
		}
		ep.TCPPort = uint16(port)
	default:
		return Endpoint{}, fmt.Errorf("%s: scheme %q is not supported; use unix:// or tcp://", from, scheme)
	}
	return ep, nil
}

// clientOpts are the Docker client's options for cfg: what client.FromEnv
// does with the same settings in its environment, in its order (TLS from
// the cert path, then the host, then the API version), and API version
// negotiation.
func clientOpts(cfg Config) []client.Opt {
	var opts []client.Opt
	if cfg.CertPath != "" {
		opts = append(opts, withTLSFrom(cfg.CertPath, cfg.TLSVerify))
	}
	if cfg.Host != "" {
		opts = append(opts, client.WithHost(cfg.Host))
	}
	return append(opts, client.WithVersion(cfg.APIVersion), client.WithAPIVersionNegotiation())
}

// withTLSFrom is client.WithTLSClientConfigFromEnv with its two variables
// given: the client's TLS files from dir, the engine's certificate
// verified against dir's ca.pem only when verify is set, on a new HTTP
// client that WithHost then configures for the endpoint.
func withTLSFrom(dir string, verify bool) client.Opt {
	return func(c *client.Client) error {
		tlsc, err := tlsconfig.Client(tlsconfig.Options{
			CAFile:             filepath.Join(dir, "ca.pem"),
			CertFile:           filepath.Join(dir, "cert.pem"),
			KeyFile:            filepath.Join(dir, "key.pem"),
			InsecureSkipVerify: !verify,
		})
		if err != nil {
			return err
		}
		return client.WithHTTPClient(&http.Client{
			Transport:     &http.Transport{TLSClientConfig: tlsc},
			CheckRedirect: client.CheckRedirect,
		})(c)
	}
}

package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// go-git picks its HTTP client from a process-wide table
// (client.InstallProtocol), and neither git.Remote nor its fetch and push
// options take a client of their own. So gitrepo installs, once, a client
// that holds no policy: every fetch and push puts its Manager's boundary
// (policy and HTTP transport) and its credentials in the request context,
// and the installed client's RoundTripper takes them from there. A request
// that does not come from a fetch or push of a Manager carries none, and
// is refused.
//
// go-git's ssh and git transports are removed from that table: a remote is
// an http(s) or file URL or a local path (checkRemoteURL, parseRemote), and
// no other protocol can be dialled even if an address slipped past them.
func init() {
	c := githttp.NewClient(&http.Client{Transport: dispatch{}})
	client.InstallProtocol("http", c)
	client.InstallProtocol("https", c)
	client.InstallProtocol("ssh", nil)
	client.InstallProtocol("git", nil)
}

// checkLocalPath refuses a remote without "://" that go-git would not read
// as a local path: an scp-like address ([user@]host:path) is SSH to host.
// Whether it is one is asked of go-git's own endpoint parser, so that the
// boundary and the transport never disagree.
func checkLocalPath(remote string) error {
	ep, err := transport.NewEndpoint(remote)
	if err != nil {
		return fmt.Errorf("the remote does not parse: %w", err)
	}
	if ep.Protocol != "file" {
		return fmt.Errorf("%q is an scp-like SSH address (host:path): only http(s) and file remotes are used, write it as an https:// URL", RedactURL(remote))
	}
	return nil
}

// ErrCredentialsOrigin is wrapped by the error of a fetch or push whose
// credentials belong to another origin than the remote's. Nothing was sent.
var ErrCredentialsOrigin = errors.New("credentials belong to another origin")

type callKey struct{}
type dialKey struct{}

// call is what one fetch or push gives the transport through its context.
type call struct {
	b      *boundary
	token  string
	origin *url.URL // the only origin token is sent to
}

// boundary is a Manager's policy and the HTTP transport that enforces it.
type boundary struct {
	policy *Policy
	http   *http.Transport
}

func newBoundary(p *Policy) *boundary {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // the address checked must be the address connected to
	b := &boundary{policy: p, http: t}
	t.DialContext = b.dial
	return b
}

// begin checks a fetch or push of remoteURL with auth against the policy
// and returns the context its requests carry. A refused remote is a
// *NotAllowedError, credentials for another origin ErrCredentialsOrigin;
// either way nothing is sent.
func (b *boundary) begin(ctx context.Context, remoteURL string, auth Auth) (context.Context, error) {
	if err := b.policy.Check(remoteURL); err != nil {
		return nil, err
	}
	c := &call{b: b}
	if auth.Token != "" {
		origin, err := b.authOrigin(auth)
		if err != nil {
			return nil, err
		}
		u, err := parseRemote(remoteURL)
		if err != nil || !sameOrigin(origin, u) {
			return nil, fmt.Errorf("%w: the credentials for %s are not sent to %s", ErrCredentialsOrigin, origin, RedactURL(remoteURL))
		}
		c.token, c.origin = auth.Token, origin
	}
	return context.WithValue(ctx, callKey{}, c), nil
}

// authOrigin is the origin auth's token belongs to: Auth.Origin, or the
// policy's GitHub when it is empty.
func (b *boundary) authOrigin(auth Auth) (*url.URL, error) {
	if auth.Origin == "" {
		if b.policy.github == nil {
			return nil, fmt.Errorf("%w: a token without Auth.Origin, and no GitHub configured", ErrCredentialsOrigin)
		}
		return b.policy.github, nil
	}
	u, err := url.Parse(auth.Origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: Auth.Origin %q is not scheme://host[:port]", ErrCredentialsOrigin, auth.Origin)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// dispatch is the RoundTripper of the client installed in go-git: it hands
// each request to the boundary its context names.
type dispatch struct{}

func (dispatch) RoundTrip(req *http.Request) (*http.Response, error) {
	c, _ := req.Context().Value(callKey{}).(*call)
	if c == nil {
		closeBody(req)
		return nil, errors.New("gitrepo: an HTTP request that is not part of a Manager's fetch or push")
	}
	return c.roundTrip(req)
}

// roundTrip sends one request, the first or a redirect's: its URL must be
// allowed, and it carries the token only when it goes to the token's origin.
func (c *call) roundTrip(req *http.Request) (*http.Response, error) {
	repo := repoURL(req.URL)
	anyAddr, err := c.b.policy.match(repo)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	out := req.Clone(context.WithValue(req.Context(), dialKey{}, anyAddr))
	out.URL.User = nil
	out.Header.Del("Authorization")
	if c.token != "" && sameOrigin(c.origin, out.URL) {
		out.SetBasicAuth("x-access-token", c.token)
	}
	res, err := c.b.http.RoundTrip(out)
	var refused *NotAllowedError
	if errors.As(err, &refused) {
		return nil, &NotAllowedError{URL: RedactURL(repo), Reason: refused.Reason}
	}
	return res, err
}

// dial connects to an address the policy allows for the host of the
// request being sent (checked in roundTrip): the name is resolved here and
// the addresses checked are the ones dialled, so DNS cannot move it.
func (b *boundary) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	anyAddr, ok := ctx.Value(dialKey{}).(bool)
	if !ok {
		return nil, errors.New("gitrepo: a connection that no checked request asked for")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	addrs, err := b.policy.dialAddrs(ctx, host, port, anyAddr)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	var errs []error
	for _, a := range addrs {
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("dial %s: no address", addr)
	}
	return nil, errors.Join(errs...)
}

// close drops the boundary's idle connections.
func (b *boundary) close() { b.http.CloseIdleConnections() }

// repoURL is the repository a smart-HTTP request URL addresses: without
// the query and the service path go-git adds.
func repoURL(u *url.URL) string {
	r := *u
	r.RawQuery, r.Fragment, r.User = "", "", nil
	for _, suffix := range []string{"/info/refs", "/git-upload-pack", "/git-receive-pack"} {
		if p, ok := strings.CutSuffix(r.Path, suffix); ok {
			r.Path = p
			r.RawPath = strings.TrimSuffix(r.RawPath, suffix)
			break
		}
	}
	return r.String()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// refusal returns the *NotAllowedError inside err, or nil.
func refusal(err error) *NotAllowedError {
	var refused *NotAllowedError
	if errors.As(err, &refused) {
		return refused
	}
	return nil
}

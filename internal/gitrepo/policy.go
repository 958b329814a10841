package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
)

// ErrRemoteNotAllowed is wrapped by the error of a fetch or push whose
// remote (or a redirect on the way to it) is outside the Manager's Policy.
// Nothing was sent to it.
var ErrRemoteNotAllowed = errors.New("remote is not allowed")

// NotAllowedError is a remote refused by the Policy. Its text is exactly
// "remote <url> is not allowed: add it to remotes.allow", the URL without
// credentials; Reason says which rule refused it, for logs.
type NotAllowedError struct {
	URL    string
	Reason string
}

func (e *NotAllowedError) Error() string {
	return "remote " + e.URL + " is not allowed: add it to remotes.allow"
}

// Unwrap makes errors.Is(err, ErrRemoteNotAllowed) true.
func (e *NotAllowedError) Unwrap() error { return ErrRemoteNotAllowed }

// Policy is the trust boundary for remotes: which ones a Manager may fetch
// from and push to. It is checked before anything is sent, on every HTTP
// request including each redirect, and on the address actually dialled,
// so that neither a redirect nor DNS can move a fetch elsewhere.
//
// Outside local mode (NewPolicy) a remote is allowed when
//
//   - it is on the configured GitHub: the scheme, host and port of
//     github.web_url (any path). That host is trusted at whatever address
//     it resolves to, private ones included: the operator named it, and
//     GitHub Enterprise often lives on a private network; or
//   - it matches an entry of remotes.allow, a URL prefix: same scheme,
//     same host (exactly: not a subdomain, not a longer name), same port
//     (the scheme's default when none is written), and a path that is the
//     entry's or continues it after a "/" (https://git.example.org/team
//     matches https://git.example.org/team/x.git, not
//     https://git.example.org/teamX/x.git nor
//     https://git.example.org.evil.com/team/x.git). A file:///srv/git entry
//     allows file:// URLs and local paths under /srv/git.
//
// What an entry "names" when its host is a name rather than an address:
// such a host may resolve to public and private addresses, but never to a
// loopback, link-local (169.254.169.254 included), unspecified or
// multicast one, unless the entry's host is itself such an address
// (http://127.0.0.1:3000/) or "localhost". A URL whose host is an address
// is allowed only by an entry written with that address (or the GitHub
// URL's). Everything else is refused: file:// and local paths, loopback,
// link-local and private addresses, any other host.
//
// A remote's path must not hold "." or ".." segments. Git is dialled
// directly: HTTP(S)_PROXY is not used, so that the address checked is the
// address connected to.
//
// A Policy is immutable and safe for concurrent use.
type Policy struct {
	all    bool
	github *url.URL // scheme and host[:port]; nil when none
	allow  []allowEntry
	// lookup resolves a host name; nil is the system's resolver (tests
	// set their own).
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// allowEntry is one checked entry of remotes.allow.
type allowEntry struct {
	scheme, host, port string // host canonical, port effective ("" for file)
	path               string // escaped, without a trailing "/"; "" matches every path
	anyAddr            bool   // the host is an address literal or localhost
}

// AllowAll is local mode's policy: every remote is allowed, file:// and
// local paths included.
func AllowAll() *Policy { return &Policy{all: true} }

// NewPolicy returns the policy outside local mode: the GitHub at
// githubWebURL ("" for none) and the URL prefixes of allow. An entry that
// is not an http, https or file URL, carries credentials, a query or a
// fragment, or has no host (http, https) is an error naming it.
func NewPolicy(githubWebURL string, allow []string) (*Policy, error) {
	p := &Policy{}
	if strings.TrimSpace(githubWebURL) != "" {
		u, err := url.Parse(strings.TrimSpace(githubWebURL))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("github.web_url %q is not an http(s) URL with a host", githubWebURL)
		}
		p.github = &url.URL{Scheme: u.Scheme, Host: u.Host}
	}
	var errs []error
	for i, raw := range allow {
		e, err := parseAllowEntry(strings.TrimSpace(raw))
		if err != nil {
			errs = append(errs, fmt.Errorf("remotes.allow[%d] %q: %w", i, RedactURL(raw), err))
			continue
		}
		p.allow = append(p.allow, e)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func parseAllowEntry(raw string) (allowEntry, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return allowEntry{}, errors.New("does not parse as a URL")
	case u.User != nil:
		return allowEntry{}, errors.New("carries credentials")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return allowEntry{}, errors.New("has a query or a fragment")
	case u.Scheme == "file":
		if u.Host != "" && u.Host != "localhost" {
			return allowEntry{}, errors.New("a file URL has no host")
		}
		if !strings.HasPrefix(u.Path, "/") || hasDotSegment(u.Path) {
			return allowEntry{}, errors.New("a file URL needs an absolute path without . or .. segments")
		}
		return allowEntry{scheme: "file", path: strings.TrimSuffix(filepath.ToSlash(filepath.Clean(u.Path)), "/"), anyAddr: true}, nil
	case u.Scheme != "http" && u.Scheme != "https":
		return allowEntry{}, errors.New("is not an http, https or file URL")
	case u.Hostname() == "":
		return allowEntry{}, errors.New("has no host")
	case hasDotSegment(u.Path):
		return allowEntry{}, errors.New("has . or .. segments in its path")
	}
	host := canonicalHost(u.Hostname())
	_, literal := parseAddr(host)
	return allowEntry{scheme: u.Scheme, host: host, port: effectivePort(u), path: strings.TrimSuffix(u.EscapedPath(), "/"),
		anyAddr: literal || host == "localhost"}, nil
}

// Check reports whether remoteURL (an http, https or file URL, or a local
// path) is allowed, before anything is sent: nil, or a *NotAllowedError.
// The address a host name resolves to is checked when it is dialled.
func (p *Policy) Check(remoteURL string) error {
	_, err := p.match(remoteURL)
	return err
}

// match is Check, also returning how the remote was allowed: whether its
// host may be at any address.
func (p *Policy) match(remoteURL string) (anyAddr bool, err error) {
	refuse := func(reason string) (bool, error) {
		return false, &NotAllowedError{URL: RedactURL(remoteURL), Reason: reason}
	}
	if p.all {
		return true, nil
	}
	u, err := parseRemote(remoteURL)
	if err != nil {
		return refuse(err.Error())
	}
	if hasDotSegment(u.Path) {
		return refuse("its path has . or .. segments")
	}
	if u.Scheme != "file" && p.github != nil && sameOrigin(p.github, u) {
		return true, nil
	}
	host, port, path := "", "", u.Path
	if u.Scheme != "file" {
		host, port, path = canonicalHost(u.Hostname()), effectivePort(u), u.EscapedPath()
	}
	for _, e := range p.allow {
		if e.scheme == u.Scheme && e.host == host && e.port == port && underPath(path, e.path) {
			return e.anyAddr, nil
		}
	}
	switch {
	case u.Scheme == "file":
		return refuse("a local repository, outside local mode")
	case p.github != nil:
		return refuse("neither on " + p.github.String() + " nor in remotes.allow")
	}
	return refuse("not in remotes.allow")
}

// parseRemote parses an http(s) or file URL, or a local path (as a file
// URL).
func parseRemote(remoteURL string) (*url.URL, error) {
	if !strings.Contains(remoteURL, "://") {
		if err := checkLocalPath(remoteURL); err != nil {
			return nil, err
		}
		abs, err := filepath.Abs(remoteURL)
		if err != nil {
			return nil, err
		}
		return &url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}, nil
	}
	u, err := url.Parse(remoteURL)
	if err != nil {
		return nil, errors.New("the URL does not parse")
	}
	switch {
	case u.Scheme == "file" && (u.Host == "" || u.Host == "localhost"):
	case (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != "":
	default:
		return nil, errors.New("not an http(s) URL with a host, nor a file URL")
	}
	return u, nil
}

// underPath reports whether path is prefix or continues it after a "/"
// (prefix "" is every path).
func underPath(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func hasDotSegment(p string) bool {
	for _, s := range strings.Split(p, "/") {
		if s == "." || s == ".." {
			return true
		}
	}
	return false
}

// dialAddrs returns the addresses host (from a URL the policy allowed) may
// be dialled at on port: all it resolves to when anyAddr, else only those
// that are not loopback, link-local, unspecified or multicast. None allowed
// is a *NotAllowedError naming the host.
func (p *Policy) dialAddrs(ctx context.Context, host, port string, anyAddr bool) ([]netip.Addr, error) {
	var addrs []netip.Addr
	if a, ok := parseAddr(host); ok {
		addrs = []netip.Addr{a}
	} else {
		lookup := p.lookup
		if lookup == nil {
			lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
				return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			}
		}
		var err error
		if addrs, err = lookup(ctx, host); err != nil {
			return nil, err
		}
	}
	if p.all || anyAddr {
		return addrs, nil
	}
	var ok []netip.Addr
	var refused []string
	for _, a := range addrs {
		if internalAddr(a) {
			refused = append(refused, a.String())
			continue
		}
		ok = append(ok, a)
	}
	if len(ok) == 0 {
		return nil, &NotAllowedError{URL: net.JoinHostPort(host, port),
			Reason: fmt.Sprintf("%s resolves to %s: a host name in remotes.allow may not reach loopback, link-local, unspecified or multicast addresses", host, strings.Join(refused, ", "))}
	}
	return ok, nil
}

// internalAddr reports whether a is an address a host name in remotes.allow
// may not resolve to: loopback, link-local (169.254.0.0/16, fe80::/10),
// unspecified (0.0.0.0/8, ::), multicast or broadcast.
func internalAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() ||
		a.IsMulticast() || a.IsUnspecified() || (a.Is4() && (a.As4()[0] == 0 || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})))
}

// parseAddr parses an address literal (brackets and zone allowed).
func parseAddr(host string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return a, err == nil
}

// canonicalHost is host as origins are compared: an address literal in
// netip's form, a name in ASCII lower case (as go-git compares them).
func canonicalHost(host string) string {
	if a, ok := parseAddr(host); ok {
		return a.String()
	}
	b := []byte(host)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// effectivePort is u's port, or its scheme's default.
func effectivePort(u *url.URL) string {
	if p := strings.TrimLeft(u.Port(), "0"); p != "" {
		return p
	}
	if u.Port() != "" {
		return "0"
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// sameOrigin reports whether a and b have the same scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && canonicalHost(a.Hostname()) == canonicalHost(b.Hostname()) &&
		effectivePort(a) == effectivePort(b)
}

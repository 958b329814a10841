// Package gitrepo keeps cached bare clones of remote Git repositories and
// works on them without a work tree: fetch a branch, a pull-request ref or a
// commit; list and read the files of a folder at a commit; list the paths
// that changed between two commits; build a commit from file changes; push
// it. Everything goes through go-git (github.com/go-git/go-git/v5); only
// file:// remotes need the git-upload-pack and git-receive-pack programs,
// which go-git runs for that transport. A Manager reaches only the remotes
// its Policy allows (the trust boundary, policy.go), and sends a token only
// to the origin it belongs to (Auth).
package gitrepo

import (
	"errors"
	"strings"
)

// Errors that callers test with errors.Is. The errors returned wrap them
// with what was being done and on which remote.
var (
	// ErrRefNotFound: the remote has no such ref or commit (an empty
	// remote has none at all).
	ErrRefNotFound = errors.New("ref not found")
	// ErrTooLarge: a blob is larger than the size the caller accepts.
	ErrTooLarge = errors.New("blob too large")
	// ErrNoChanges: a commit would leave the tree exactly as its parent's.
	ErrNoChanges = errors.New("no changes to commit")
	// ErrNonFastForward: a push would drop commits the remote branch has
	// (someone else pushed first); fetch, rebuild the commit and try again.
	ErrNonFastForward = errors.New("non-fast-forward")
	// ErrPushRejected: the remote refused a push for another reason (a
	// protected branch, a pre-receive hook declining); the error text holds
	// the remote's message.
	ErrPushRejected = errors.New("push rejected")
	// ErrNotFound: a commit, file or object is not in the cached clone.
	ErrNotFound = errors.New("not found")
)

// Auth is how to authenticate to a remote. With Token set, requests carry
// HTTP basic auth x-access-token:<Token>, as a GitHub App installation token
// expects, and only requests to the origin the token was issued for:
// Origin, scheme://host[:port] (a URL's path is ignored), or, when Origin
// is empty, the Manager's GitHub (github.web_url). A fetch or push of a
// remote elsewhere fails with ErrCredentialsOrigin before anything is
// sent, and a redirect to another origin never carries the token. With
// Token empty, no credentials are sent (file://, plain HTTP). The token
// never appears in an error or a log line.
type Auth struct {
	Token  string
	Origin string
}

// RedactURL returns rawURL with the userinfo of a URL (a token embedded as
// https://x-access-token:TOKEN@host/...) replaced by REDACTED, for errors
// and logs. Anything else is returned as it is.
func RedactURL(rawURL string) string {
	i := strings.Index(rawURL, "://")
	if i < 0 {
		return rawURL
	}
	rest := rawURL[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return rawURL
	}
	return rawURL[:i+3] + "REDACTED@" + rest[at+1:]
}

// redactedError hides a secret in the text of an error while keeping the
// error chain for errors.Is and errors.As.
type redactedError struct {
	err    error
	secret string
}

func (e *redactedError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.secret, "REDACTED")
}

func (e *redactedError) Unwrap() error { return e.err }

// redact makes sure secret is not in err's text.
func redact(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redactedError{err: err, secret: secret}
}

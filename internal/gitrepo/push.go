package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// maxRemoteMessage bounds how much of the remote's messages a push error
// carries.
const maxRemoteMessage = 2000

// Push updates branch on the remote to commit (a full SHA in the clone, for
// example one made by Commit), sending the objects the remote lacks. branch
// is a name ("main") or a full "refs/heads/..." ref; a missing branch is
// created. A remote already at commit is not an error.
//
// Unless force is true, a push that would drop commits of the remote branch
// is refused with ErrNonFastForward, before anything is sent when it can be
// seen from the remote's advertisement. A push the remote refuses for
// another reason (a protected branch, a pre-receive hook declining) is
// ErrPushRejected, and the error text holds the remote's status and
// messages. After a push, refs/remotes/origin/<branch> is at commit.
func (r *Repo) Push(ctx context.Context, auth Auth, commit, branch string, force bool) error {
	err := r.push(ctx, auth, commit, branch, force)
	if err != nil {
		return redact(fmt.Errorf("push %s to %s of %s: %w", commit, branch, r.url, err), auth.Token)
	}
	return nil
}

func (r *Repo) push(ctx context.Context, auth Auth, commit, branch string, force bool) error {
	hash, err := parseSHA(commit)
	if err != nil {
		return err
	}
	full := branch
	if !strings.HasPrefix(full, "refs/") {
		full = "refs/heads/" + branch
	}
	name := plumbing.ReferenceName(full)
	if err := name.Validate(); err != nil || !name.IsBranch() || !name.IsSafe() || strings.ContainsAny(full, "+:*") {
		return fmt.Errorf("invalid branch name %q", branch)
	}

	r.netMu.Lock()
	defer r.netMu.Unlock()
	// A commit may have written a pack since this handle last listed them.
	r.net.st.Reindex()
	if _, err := object.GetCommit(r.net.st, hash); err != nil {
		return fmt.Errorf("commit %s: %w", commit, notFound(err))
	}
	spec := config.RefSpec(hash.String() + ":" + full)
	if force {
		spec = "+" + spec
	}
	var remoteMsg bytes.Buffer
	start := time.Now()
	err = r.net.remote.PushContext(ctx, &git.PushOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{spec},
		Auth:       auth.transportAuth(),
		Progress:   &remoteMsg,
		Force:      force,
	})
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		err = nil
	}
	if err != nil {
		return classifyPushError(err, remoteMsg.String())
	}
	r.log.Debug("git push", "branch", full, "sha", hash.String(), "force", force, "took", time.Since(start))
	return nil
}

// classifyPushError maps go-git's push errors (which have no types) to
// ErrNonFastForward and ErrPushRejected, adding the remote's messages.
func classifyPushError(err error, remoteMsg string) error {
	text := err.Error()
	msg := remoteMessage(remoteMsg)
	if msg != "" {
		msg = " (remote says: " + msg + ")"
	}
	switch {
	case strings.Contains(text, "non-fast-forward"), strings.Contains(text, "fetch first"):
		return fmt.Errorf("%w: %w%s", ErrNonFastForward, err, msg)
	case strings.Contains(text, "command error on "):
		// The remote's report-status said "ng <ref> <reason>".
		return fmt.Errorf("%w: %w%s", ErrPushRejected, err, msg)
	}
	return fmt.Errorf("%w%s", err, msg)
}

// remoteMessage tidies what the remote printed on its side band (hook
// output, progress) into one bounded line.
func remoteMessage(s string) string {
	var lines []string
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "Resolving deltas") || strings.HasPrefix(line, "Writing objects") {
			continue
		}
		lines = append(lines, line)
	}
	out := strings.Join(lines, "; ")
	if len(out) > maxRemoteMessage {
		out = out[:maxRemoteMessage] + "…"
	}
	return out
}

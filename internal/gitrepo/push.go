package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// maxRemoteMessage bounds how much of the remote's messages a push error
// carries.
const maxRemoteMessage = 2000

// Push updates branch on the remote to commit (a full SHA in the clone, for
// example one made by Commit), sending the objects the remote lacks. branch
// is a name ("main") or a full "refs/heads/..." ref; a missing branch is
// created. A remote already at commit is not an error. A commit that Commit
// stored as a pack of its own, on top of commits the remote's refs point
// at, is sent as that pack; any other push sends a pack made for it,
// without deltas.
//
// Unless force is true, a push that would drop commits of the remote branch
// is refused with ErrNonFastForward, before anything is sent when it can be
// seen from the remote's advertisement. A push the remote refuses for
// another reason (a protected branch, a pre-receive hook declining) is
// ErrPushRejected, and the error text holds the remote's status and
// messages. After a push, refs/remotes/origin/<branch> is at commit.
//
// A remote the Manager's Policy refuses is a *NotAllowedError and
// credentials for another origin ErrCredentialsOrigin, as for Fetch.
func (r *Repo) Push(ctx context.Context, auth Auth, commit, branch string, force bool) error {
	ctx, err := r.b.begin(ctx, r.url, auth)
	if err != nil {
		return r.refused("push to "+branch, err)
	}
	err = r.push(ctx, commit, branch, force)
	if refusal(err) != nil {
		return r.refused("push to "+branch, err)
	}
	if err != nil {
		return redact(fmt.Errorf("push %s to %s of %s: %w", commit, branch, r.url, err), auth.Token)
	}
	return nil
}

// branchRef is branch (a name, or a full "refs/heads/..." ref) as the
// branch ref it names, refused when it is not a safe branch name or holds
// a refspec's characters.
func branchRef(branch string) (plumbing.ReferenceName, error) {
	full := branch
	if !strings.HasPrefix(full, "refs/") {
		full = "refs/heads/" + branch
	}
	name := plumbing.ReferenceName(full)
	if err := name.Validate(); err != nil || !name.IsBranch() || !name.IsSafe() || strings.ContainsAny(full, "+:*") {
		return "", fmt.Errorf("invalid branch name %q", branch)
	}
	return name, nil
}

func (r *Repo) push(ctx context.Context, commit, branch string, force bool) error {
	hash, err := parseSHA(commit)
	if err != nil {
		return err
	}
	name, err := branchRef(branch)
	if err != nil {
		return err
	}

	r.netMu.Lock()
	defer r.netMu.Unlock()
	// A commit may have written a pack since this handle last listed them.
	r.net.st.Reindex()
	c, err := object.GetCommit(r.net.st, hash)
	if err != nil {
		return fmt.Errorf("commit %s: %w", commit, notFound(err))
	}
	var remoteMsg bytes.Buffer
	start := time.Now()
	sent, err := r.pushOwnPack(ctx, c, name, force, &remoteMsg)
	if !sent && err == nil {
		err = r.pushObjects(ctx, hash, name, force, &remoteMsg)
	}
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		err = nil
	}
	if err != nil {
		return classifyPushError(err, remoteMsg.String())
	}
	r.log.Debug("git push", "branch", name.String(), "sha", hash.String(), "force", force, "own_pack", sent, "took", time.Since(start))
	return nil
}

// pushObjects is go-git's push: it lists the objects reachable from hash
// that the remote's refs do not reach, and sends them in a pack made for
// the push.
func (r *Repo) pushObjects(ctx context.Context, hash plumbing.Hash, name plumbing.ReferenceName, force bool, remoteMsg io.Writer) error {
	spec := config.RefSpec(hash.String() + ":" + name.String())
	if force {
		spec = "+" + spec
	}
	// The pack is made without deltas: the objects of one commit are
	// mostly new files, and a delta search over thousands of them costs
	// more time than the bytes it saves take to send.
	remote := git.NewRemote(noDeltas{r.net.st}, remoteConfig(r.url))
	return remote.PushContext(ctx, &git.PushOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{spec},
		Progress:   remoteMsg,
		Force:      force,
	})
}

// pushOwnPack sends the pack Commit wrote for c as it is, when that pack is
// all the remote lacks: every parent of c is the tip of one of the remote's
// refs (or c is a root commit). It updates name only from its advertised
// value to c, and unless force only when that value is a parent of c; in
// every other case it sends nothing and returns sent false, leaving the
// push to pushObjects. netMu is held.
func (r *Repo) pushOwnPack(ctx context.Context, c *object.Commit, name plumbing.ReferenceName, force bool, remoteMsg io.Writer) (sent bool, err error) {
	r.mu.Lock()
	pack, ok := r.packed.get(c.Hash)
	r.mu.Unlock()
	if !ok {
		return false, nil
	}
	f, err := os.Open(filepath.Join(r.path, "objects", "pack", "pack-"+pack.String()+".pack"))
	if err != nil {
		return false, nil // repacked since: the objects are in another pack
	}
	defer f.Close()
	ep, err := transport.NewEndpoint(r.url)
	if err != nil {
		return false, err
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return false, err
	}
	sess, err := cl.NewReceivePackSession(ep, nil) // the boundary adds the credentials
	if err != nil {
		return false, err
	}
	defer sess.Close()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return false, err
	}
	tips := map[plumbing.Hash]bool{}
	for _, h := range ar.References {
		tips[h] = true
	}
	old := ar.References[name.String()]
	if old == c.Hash {
		return true, git.NoErrAlreadyUpToDate
	}
	for _, p := range c.ParentHashes {
		if !tips[p] {
			return false, nil // the remote may lack more than this pack
		}
	}
	if !old.IsZero() && !force && !slices.Contains(c.ParentHashes, old) {
		return false, nil // whether it is a fast-forward takes a walk
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(ar.Capabilities)
	req.Progress = remoteMsg
	if ar.Capabilities.Supports(capability.Sideband64k) {
		_ = req.Capabilities.Set(capability.Sideband64k)
	} else if ar.Capabilities.Supports(capability.Sideband) {
		_ = req.Capabilities.Set(capability.Sideband)
	}
	req.Commands = []*packp.Command{{Name: name, Old: old, New: c.Hash}}
	req.Packfile = f
	rs, err := sess.ReceivePack(ctx, req)
	if err != nil {
		return true, err
	}
	if rs != nil {
		if err := rs.Error(); err != nil {
			return true, err
		}
	}
	// As go-git's push does: the tracking branch follows.
	if branch, ok := strings.CutPrefix(name.String(), "refs/heads/"); ok {
		tracking := plumbing.NewHashReference(plumbing.ReferenceName("refs/remotes/"+remoteName+"/"+branch), c.Hash)
		if err := r.net.st.SetReference(tracking); err != nil {
			return true, fmt.Errorf("update %s: %w", tracking.Name(), err)
		}
	}
	return true, nil
}

// noDeltas is a clone's storage whose configuration asks for packs
// without deltas (pack.window 0), for go-git's push.
type noDeltas struct{ *filesystem.Storage }

// Config returns the clone's configuration with pack.window 0.
func (s noDeltas) Config() (*config.Config, error) {
	cfg, err := s.Storage.Config()
	if err != nil {
		return nil, err
	}
	cfg.Pack.Window = 0
	return cfg, nil
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
	case strings.Contains(text, "non-fast-forward"), strings.Contains(text, "fetch first"),
		// Another push moved the branch after the remote advertised it:
		// its compare-and-swap failed ("cannot lock ref 'refs/heads/main':
		// is at X but expected Y"), which is the same race.
		strings.Contains(remoteMsg, "cannot lock ref"), strings.Contains(remoteMsg, "incorrect old value provided"):
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

// DeleteBranch deletes branch (a name or a full "refs/heads/..." ref) on
// the remote, and its tracking branch in the clone. A branch the remote
// does not have is not an error. The remote's Policy and auth's origin are
// checked as for Push; a deletion the remote refuses is ErrPushRejected.
func (r *Repo) DeleteBranch(ctx context.Context, auth Auth, branch string) error {
	ctx, err := r.b.begin(ctx, r.url, auth)
	if err != nil {
		return r.refused("delete "+branch, err)
	}
	err = r.deleteBranch(ctx, branch)
	if refusal(err) != nil {
		return r.refused("delete "+branch, err)
	}
	if err != nil {
		return redact(fmt.Errorf("delete %s of %s: %w", branch, r.url, err), auth.Token)
	}
	return nil
}

func (r *Repo) deleteBranch(ctx context.Context, branch string) error {
	name, err := branchRef(branch)
	if err != nil {
		return err
	}
	r.netMu.Lock()
	defer r.netMu.Unlock()
	remote := git.NewRemote(r.net.st, remoteConfig(r.url))
	var remoteMsg bytes.Buffer
	refs, err := remote.ListContext(ctx, &git.ListOptions{})
	if err != nil && !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return err
	}
	present := false
	for _, ref := range refs {
		if ref.Name() == name {
			present = true
		}
	}
	if present {
		err = remote.PushContext(ctx, &git.PushOptions{
			RemoteName: remoteName,
			RefSpecs:   []config.RefSpec{config.RefSpec(":" + name.String())},
			Progress:   &remoteMsg,
		})
		if errors.Is(err, git.NoErrAlreadyUpToDate) {
			err = nil
		}
		if err != nil {
			return classifyPushError(err, remoteMsg.String())
		}
	}
	tracking := plumbing.ReferenceName("refs/remotes/" + remoteName + "/" + name.Short())
	if err := r.net.st.RemoveReference(tracking); err != nil {
		return fmt.Errorf("remove %s: %w", tracking, err)
	}
	r.log.Debug("git push delete", "branch", name.String(), "present", present)
	return nil
}

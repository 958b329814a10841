package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

const (
	// pullSpec keeps pull-request refs (and any other refs/pull/...) of the
	// remote; fetched when a commit is asked for by SHA and the server does
	// not serve SHAs directly.
	pullSpec = "+refs/pull/*:refs/systemsync/pull/*"
	// fetchedRef holds the last commit fetched by SHA, so that its history
	// counts as "have" in later fetches.
	fetchedRef = "refs/systemsync/fetched"
	// recentFetches bounds the fetch results remembered for waiting callers.
	recentFetches = 256
)

// fetchPlan is what to fetch for one ref argument of Fetch.
type fetchPlan struct {
	sha   plumbing.Hash          // set: a commit asked for by SHA
	src   string                 // otherwise: the remote ref
	local plumbing.ReferenceName // and where it is kept
}

func planFetch(ref string) (fetchPlan, error) {
	switch {
	case ref == "":
		return fetchPlan{}, errors.New("empty ref")
	case len(ref) == 40 && plumbing.IsHash(ref):
		return fetchPlan{sha: plumbing.NewHash(strings.ToLower(ref))}, nil
	case ref == "HEAD":
		return fetchPlan{src: "HEAD", local: "refs/systemsync/HEAD"}, nil
	}
	full := ref
	if !strings.HasPrefix(ref, "refs/") {
		full = "refs/heads/" + ref
	}
	name := plumbing.ReferenceName(full)
	if err := name.Validate(); err != nil || !name.IsSafe() || strings.ContainsAny(full, "+:*") {
		return fetchPlan{}, fmt.Errorf("invalid ref name %q", ref)
	}
	if rest, ok := strings.CutPrefix(full, "refs/heads/"); ok {
		return fetchPlan{src: full, local: plumbing.ReferenceName("refs/remotes/" + remoteName + "/" + rest)}, nil
	}
	return fetchPlan{src: full, local: plumbing.ReferenceName("refs/systemsync/" + strings.TrimPrefix(full, "refs/"))}, nil
}

// Fetch fetches ref from the remote and returns the commit SHA it resolved
// to. ref is a branch name ("main"), a full ref ("refs/heads/main",
// "refs/pull/12/head", "refs/tags/v1": an annotated tag gives its commit),
// "HEAD" (the remote's default branch), or a 40-hex commit SHA.
//
// A SHA already in the clone is returned without contacting the remote. A
// SHA is otherwise fetched by SHA when the server advertises that it allows
// it (allow-reachable-sha1-in-want or allow-tip-sha1-in-want); when it does
// not (git http-backend's default), the remote's branches and refs/pull/*
// are fetched and the SHA is looked up among them.
//
// Fetched branches are kept as refs/remotes/origin/<branch>, other refs as
// refs/systemsync/<ref without "refs/">, so later fetches only transfer what
// is new. A remote already up to date is not an error. An empty remote, a
// missing ref or an unknown SHA gives an error wrapping ErrRefNotFound.
//
// A remote the Manager's Policy refuses, directly or through a redirect or
// the address its name resolves to, is a *NotAllowedError (wrapping
// ErrRemoteNotAllowed), with nothing sent to it; credentials for another
// origin are ErrCredentialsOrigin (see Auth).
//
// Fetches of one Repo run one at a time; a caller who waited for another
// caller's fetch of the same ref that started after it called takes that
// fetch's answer.
func (r *Repo) Fetch(ctx context.Context, auth Auth, ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	plan, err := planFetch(ref)
	if err != nil {
		return "", fmt.Errorf("fetch %s from %s: %w", ref, r.url, err)
	}
	if ctx, err = r.b.begin(ctx, r.url, auth); err != nil {
		return "", r.refused(fmt.Sprintf("fetch %s", ref), err)
	}
	arrival := r.fetchSeq.Load()
	r.netMu.Lock()
	defer r.netMu.Unlock()
	if res, ok := r.recent[ref]; ok && res.seq > arrival {
		return res.sha, nil
	}
	seq := r.fetchSeq.Add(1)
	start := time.Now()
	sha, changed, err := r.fetchLocked(ctx, plan)
	received := r.net.takeReceived()
	if changed {
		// New packs or refs: the reading handle must look again; the
		// objects just received are what it is about to read.
		r.mu.Lock()
		r.local.st.Reindex()
		r.local.keep(received)
		r.mu.Unlock()
	}
	if refusal(err) != nil {
		return "", r.refused(fmt.Sprintf("fetch %s", ref), err)
	}
	if err != nil {
		err = redact(fmt.Errorf("fetch %s from %s: %w", ref, r.url, err), auth.Token)
		r.log.Debug("git fetch failed", "ref", ref, "err", err)
		return "", err
	}
	r.remember(ref, seq, sha.String())
	r.log.Debug("git fetch", "ref", ref, "sha", sha.String(), "changed", changed, "took", time.Since(start))
	if changed {
		r.maybeRepack(ctx)
	}
	return sha.String(), nil
}

func (r *Repo) remember(ref string, seq uint64, sha string) {
	if len(r.recent) >= recentFetches {
		for k, v := range r.recent {
			if v.seq+recentFetches < seq {
				delete(r.recent, k)
			}
		}
		if len(r.recent) >= recentFetches {
			clear(r.recent)
		}
	}
	r.recent[ref] = fetched{seq: seq, sha: sha}
}

// fetchLocked runs one fetch with netMu held. changed reports whether the
// clone may have new objects or refs.
func (r *Repo) fetchLocked(ctx context.Context, p fetchPlan) (sha plumbing.Hash, changed bool, err error) {
	if !p.sha.IsZero() {
		return r.fetchSHA(ctx, p.sha)
	}
	changed, err = r.fetchSpecs(ctx, config.RefSpec("+"+p.src+":"+p.local.String()))
	if err != nil {
		return plumbing.ZeroHash, changed, err
	}
	ref, err := r.net.st.Reference(p.local)
	if err != nil {
		return plumbing.ZeroHash, changed, fmt.Errorf("read fetched ref %s: %w", p.local, err)
	}
	c, err := peelToCommit(r.net, ref.Hash())
	return c, changed, err
}

func (r *Repo) fetchSHA(ctx context.Context, sha plumbing.Hash) (plumbing.Hash, bool, error) {
	if c, err := peelToCommit(r.net, sha); err == nil {
		return c, false, nil
	}
	changed, err := r.fetchSpecs(ctx, config.RefSpec("+"+sha.String()+":"+fetchedRef))
	if errors.Is(err, git.ErrExactSHA1NotSupported) || (err != nil && strings.Contains(err.Error(), "not our ref")) {
		r.log.Debug("remote does not serve commits by SHA; fetching its branches and pull requests", "sha", sha.String())
		var more bool
		more, err = r.fetchSpecs(ctx, branchSpec, pullSpec)
		changed = changed || more
	}
	if err != nil {
		return plumbing.ZeroHash, changed, err
	}
	c, err := peelToCommit(r.net, sha)
	if errors.Is(err, ErrNotFound) {
		return plumbing.ZeroHash, changed, fmt.Errorf("%w: commit %s is on no branch or pull request of the remote", ErrRefNotFound, sha)
	}
	return c, changed, err
}

// fetchSpecs runs one go-git fetch of specs. "Already up to date" is not an
// error; an empty remote or a missing ref is ErrRefNotFound.
func (r *Repo) fetchSpecs(ctx context.Context, specs ...config.RefSpec) (changed bool, err error) {
	err = r.net.remote.FetchContext(ctx, &git.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   specs,
		Tags:       git.NoTags,
		Force:      true,
	})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, git.NoErrAlreadyUpToDate):
		return false, nil
	case errors.Is(err, git.NoMatchingRefSpecError{}), errors.Is(err, transport.ErrEmptyRemoteRepository):
		return false, fmt.Errorf("%w: %w", ErrRefNotFound, err)
	default:
		// A failure half way may have left a pack behind.
		return true, err
	}
}

// peelToCommit returns the commit h names, following annotated tags.
// A missing object is ErrNotFound.
func peelToCommit(h *handle, hash plumbing.Hash) (plumbing.Hash, error) {
	for range 10 {
		obj, err := h.repo.Object(plumbing.AnyObject, hash)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return plumbing.ZeroHash, fmt.Errorf("%w: object %s", ErrNotFound, hash)
		}
		if err != nil {
			return plumbing.ZeroHash, err
		}
		switch o := obj.(type) {
		case *object.Commit:
			return o.Hash, nil
		case *object.Tag:
			hash = o.Target
		default:
			return plumbing.ZeroHash, fmt.Errorf("%s is a %s, not a commit", hash, obj.Type())
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("%s: too many nested tags", hash)
}

// refused is the error of an operation (what) that the boundary refused: a
// *NotAllowedError as it is (its text is what a run says), anything else
// (credentials elsewhere) with the operation and remote.
func (r *Repo) refused(what string, err error) error {
	if refused := refusal(err); refused != nil {
		r.log.Debug("remote not allowed", "op", what, "url", refused.URL, "reason", refused.Reason)
		return refused
	}
	return fmt.Errorf("%s from %s: %w", what, r.url, err)
}

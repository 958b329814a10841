package gitrepo

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// CommitInfo is who made a commit and what it says.
type CommitInfo struct {
	SHA            string
	AuthorEmail    string
	CommitterEmail string
	Message        string
}

// errStopWalk ends a walk early; it is not an error.
var errStopWalk = errors.New("stop")

// Commits calls each with the commits reachable from to and not from from
// (git rev-list from..to; from "" means every commit of to), from to back
// through its parents, until each returns false or max commits were seen. It returns whether the
// walk saw every such commit (false when each stopped it or max cut it
// short). Both commits must be in the clone (fetched).
func (r *Repo) Commits(ctx context.Context, from, to string, max int, each func(CommitInfo) bool) (complete bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	complete, err = r.local.commits(ctx, from, to, max, each)
	if err != nil {
		return false, fmt.Errorf("commits %s..%s of %s: %w", from, to, r.url, err)
	}
	return complete, nil
}

func (h *handle) commits(ctx context.Context, from, to string, max int, each func(CommitInfo) bool) (bool, error) {
	toHash, err := parseSHA(to)
	if err != nil {
		return false, err
	}
	tip, err := object.GetCommit(h.st, toHash)
	if err != nil {
		return false, fmt.Errorf("commit %s: %w", to, notFound(err))
	}
	// The commits from reaches: seen first, so the walk from to skips them.
	exclude := map[plumbing.Hash]bool{}
	if from != "" {
		fromHash, err := parseSHA(from)
		if err != nil {
			return false, err
		}
		base, err := object.GetCommit(h.st, fromHash)
		if err != nil {
			return false, fmt.Errorf("commit %s: %w", from, notFound(err))
		}
		err = object.NewCommitPreorderIter(base, nil, nil).ForEach(func(c *object.Commit) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			exclude[c.Hash] = true
			return nil
		})
		if err != nil {
			return false, err
		}
	}
	seen := 0
	complete := true
	err = object.NewCommitPreorderIter(tip, exclude, nil).ForEach(func(c *object.Commit) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if seen == max {
			complete = false
			return errStopWalk
		}
		seen++
		if !each(CommitInfo{SHA: c.Hash.String(), AuthorEmail: c.Author.Email, CommitterEmail: c.Committer.Email, Message: c.Message}) {
			complete = false
			return errStopWalk
		}
		return nil
	})
	if errors.Is(err, errStopWalk) {
		err = nil
	}
	return complete, err
}

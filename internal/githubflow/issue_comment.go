package githubflow

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/google/go-github/v60/github"
)

// HelpText answers `/systemsync help`, a bare `/systemsync` and an unknown command.
const HelpText = `### System Sync commands

| comment | what it does |
| --- | --- |
| ` + "`/systemsync plan`" + ` | plan this pull request again and update the plan comment and the ` + "`systemsync/plan`" + ` check |
| ` + "`/systemsync help`" + ` | show this help |

Commands are honoured from users with write access to the repository. Merging the pull request applies its plan.
`

// issueCommentHandler answers /systemsync commands on pull requests.
type issueCommentHandler struct{ *App }

// issueCommentJob is what a /systemsync command stores: the command, read
// once from the comment when it arrived, and where and by whom.
type issueCommentJob struct {
	// Command is the word after /systemsync on the comment's first line:
	// plan, help, another (unknown) word, or "" for a bare /systemsync.
	Command      string       `json:"command"`
	Number       int          `json:"number"`
	User         string       `json:"user"`
	Repository   repository   `json:"repository"`
	Installation installation `json:"installation"`
}

// issueCommentEvent is the part of an issue_comment delivery the bot reads.
type issueCommentEvent struct {
	Action string `json:"action"`
	Issue  struct {
		Number      int             `json:"number"`
		PullRequest json.RawMessage `json:"pull_request"`
	} `json:"issue"`
	Comment struct {
		Body string  `json:"body"`
		User account `json:"user"`
	} `json:"comment"`
	Repository   repository   `json:"repository"`
	Installation installation `json:"installation"`
}

// maxCommandBytes bounds the command word kept in a job.
const maxCommandBytes = 100

func (issueCommentHandler) Handles() []string { return []string{"issue_comment"} }

// accept takes a new comment on a pull request whose first line starts
// with the word /systemsync. Whether its author may run it is checked
// when the job runs.
func (issueCommentHandler) accept(event string, payload []byte) (any, string, error) {
	var ev issueCommentEvent
	if err := decode(event, payload, &ev); err != nil {
		return nil, "", err
	}
	line, _, _ := strings.Cut(strings.TrimSpace(ev.Comment.Body), "\n")
	words := strings.Fields(line)
	switch {
	case ev.Action != "created":
		return nil, "action " + clip(ev.Action, 80), nil
	case len(ev.Issue.PullRequest) == 0 || string(ev.Issue.PullRequest) == "null":
		return nil, "not a pull request", nil
	case len(words) == 0 || words[0] != "/systemsync":
		return nil, "not a /systemsync command", nil
	case ev.Installation.ID == 0:
		return nil, "", errNoInstallation
	case ev.Issue.Number <= 0:
		return nil, "", fmt.Errorf("issue_comment: issue.number %d is not a pull request number", ev.Issue.Number)
	}
	job := &issueCommentJob{Number: ev.Issue.Number, User: ev.Comment.User.Login, Repository: ev.Repository, Installation: ev.Installation}
	if len(words) > 1 {
		job.Command = clip(words[1], maxCommandBytes)
	}
	return job, "", nil
}

// work plans for `/systemsync plan` from a user with write access, and
// answers anything else with the help.
func (h issueCommentHandler) work(ctx context.Context, log *slog.Logger, event string, data []byte) error {
	job, err := decodeJob[issueCommentJob](event, data)
	if err != nil {
		return err
	}
	owner, name := job.Repository.ownerName()
	gh, err := h.installationClient(job.Installation.ID)
	if err != nil {
		return err
	}
	reply := func(body string) error {
		if _, _, err := gh.Issues.CreateComment(ctx, owner, name, job.Number, &github.IssueComment{Body: &body}); err != nil {
			return fmt.Errorf("reply on #%d: %w", job.Number, err)
		}
		return nil
	}
	switch job.Command {
	case "plan":
	case "", "help": // help is for anyone
		return reply(HelpText)
	default:
		return reply(fmt.Sprintf("Unknown command `/systemsync %s`.\n\n", job.Command) + HelpText)
	}
	perm, _, err := gh.Repositories.GetPermissionLevel(ctx, owner, name, job.User)
	if err != nil {
		return fmt.Errorf("permission of %s: %w", job.User, err)
	}
	switch perm.GetPermission() {
	case "admin", "maintain", "write":
	default:
		log.Info("command refused: no write access", "user", job.User, "command", job.Command)
		return reply(fmt.Sprintf("@%s `/systemsync %s` needs write access to %s.", job.User, job.Command, job.Repository.FullName))
	}
	return h.planCurrent(ctx, log, job.Installation.ID, job.Repository, gh, job.Number)
}

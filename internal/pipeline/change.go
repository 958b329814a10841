package pipeline

import (
	"encoding/json"
	"time"

	"github.com/systemsync/systemsync/internal/spec"
)

// Change is one change the system made, as its event log tells it. As JSON
// (a run's event payload, the changes kept for a failed export) it is
// written in the API's style:
//
//	{"kind": "Namespace", "project": "default", "name": "team-a",
//	 "type": "Update", "user": "alice@example.com", "time": "…", "revision": 42}
//
// with "own": true on the bot's own applies of Git changes.
type Change struct {
	Key      spec.Key
	Type     string    // Create, Update or Delete
	User     string    // who made it (email); the bot's own for its applies; "" when unknown
	Time     time.Time // when, as the event log says; zero when unknown
	Revision int64     // the event log's revision of the change; 0 when unknown
	Own      bool      // the bot's own apply of a Git change
}

// changeJSON is Change as JSON.
type changeJSON struct {
	Kind     string     `json:"kind"`
	Project  string     `json:"project,omitempty"`
	Name     string     `json:"name"`
	Type     string     `json:"type"`
	User     string     `json:"user,omitempty"`
	Time     *time.Time `json:"time,omitempty"`
	Revision int64      `json:"revision,omitempty"`
	Own      bool       `json:"own,omitempty"`
}

// MarshalJSON writes the change in the API's style.
func (c Change) MarshalJSON() ([]byte, error) {
	j := changeJSON{Kind: c.Key.Kind, Project: c.Key.Project, Name: c.Key.Name, Type: c.Type, User: c.User, Revision: c.Revision, Own: c.Own}
	if !c.Time.IsZero() {
		t := c.Time.UTC()
		j.Time = &t
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a change in the API's style, or as earlier versions
// of the bot kept it (Go's field names: {"Key": {"Kind", "Project",
// "Name"}, "Type", "User", "Own"}).
func (c *Change) UnmarshalJSON(data []byte) error {
	var j struct {
		changeJSON
		Key *spec.Key `json:"Key"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*c = Change{Key: spec.Key{Kind: j.Kind, Project: j.Project, Name: j.Name}, Type: j.Type, User: j.User, Revision: j.Revision, Own: j.Own}
	if j.Key != nil {
		c.Key = *j.Key
	}
	if j.Time != nil {
		c.Time = *j.Time
	}
	return nil
}

// changesPayload is the event payload of a run the system's changes
// started: the changes, and the user who made the latest (the bot's own
// applies do not count).
func changesPayload(changes []Change) []byte {
	user := ""
	for i := len(changes) - 1; i >= 0 && user == ""; i-- {
		if !changes[i].Own {
			user = changes[i].User
		}
	}
	b, _ := json.Marshal(map[string]any{"changes": changes, "user": user})
	return b
}

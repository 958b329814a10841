package pipeline_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/spec"
)

// A change is written in the API's style, and read back from it or from
// the Go field names earlier versions kept pending exports in.
func TestChangeJSON(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	c := pipeline.Change{Key: spec.Key{Kind: "Namespace", Project: "default", Name: "a"}, Type: "Update", User: "alice@example.com", Time: at, Revision: 42}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `{"kind":"Namespace","project":"default","name":"a","type":"Update","user":"alice@example.com","time":"2025-03-04T05:06:07Z","revision":42}` {
		t.Fatalf("JSON %s", got)
	}
	var back pipeline.Change
	if err := json.Unmarshal(b, &back); err != nil || back != c {
		t.Fatalf("read back %+v, %v", back, err)
	}
	project := pipeline.Change{Key: spec.Key{Kind: "Project", Name: "p"}, Type: "Create", Own: true}
	if b, _ := json.Marshal(project); string(b) != `{"kind":"Project","name":"p","type":"Create","own":true}` {
		t.Fatalf("JSON %s", b)
	}
	var old []pipeline.Change
	if err := json.Unmarshal([]byte(`[{"Key":{"Kind":"Namespace","Project":"default","Name":"a"},"Type":"Delete","User":"bob@example.com"},{"Key":{"Kind":"Project","Project":"","Name":"p"},"Type":"Create","User":"","Own":true}]`), &old); err != nil {
		t.Fatal(err)
	}
	if old[0] != (pipeline.Change{Key: spec.Key{Kind: "Namespace", Project: "default", Name: "a"}, Type: "Delete", User: "bob@example.com"}) ||
		old[1] != (pipeline.Change{Key: spec.Key{Kind: "Project", Name: "p"}, Type: "Create", Own: true}) {
		t.Fatalf("the old form read as %+v", old)
	}
}

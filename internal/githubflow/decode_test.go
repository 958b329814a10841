package githubflow

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzDecodeWebhook feeds each event's decode (accept) payloads: real
// deliveries from testdata/github-webhooks and whatever the fuzzer makes of
// them. It must never panic; it refuses with an error, ignores with a
// reason, or returns a job that stores as JSON, reads back as itself, and
// is not larger than the payload makes it.
//
//	go test -run '^$' -fuzz FuzzDecodeWebhook -fuzztime 10s ./internal/githubflow
func FuzzDecodeWebhook(f *testing.F) {
	dirs, err := filepath.Glob("../../testdata/github-webhooks/*")
	if err != nil || len(dirs) == 0 {
		f.Fatalf("no webhook payloads: %v", err)
	}
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(filepath.Base(dir), data)
		}
	}
	for _, ev := range []string{"push", "pull_request", "issue_comment", "check_run", "installation"} {
		f.Add(ev, []byte(`{}`))
		f.Add(ev, []byte(`null`))
		f.Add(ev, []byte(`{"installation": {"id": 1}, "action": "created"}`))
	}
	events := (&App{}).registry()
	f.Fuzz(func(t *testing.T, event string, payload []byte) {
		h := events[event]
		if h == nil {
			return
		}
		job, ignored, err := h.accept(event, payload)
		switch {
		case err != nil:
			if job != nil || ignored != "" {
				t.Fatalf("refused with %v, yet job %v and ignored %q", err, job, ignored)
			}
			return
		case ignored != "":
			if job != nil {
				t.Fatalf("ignored (%s), yet job %v", ignored, job)
			}
			return
		case job == nil:
			t.Fatal("neither a job, nor ignored, nor refused")
		}
		data, err := encodeJob(job)
		if err != nil {
			t.Fatalf("job does not store: %v", err)
		}
		back := reflect.New(reflect.TypeOf(job).Elem()).Interface()
		if err := json.Unmarshal(data, back); err != nil {
			t.Fatalf("stored job does not read back: %v\n%s", err, data)
		}
		if again, _ := encodeJob(back); string(again) != string(data) {
			t.Fatalf("stored job reads back otherwise:\n%s\n%s", data, again)
		}
		// Kept fields are the payload's own (an invalid UTF-8 byte becomes a
		// 3-byte U+FFFD), plus the empty fields of the job's type.
		if len(data) > 3*len(payload)+4096 {
			t.Fatalf("a %d-byte payload stores a %d-byte job", len(payload), len(data))
		}
	})
}

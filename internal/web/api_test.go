package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/pipeline"
	"github.com/systemsync/systemsync/internal/store/storetest"
	"github.com/systemsync/systemsync/internal/web"
)

type server struct {
	url  string
	keys *controller.Keys
}

// start serves the controller API and the bot's API on one mux, as the
// server does, over a fresh database with an admin key.
func start(t *testing.T) *server {
	t.Helper()
	db := storetest.Open(t)
	keys := controller.NewKeys(db)
	if _, _, err := keys.Claim(context.Background(), controller.SlotAdmin, "admin-key", "admin@example.com", access.Admin); err != nil {
		t.Fatal(err)
	}
	if _, _, err := keys.Claim(context.Background(), controller.SlotBot, "bot-key", "bot@example.com", access.Admin); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mux := http.NewServeMux()
	mux.Handle("/apis/", controller.NewAPI(controller.NewStore(db), keys, log))
	noRuns := func(ctx context.Context, project, name string) ([]int64, error) {
		t.Errorf("a run of %s/%s was started", project, name)
		return nil, nil
	}
	web.NewAPI(pipeline.NewRuns(db), keys, noRuns, log).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &server{url: srv.URL, keys: keys}
}

type answer struct {
	code int
	raw  string
	hdr  http.Header
}

func (s *server) do(t *testing.T, key, method, path, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("X-API-KEY", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, raw: string(raw), hdr: resp.Header}
}

// wantError checks an answer in the controller's error shape.
func wantError(t *testing.T, a answer, code int, msg string) {
	t.Helper()
	var eb controller.ErrorBody
	if a.code != code || json.Unmarshal([]byte(a.raw), &eb) != nil || eb.Code != code || len(eb.External) == 0 || !strings.Contains(eb.Internal, msg) {
		t.Fatalf("answer %d %s, want %d {code, external, internal} saying %q", a.code, a.raw, code, msg)
	}
}

type created struct {
	controller.Key
	Secret string `json:"key"`
}

func TestKeysAPIIsAdminOnly(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	_, viewer, _ := s.keys.Create(ctx, "vera@example.com", access.Viewer)
	_, editor, _ := s.keys.Create(ctx, "ed@example.com", access.Editor)
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/keys", ""},
		{"POST", "/api/keys", `{"email":"x@example.com","role":"admin"}`},
		{"DELETE", "/api/keys/whatever", ""},
	} {
		wantError(t, s.do(t, "", r.method, r.path, r.body), 401, "missing X-API-KEY")
		wantError(t, s.do(t, "ss_wrong", r.method, r.path, r.body), 401, "unknown API key")
		wantError(t, s.do(t, viewer, r.method, r.path, r.body), 403, "role viewer may not manage keys")
		wantError(t, s.do(t, editor, r.method, r.path, r.body), 403, "role editor may not manage keys")
	}
	// The bot's API answers viewers what they may read, and refuses them the Run button.
	if a := s.do(t, viewer, "GET", "/api/pipelines/default/system-sync/runs", ""); a.code != 200 || !strings.Contains(a.raw, `"items"`) {
		t.Fatalf("viewer lists runs: %d %s", a.code, a.raw)
	}
	wantError(t, s.do(t, viewer, "GET", "/api/runs/12", ""), 404, "run not found")
	wantError(t, s.do(t, viewer, "POST", "/api/pipelines/default/system-sync/run", ""), 403, "role viewer may not run pipelines")
	list := s.do(t, "admin-key", "GET", "/api/keys", "")
	if list.code != 200 || strings.Contains(list.raw, "admin-key") || strings.Contains(list.raw, "hash") {
		t.Fatalf("list: %d %s", list.code, list.raw)
	}
}

func TestKeysAPICreatesListsAndRevokes(t *testing.T) {
	s := start(t)
	a := s.do(t, "admin-key", "POST", "/api/keys", `{"email":"alice@example.com","role":"editor"}`)
	var k created
	if a.code != 201 || json.Unmarshal([]byte(a.raw), &k) != nil || k.ID == "" || k.Email != "alice@example.com" || k.Role != access.Editor || !strings.HasPrefix(k.Secret, "ss_") || k.RevokedAt != nil {
		t.Fatalf("create: %d %s", a.code, a.raw)
	}
	if a.hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("the answer with the key may be cached: %v", a.hdr)
	}
	// The new key works, as an editor.
	ns := "apiVersion: system.k8smgmt.io/v3\nkind: Project\nmetadata:\n  name: alices\n"
	if a := s.do(t, k.Secret, "POST", "/apis/system.k8smgmt.io/v3/projects", ns); a.code != 201 {
		t.Fatalf("the new key applies: %d %s", a.code, a.raw)
	}
	// No role: a viewer.
	a = s.do(t, "admin-key", "POST", "/api/keys", `{"email":"bob@example.com"}`)
	var v created
	if a.code != 201 || json.Unmarshal([]byte(a.raw), &v) != nil || v.Role != access.Viewer {
		t.Fatalf("create without a role: %d %s", a.code, a.raw)
	}
	for _, bad := range []struct{ body, msg string }{
		{`{"email":"carol@example.com","role":"owner"}`, `role "owner": want admin, editor or viewer`},
		{`{"email":"carol","role":"viewer"}`, "is not an address"},
		{`{"email":"carol@example.com","rol":"admin"}`, `unknown field "rol"`},
		{`not json`, "want JSON"},
		{`{"email":"carol@example.com"} {}`, "one JSON object"},
	} {
		wantError(t, s.do(t, "admin-key", "POST", "/api/keys", bad.body), 400, bad.msg)
	}
	list := s.do(t, "admin-key", "GET", "/api/keys", "")
	var l struct{ Items []controller.Key }
	if list.code != 200 || json.Unmarshal([]byte(list.raw), &l) != nil || len(l.Items) != 4 {
		t.Fatalf("list: %d %s", list.code, list.raw)
	}
	if strings.Contains(list.raw, k.Secret) || strings.Contains(list.raw, v.Secret) || strings.Contains(list.raw, `"key"`) {
		t.Fatalf("the list tells a key: %s", list.raw)
	}
	r := s.do(t, "admin-key", "DELETE", "/api/keys/"+k.ID, "")
	var rk controller.Key
	if r.code != 200 || json.Unmarshal([]byte(r.raw), &rk) != nil || rk.ID != k.ID || rk.RevokedAt == nil {
		t.Fatalf("revoke: %d %s", r.code, r.raw)
	}
	wantError(t, s.do(t, k.Secret, "GET", "/apis/system.k8smgmt.io/v3/projects", ""), 401, "revoked API key")
	wantError(t, s.do(t, k.Secret, "GET", "/api/pipelines/default/system-sync/runs", ""), 401, "revoked API key")
	wantError(t, s.do(t, "admin-key", "DELETE", "/api/keys/nosuchkey", ""), 404, `no API key "nosuchkey"`)
}

// TestRevokingTheLastAdminKeyIsRefused: an admin revoking its own key, the
// last admin key but the bot's, would leave nobody to manage keys: 409.
// With another admin key it may.
func TestRevokingTheLastAdminKeyIsRefused(t *testing.T) {
	s := start(t)
	var own, bot controller.Key
	all, err := s.keys.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range all {
		switch k.Slot {
		case controller.SlotAdmin:
			own = k
		case controller.SlotBot:
			bot = k
		}
	}
	wantError(t, s.do(t, "admin-key", "DELETE", "/api/keys/"+own.ID, ""), 409, "the last admin key")
	wantError(t, s.do(t, "admin-key", "DELETE", "/api/keys/"+bot.ID, ""), 409, "the bot's own")
	if a := s.do(t, "admin-key", "GET", "/api/keys", ""); a.code != 200 {
		t.Fatalf("the refused revocations took the key: %d %s", a.code, a.raw)
	}
	a := s.do(t, "admin-key", "POST", "/api/keys", `{"email":"second@example.com","role":"admin"}`)
	var second created
	if a.code != 201 || json.Unmarshal([]byte(a.raw), &second) != nil {
		t.Fatalf("create: %d %s", a.code, a.raw)
	}
	if a := s.do(t, "admin-key", "DELETE", "/api/keys/"+own.ID, ""); a.code != 200 {
		t.Fatalf("revoke own key with another admin: %d %s", a.code, a.raw)
	}
	wantError(t, s.do(t, "admin-key", "GET", "/api/keys", ""), 401, "revoked API key")
	if a := s.do(t, second.Secret, "GET", "/api/keys", ""); a.code != 200 {
		t.Fatalf("the other admin: %d %s", a.code, a.raw)
	}
}

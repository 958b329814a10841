package sessionstore

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/systemsync/systemsync/internal/store/storetest"
)

// TestSessionsThroughSCS puts a value into a session over HTTP, reads it
// back on the next request with the cookie, and finds the database holding
// the token's hash, never the token; destroying the session removes its row.
func TestSessionsThroughSCS(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	st := New(db)
	sm := scs.New()
	sm.Store = st
	sm.HashTokenInStore = true
	mux := http.NewServeMux()
	mux.HandleFunc("POST /put", func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "user", "alice@example.com")
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, sm.GetString(r.Context(), "user"))
	})
	mux.HandleFunc("POST /destroy", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.Destroy(r.Context()); err != nil {
			t.Error(err)
		}
	})
	srv := httptest.NewServer(sm.LoadAndSave(mux))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(method, path string) string {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get("GET", "/get"); got != "" {
		t.Fatalf("a new visitor's session holds %q", got)
	}
	get("POST", "/put")
	if got := get("GET", "/get"); got != "alice@example.com" {
		t.Fatalf("session after put holds %q", got)
	}
	u, _ := http.NewRequest("GET", srv.URL, nil)
	cookies := jar.Cookies(u.URL)
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", cookies)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM sessions WHERE token = ?`, cookies[0].Value).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the database holds the cookie's token itself (%d rows, %v)", n, err)
	}
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d session rows (%v), want 1", n, err)
	}
	get("POST", "/destroy")
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d session rows after destroy (%v), want 0", n, err)
	}
	if got := get("GET", "/get"); got != "" {
		t.Fatalf("a destroyed session still holds %q", got)
	}
}

// TestExpiry finds a session until it expires, not after, and
// DeleteExpired removes only the expired ones; Commit replaces data.
func TestExpiry(t *testing.T) {
	ctx := context.Background()
	st := New(storetest.Open(t))
	t0 := time.Now()
	st.now = func() time.Time { return t0 }
	if err := st.CommitCtx(ctx, "a", []byte("one"), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.CommitCtx(ctx, "a", []byte("two"), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.CommitCtx(ctx, "b", []byte{0, 1, 2, 255}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if b, ok, err := st.FindCtx(ctx, "a"); err != nil || !ok || string(b) != "two" {
		t.Fatalf("find a: %q %v %v", b, ok, err)
	}
	if b, ok, err := st.FindCtx(ctx, "b"); err != nil || !ok || string(b) != "\x00\x01\x02\xff" {
		t.Fatalf("find b: %q %v %v", b, ok, err)
	}
	st.now = func() time.Time { return t0.Add(2 * time.Minute) }
	if _, ok, err := st.FindCtx(ctx, "a"); err != nil || ok {
		t.Fatalf("an expired session was found (%v)", err)
	}
	if n, err := st.DeleteExpired(ctx); err != nil || n != 1 {
		t.Fatalf("DeleteExpired: %d, %v; want 1", n, err)
	}
	if _, ok, err := st.FindCtx(ctx, "b"); err != nil || !ok {
		t.Fatalf("the live session went with the expired one (%v)", err)
	}
	if err := st.DeleteCtx(ctx, "unknown"); err != nil {
		t.Fatalf("deleting an unknown token: %v", err)
	}
}

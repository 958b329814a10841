package githubflow

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"
)

// rawPost opens a connection to srv and sends the headers of a POST to
// the webhook with a body of contentLength bytes, and the first sent bytes
// of it; the connection stays open for the rest.
func rawPost(t *testing.T, srv *httptest.Server, contentLength, sent int, sig string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"X-GitHub-Event: push\r\nX-GitHub-Delivery: d-1\r\nX-Hub-Signature-256: %s\r\n\r\n", Route, contentLength, sig)
	if sent > 0 {
		if _, err := c.Write([]byte(strings.Repeat("x", sent))); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// readAnswer reads the answer on c, within 10 s.
func readAnswer(t *testing.T, c net.Conn) *http.Response {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// At most MaxBodiesInFlight bytes of bodies are held at once, counted at
// their Content-Length before they are read: one more waits, then gets 503
// with Retry-After, and gets through once a body in flight is done.
func TestWebhookBodiesInFlightHaveABudget(t *testing.T) {
	h := &webhook{secret: []byte("s3cret"), log: slog.New(slog.DiscardHandler),
		budget: semaphore.NewWeighted(MaxBodiesInFlight), wait: 200 * time.Millisecond}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	wrong := "sha256=" + strings.Repeat("0", 64) // the form of a signature, not the body's

	// Four deliveries of GitHub's largest size take the whole budget while
	// their bodies arrive.
	var held []net.Conn
	for range 4 {
		held = append(held, rawPost(t, srv, MaxPayloadBytes, 1024, wrong))
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.budget.TryAcquire(1) {
		h.budget.Release(1)
		if time.Now().After(deadline) {
			t.Fatal("four 25 MiB deliveries in flight do not hold the budget")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// A fifth, however small, waits for room, then is told to come back.
	res := readAnswer(t, rawPost(t, srv, 2, 2, wrong))
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("a delivery beyond the budget: %d, Retry-After %q; want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}

	// One of the four ends (its body arrives, its signature is wrong): the
	// next small delivery is read and checked.
	if _, err := held[0].Write([]byte(strings.Repeat("x", MaxPayloadBytes-1024))); err != nil {
		t.Fatal(err)
	}
	if res := readAnswer(t, held[0]); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the finished 25 MiB delivery: %d, want 401", res.StatusCode)
	}
	if res := readAnswer(t, rawPost(t, srv, 2, 2, wrong)); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a small delivery with room in the budget: %d, want 401 (read, then its signature refused)", res.StatusCode)
	}
}

// What the headers refuse is refused before the body is read: the answer
// comes while the declared 24 MiB body has not been sent at all.
func TestWebhookRefusesByHeadersBeforeReadingTheBody(t *testing.T) {
	h := &webhook{secret: []byte("s3cret"), log: slog.New(slog.DiscardHandler),
		budget: semaphore.NewWeighted(MaxBodiesInFlight), wait: 200 * time.Millisecond}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	for sig, want := range map[string]int{
		"":                                  http.StatusUnauthorized, // none
		"sha256=00":                         http.StatusUnauthorized, // too short
		"sha1=" + strings.Repeat("0", 40):   http.StatusUnauthorized, // SHA-1
		"sha256=" + strings.Repeat("g", 64): http.StatusUnauthorized, // not hex
	} {
		res := readAnswer(t, rawPost(t, srv, 24<<20, 0, sig))
		if res.StatusCode != want {
			t.Errorf("X-Hub-Signature-256 %q: %d, want %d", sig, res.StatusCode, want)
		}
	}
	// A well-formed signature and no event: 400, also unread.
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nX-GitHub-Delivery: d\r\nX-Hub-Signature-256: sha256=%s\r\n\r\n",
		Route, 24<<20, strings.Repeat("0", 64))
	if res := readAnswer(t, c); res.StatusCode != http.StatusBadRequest {
		t.Errorf("no X-GitHub-Event: %d, want 400", res.StatusCode)
	}
}

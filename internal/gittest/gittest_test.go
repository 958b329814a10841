package gittest

import "testing"

func TestPushAndCloneOverHTTP(t *testing.T) {
	srv := Serve(t)
	url := srv.NewBare(t, "specs")
	w := Clone(t, url)
	sha := w.Write(map[string]string{"projects/default.yaml": "kind: Project\n"}).Commit("first")
	w.Push("main")

	again := Clone(t, url)
	if got := again.Run("rev-parse", "HEAD"); got != sha {
		t.Fatalf("clone over HTTP is at %s, want %s", got, sha)
	}
	if got := again.Run("show", "HEAD:projects/default.yaml"); got != "kind: Project" {
		t.Fatalf("file content %q", got)
	}
}

func TestPushOverOneMebibyte(t *testing.T) {
	srv := Serve(t)
	url := srv.NewBare(t, "big")
	w := Clone(t, url)
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i*7919 + i/13) // poorly compressible
	}
	w.Write(map[string]string{"blob.bin": string(big)}).Commit("big")
	w.Push("main")
	if got := Clone(t, url).Run("rev-parse", "HEAD"); got != w.Run("rev-parse", "HEAD") {
		t.Fatal("big push did not arrive")
	}
}

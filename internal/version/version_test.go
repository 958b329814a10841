package version

import "testing"

func TestDevelWithoutLdflags(t *testing.T) {
	if got := String(); got != "devel" {
		t.Fatalf("String() = %q, want devel in a test binary built without -ldflags", got)
	}
	if got := UserAgent(); got != "systemsync/devel" {
		t.Fatalf("UserAgent() = %q", got)
	}
}

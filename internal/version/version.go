// Package version is the bot's version, in one place: set at link time by
//
//	go build -ldflags "-X github.com/systemsync/systemsync/internal/version.version=1.2.3"
//
// (the Dockerfile's VERSION build argument), and "devel" otherwise.
package version

// version is set by the linker; it is never assigned at run time.
var version = "devel"

// String returns the version the binary was built as: the -ldflags value,
// or "devel" for `go run` and `go test`.
func String() string { return version }

// UserAgent is the User-Agent the bot sends to GitHub and other remotes:
// systemsync/<version>.
func UserAgent() string { return "systemsync/" + version }

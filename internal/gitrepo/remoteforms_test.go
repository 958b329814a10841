package gitrepo

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/storage/memory"
)

// An scp-like address (git@host:path) has no "://", but go-git reads it
// as SSH to host, not as a local path: the boundary refuses it, in every
// mode, so the policy and the transport never disagree.
func TestSCPLikeRemotesAreRefused(t *testing.T) {
	dir := t.TempDir()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chdir(wd) })
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	// file://<dir> allows every local path under dir: the working directory.
	p, err := NewPolicy("https://github.com/", []string{"file://" + dir})
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(t.TempDir(), nil, AllowAll())
	t.Cleanup(func() { _ = m.Close() })
	for _, remote := range []string{"git@evil.example.com:x.git", "evil.example.com:acme/x.git", "bob@10.0.0.1:22/x.git"} {
		ep, err := transport.NewEndpoint(remote)
		if err != nil || ep.Protocol != "ssh" {
			t.Fatalf("go-git reads %q as %v (%v): the test means an address go-git dials over SSH", remote, ep, err)
		}
		var na *NotAllowedError
		if err := p.Check(remote); !errors.As(err, &na) {
			t.Errorf("policy: %q: %v, want it refused", remote, err)
		}
		if _, err := m.Repo(t.Context(), remote); err == nil {
			t.Errorf("local mode's manager opened a clone of %q", remote)
		}
	}
	// Local paths are still local paths, a ":" after a "/" included.
	for _, local := range []string{"repo.git", "./sub:dir/repo.git", dir + "/a:b.git"} {
		if err := p.Check(local); err != nil {
			t.Errorf("policy: local path %q under the allowed folder refused: %v", local, err)
		}
	}
}

// go-git's ssh and git transports are not installed: a remote with either
// protocol fails before anything is dialled, even when used through go-git
// directly.
func TestSSHAndGitTransportsAreNotInstalled(t *testing.T) {
	for _, scheme := range []string{"ssh", "git"} {
		if _, ok := client.Protocols[scheme]; ok {
			t.Errorf("go-git's %s transport is installed", scheme)
		}
	}
	for _, scheme := range []string{"http", "https", "file"} {
		if client.Protocols[scheme] == nil {
			t.Errorf("the %s transport is missing", scheme)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, remote := range []string{"ssh://git@" + ln.Addr().String() + "/x.git", "git://" + ln.Addr().String() + "/x.git", "git@" + ln.Addr().String() + ":x.git"} {
		r := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{remote}})
		if _, err := r.List(&git.ListOptions{}); err == nil {
			t.Errorf("go-git listed %s", remote)
		} else {
			t.Logf("%s: %v", remote, err)
		}
	}
	// Nothing connected: a dial would be in the listener's queue by now.
	if err := ln.(*net.TCPListener).SetDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if c, err := ln.Accept(); err == nil {
		c.Close()
		t.Fatal("go-git dialled the listener")
	}
}

package gitrepo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

const (
	remoteName = "origin"
	// branchSpec is the remote's fetch refspec: branches are kept under
	// refs/remotes/origin/, and a push updates them there too.
	branchSpec = "+refs/heads/*:refs/remotes/origin/*"
	// objectCacheSize bounds the decoded objects each open clone keeps.
	objectCacheSize = 16 * cache.MiByte
	// openPacks is how many pack files each open clone keeps open.
	openPacks = 16
	// largeObject is the size past which go-git reads a loose object
	// lazily instead of at once.
	largeObject = 1 << 20
	// defaultMaxPacks is the pack count past which a fetch repacks.
	defaultMaxPacks = 50
)

// Manager keeps one cached bare clone per remote under its folder, as
// <dir>/<host and path, sanitised>-<12 hex of the URL's hash>.git. Clones
// survive restarts: a Manager over the same folder finds them again. It is
// safe for concurrent use within one process; two processes must not share
// a folder.
type Manager struct {
	dir string
	log *slog.Logger
	b   *boundary

	mu    sync.Mutex
	repos map[string]*Repo
}

// NewManager returns a Manager keeping its clones under dir (created when
// needed), reaching only the remotes policy allows (nil allows none; local
// mode is AllowAll). log may be nil (no logging).
func NewManager(dir string, log *slog.Logger, policy *Policy) *Manager {
	if policy == nil {
		policy = &Policy{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs // a later chdir does not move the clones
	}
	return &Manager{dir: dir, log: log, b: newBoundary(policy), repos: map[string]*Repo{}}
}

// Check reports whether the Manager's policy allows remoteURL, as Fetch
// and Push check it before anything is sent: nil, or a *NotAllowedError
// (wrapping ErrRemoteNotAllowed). The addresses a host name resolves to
// are checked when a fetch dials it.
func (m *Manager) Check(remoteURL string) error {
	return m.b.policy.Check(strings.TrimSpace(remoteURL))
}

// Repo returns the cached clone of remoteURL, creating it (an empty bare
// repository with remoteURL as its origin) on first use; nothing is fetched
// until Fetch. remoteURL is an http(s):// or file:// URL or a local path
// (made absolute); it must not carry credentials (pass an Auth to Fetch and
// Push instead). Safe for concurrent use: the same URL always gives the same
// *Repo.
func (m *Manager) Repo(ctx context.Context, remoteURL string) (*Repo, error) {
	remoteURL = strings.TrimSpace(remoteURL)
	if err := checkRemoteURL(remoteURL); err != nil {
		return nil, fmt.Errorf("open clone of %s: %w", RedactURL(remoteURL), err)
	}
	if !strings.Contains(remoteURL, "://") {
		// A local path: the same folder whatever the working directory.
		if abs, err := filepath.Abs(remoteURL); err == nil {
			remoteURL = abs
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open clone of %s: %w", remoteURL, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.repos[remoteURL]; ok {
		return r, nil
	}
	path := filepath.Join(m.dir, cloneDirName(remoteURL))
	r, err := openRepo(path, remoteURL, m.log, m.b)
	if err != nil {
		return nil, fmt.Errorf("open clone of %s in %s: %w", remoteURL, path, err)
	}
	m.repos[remoteURL] = r
	return r, nil
}

// Close releases the open files of every clone. The Manager and its Repos
// must not be used afterwards.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, r := range m.repos {
		errs = append(errs, r.close())
	}
	m.repos = map[string]*Repo{}
	m.b.close()
	return errors.Join(errs...)
}

// checkRemoteURL refuses URLs that are empty, unparseable or carry
// credentials.
func checkRemoteURL(remoteURL string) error {
	if remoteURL == "" {
		return errors.New("empty remote URL")
	}
	if !strings.Contains(remoteURL, "://") {
		return checkLocalPath(remoteURL)
	}
	u, err := url.Parse(remoteURL)
	if err != nil {
		return errors.New("remote URL does not parse")
	}
	switch u.Scheme {
	case "http", "https", "file":
	default:
		return fmt.Errorf("unsupported remote URL scheme %q (want http, https or file)", u.Scheme)
	}
	if u.User != nil {
		return errors.New("remote URL carries credentials; pass them as Auth instead")
	}
	return nil
}

// cloneDirName names the clone of remoteURL: readable host and path, made
// unique by a hash of the whole URL.
func cloneDirName(remoteURL string) string {
	sum := sha256.Sum256([]byte(remoteURL))
	name := remoteURL
	if u, err := url.Parse(remoteURL); err == nil && u.Scheme != "" {
		name = u.Host + u.Path
	}
	name = strings.TrimSuffix(strings.TrimSuffix(name, "/"), ".git")
	var b strings.Builder
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	clean := strings.Trim(b.String(), "._")
	if len(clean) > 80 {
		clean = clean[len(clean)-80:]
	}
	if clean == "" {
		clean = "repo"
	}
	return clean + "-" + hex.EncodeToString(sum[:6]) + ".git"
}

// Repo is the cached bare clone of one remote. It is safe for concurrent
// use: fetches and pushes run one at a time, and so do reads and commits,
// but a read does not wait for a fetch's network transfer.
type Repo struct {
	url  string // the remote, without credentials
	path string // the bare clone on disk
	log  *slog.Logger
	b    *boundary // what Fetch and Push may reach

	// netMu serialises Fetch and Push, which use net: a go-git repository
	// of their own on the same folder.
	netMu sync.Mutex
	net   *handle
	// recent remembers, per ref, the last successful fetch and the value of
	// fetchSeq it started with, so that callers who waited for a fetch that
	// began after they called take its answer instead of fetching again.
	recent   map[string]fetched
	fetchSeq atomic.Uint64
	maxPacks int

	// mu serialises reads and commits, which use local.
	mu     sync.Mutex
	local  *handle
	packed commitPacks // commits stored as a pack of their own; under mu
}

type fetched struct {
	seq uint64
	sha string
}

// handle is one go-git view of the clone. go-git's filesystem storage is not
// safe for concurrent use, so each handle is used under one mutex.
type handle struct {
	st     *filesystem.Storage
	cache  cache.Object // st's object cache
	repo   *git.Repository
	remote *git.Remote

	// received is the objects of the packs fetches stored through this
	// handle, for the reading handle's cache; taken by takeReceived.
	received []*packedObject
	// streamMin is the object count from which a fetched pack is indexed
	// as it arrives (streamIndexMin; tests lower it).
	streamMin int
}

// openHandle opens the clone at path. With receive, the packs its remote
// fetches are indexed by a packReceiver, which keeps their objects in
// received.
func openHandle(path, remoteURL string, receive bool) (*handle, error) {
	objects := cache.NewObjectLRU(objectCacheSize)
	st := filesystem.NewStorageWithOptions(osfs.New(path), objects,
		filesystem.Options{MaxOpenDescriptors: openPacks, LargeObjectThreshold: largeObject})
	repo, err := git.Open(st, nil)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	h := &handle{st: st, cache: objects, repo: repo, streamMin: streamIndexMin}
	var remoteStorage storage.Storer = st
	if receive {
		remoteStorage = fetchStorage{Storage: st, h: h, path: path}
	}
	h.remote = git.NewRemote(remoteStorage, remoteConfig(remoteURL))
	return h, nil
}

// addReceived keeps objs for takeReceived.
func (h *handle) addReceived(objs []*packedObject) { h.received = append(h.received, objs...) }

// takeReceived returns the objects fetches received since the last call.
func (h *handle) takeReceived() []*packedObject {
	objs := h.received
	h.received = nil
	return objs
}

// keep puts objs in the handle's object cache, at most as many bytes as it
// holds: the last of them, which for a pack are its blobs.
func (h *handle) keep(objs []*packedObject) {
	room := int64(objectCacheSize)
	first := len(objs)
	for first > 0 && objs[first-1].Size() <= room {
		first--
		room -= objs[first].Size()
	}
	for _, o := range objs[first:] {
		h.cache.Put(o)
	}
}

func (h *handle) close() error { return h.st.Close() }

func remoteConfig(remoteURL string) *config.RemoteConfig {
	return &config.RemoteConfig{Name: remoteName, URLs: []string{remoteURL}, Fetch: []config.RefSpec{branchSpec}}
}

// openRepo opens the bare clone at path, creating it first when needed.
func openRepo(path, remoteURL string, log *slog.Logger, b *boundary) (*Repo, error) {
	if err := initBare(path, remoteURL); err != nil {
		return nil, err
	}
	// A fetch cut short (a crash, a cancelled context) can leave a
	// temporary pack behind; nothing else uses the folder yet.
	if tmp, err := filepath.Glob(filepath.Join(path, "objects", "pack", "tmp_pack_*")); err == nil {
		for _, f := range tmp {
			_ = os.Remove(f)
		}
	}
	local, err := openHandle(path, remoteURL, false)
	if err != nil {
		return nil, err
	}
	net, err := openHandle(path, remoteURL, true)
	if err != nil {
		_ = local.close()
		return nil, err
	}
	return &Repo{
		url: remoteURL, path: path, log: log.With("remote", remoteURL), b: b,
		net: net, local: local, recent: map[string]fetched{}, maxPacks: defaultMaxPacks,
	}, nil
}

// initBare makes path a bare repository whose origin is remoteURL.
func initBare(path, remoteURL string) error {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return err
	}
	st := filesystem.NewStorage(osfs.New(path), nil)
	defer st.Close()
	repo, err := git.Open(st, nil)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = git.InitWithOptions(st, nil, git.InitOptions{DefaultBranch: plumbing.Main})
	}
	if err != nil {
		return err
	}
	cfg, err := repo.Config()
	if err != nil {
		return err
	}
	if rc, ok := cfg.Remotes[remoteName]; ok && len(rc.URLs) == 1 && rc.URLs[0] == remoteURL && len(rc.Fetch) == 1 && rc.Fetch[0] == branchSpec {
		return nil
	}
	cfg.Remotes[remoteName] = remoteConfig(remoteURL)
	return repo.SetConfig(cfg)
}

func (r *Repo) close() error {
	r.netMu.Lock()
	defer r.netMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.net.close(), r.local.close())
}

// URL returns the remote this clone follows.
func (r *Repo) URL() string { return r.url }

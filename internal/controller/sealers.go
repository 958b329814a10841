package controller

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/systemsync/systemsync/internal/sealing"
	"github.com/systemsync/systemsync/internal/spec"
	"github.com/systemsync/systemsync/internal/store"
)

// SealerKind is the kind whose resources hold key pairs.
const SealerKind = "SecretSealer"

// SealerType is the spec.type of a sealer the system makes a key pair
// for: kubeseal's format.
const SealerType = "KubeSeal"

// maxSealers bounds the sealers of one project that are read.
const maxSealers = MaxLimit

// Sealers keeps the key pair of every SecretSealer of type KubeSeal: made
// when the sealer is created (or first needed, if that failed), held in
// the database, and never shown but for its certificate. A sealer deleted
// keeps its key, so that making it again under the same name restores
// what it sealed. It is the embedded controller's sealing.Keyring, for the
// bot in the same process. It is safe for concurrent use.
type Sealers struct {
	db    *store.DB
	store *Store
	cache *sealing.Cache

	mu     sync.Mutex
	parsed map[sealerID]*sealing.Key // keys read, by sealer and creation time
}

type sealerID struct{ project, name, created string }

func newSealers(db *store.DB, st *Store) *Sealers {
	return &Sealers{db: db, store: st, cache: sealing.NewCache(), parsed: map[sealerID]*sealing.Key{}}
}

// Sealers returns the store's sealers' keys.
func (s *Store) Sealers() *Sealers { return s.sealers }

// isKubeSeal reports whether obj is a SecretSealer of type KubeSeal.
func isKubeSeal(obj map[string]any) bool {
	sp, _ := obj["spec"].(map[string]any)
	t, _ := sp["type"].(string)
	return obj["kind"] == SealerKind && t == SealerType
}

// afterApply makes the key pair of a KubeSeal sealer just applied, unless
// it has one.
func (s *Sealers) afterApply(ctx context.Context, k spec.Key, obj map[string]any) error {
	if k.Kind != SealerKind || !isKubeSeal(obj) {
		return nil
	}
	if _, _, err := s.ensure(ctx, k.Project, k.Name); err != nil {
		return fmt.Errorf("%s %q: the key pair: %w", k.Kind, k.Name, err)
	}
	return nil
}

// Sealer returns the sealer of project: the keys of its KubeSeal
// SecretSealers, the oldest first (it seals; any unseals), or nil when it
// has none. A sealer whose key pair is missing gets one now.
func (s *Sealers) Sealer(ctx context.Context, project string) (*sealing.Sealer, error) {
	sealers, _, err := s.store.List(ctx, SealerKind, project, maxSealers, 0)
	if err != nil {
		return nil, err
	}
	type held struct {
		key     *sealing.Key
		created string
	}
	var keys []held
	for _, st := range sealers {
		if !isKubeSeal(st.Object) {
			continue
		}
		k, created, err := s.ensure(ctx, project, st.Key.Name)
		if err != nil {
			return nil, fmt.Errorf("SecretSealer %q in project %q: %w", st.Key.Name, project, err)
		}
		keys = append(keys, held{k, created})
	}
	if len(keys) == 0 {
		return nil, nil
	}
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].created < keys[j].created })
	out := make([]*sealing.Key, len(keys))
	for i, h := range keys {
		out[i] = h.key
	}
	return sealing.NewSealer(project, out, s.cache), nil
}

// Certificate returns what may be shown of the key of the SecretSealer
// name in project (its certificate, for kubeseal --cert, and fingerprint),
// or a 404 *Error when the project has no such sealer of type KubeSeal.
func (s *Sealers) Certificate(ctx context.Context, project, name string) (sealing.Certificate, error) {
	st, err := s.store.Get(ctx, spec.Key{Kind: SealerKind, Project: project, Name: name})
	if err != nil {
		return sealing.Certificate{}, err
	}
	if !isKubeSeal(st.Object) {
		return sealing.Certificate{}, errorf(http.StatusNotFound, "SecretSealer %q in project %q is not of type %s: it has no key pair", name, project, SealerType)
	}
	k, _, err := s.ensure(ctx, project, name)
	if err != nil {
		return sealing.Certificate{}, err
	}
	return k.Shown(), nil
}

// ensure returns the key pair of sealer name in project, and when it was
// made, making it first when there is none (of several processes making
// it at once, the first stored wins).
func (s *Sealers) ensure(ctx context.Context, project, name string) (*sealing.Key, string, error) {
	k, created, err := s.read(ctx, project, name)
	if !errors.Is(err, sql.ErrNoRows) {
		return k, created, err
	}
	nk, err := sealing.NewKey(nil, project+"/"+name)
	if err != nil {
		return nil, "", err
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO sealer_keys (project, name, private_key, certificate, created_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (project, name) DO NOTHING`,
		project, name, string(nk.PrivatePEM()), string(nk.CertificatePEM()), time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return nil, "", fmt.Errorf("store the key pair: %w", err)
	}
	return s.read(ctx, project, name)
}

// read returns the stored key pair of sealer name in project
// (sql.ErrNoRows when there is none), parsed once per process.
func (s *Sealers) read(ctx context.Context, project, name string) (*sealing.Key, string, error) {
	var priv, cert, created string
	err := s.db.QueryRow(ctx, `SELECT private_key, certificate, created_at FROM sealer_keys WHERE project = ? AND name = ?`,
		project, name).Scan(&priv, &cert, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", err
	}
	if err != nil {
		return nil, "", fmt.Errorf("read the key pair: %w", err)
	}
	id := sealerID{project, name, created}
	s.mu.Lock()
	k, ok := s.parsed[id]
	s.mu.Unlock()
	if ok {
		return k, created, nil
	}
	if k, err = sealing.ParseKey([]byte(priv), []byte(cert)); err != nil {
		return nil, "", fmt.Errorf("read the key pair: %w", err)
	}
	s.mu.Lock()
	s.parsed[id] = k
	s.mu.Unlock()
	return k, created, nil
}

// view returns st.View(), with a KubeSeal sealer's status: its
// certificate (PEM), fingerprint and expiry (notAfter), never its
// private key.
func (s *Sealers) view(ctx context.Context, st Stored) (map[string]any, error) {
	v := st.View()
	if st.Key.Kind != SealerKind || !isKubeSeal(st.Object) {
		return v, nil
	}
	k, _, err := s.ensure(ctx, st.Key.Project, st.Key.Name)
	if err != nil {
		return nil, fmt.Errorf("SecretSealer %q: the key pair: %w", st.Key.Name, err)
	}
	c := k.Shown()
	v["status"] = map[string]any{"certificate": c.PEM, "fingerprint": c.Fingerprint, "notAfter": c.NotAfter.UTC().Format(time.RFC3339)}
	return v, nil
}

// appendSealerView appends the JSON of a listed sealer's view, with its
// status.
func (a *API) appendSealerView(ctx context.Context, dst []byte, r storedRow, project string) ([]byte, error) {
	st, err := r.decode(SealerKind, project)
	if err != nil {
		return dst, err
	}
	v, err := a.store.sealers.view(ctx, st)
	if err != nil {
		return dst, err
	}
	return appendJSON(dst, v)
}

package controller_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/systemsync/systemsync/internal/access"
	"github.com/systemsync/systemsync/internal/controller"
	"github.com/systemsync/systemsync/internal/store/storetest"
)

func wantStatus(t *testing.T, err error, code int, msg string) {
	t.Helper()
	var e *controller.Error
	if !errors.As(err, &e) || e.Code != code || !strings.Contains(e.Message, msg) {
		t.Fatalf("err = %v, want %d %q", err, code, msg)
	}
}

func TestKeysAreStoredAsHashesAndListedWithoutThem(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	keys := controller.NewKeys(db)
	key, secret, err := keys.Create(ctx, "alice@example.com", access.Editor)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "ss_") || len(key.ID) != 12 || key.Email != "alice@example.com" || key.Role != access.Editor || key.RevokedAt != nil {
		t.Fatalf("created %+v, key %q", key, secret)
	}
	rows, err := db.Query(ctx, `SELECT id, key_hash, user_email, role, slot, created_at, revoked_at FROM api_keys`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var cols [7]string
		if err := rows.Scan(&cols[0], &cols[1], &cols[2], &cols[3], &cols[4], &cols[5], &cols[6]); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.Join(cols[:], " "), strings.TrimPrefix(secret, "ss_")) {
			t.Fatalf("the database holds the key: %v", cols)
		}
	}
	p, err := keys.Authenticate(ctx, secret)
	if err != nil || p != (access.Principal{Email: "alice@example.com", Role: access.Editor, KeyID: key.ID}) {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	list, err := keys.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != key.ID || !list[0].CreatedAt.Equal(key.CreatedAt) {
		t.Fatalf("List = %+v, %v", list, err)
	}
	wantStatus(t, func() error { _, err := keys.Authenticate(ctx, secret+"x"); return err }(), 401, "unknown API key")
	wantStatus(t, func() error { _, err := keys.Authenticate(ctx, ""); return err }(), 401, "missing X-API-KEY")
}

func TestCreateRefusesABadEmailOrRole(t *testing.T) {
	ctx := context.Background()
	keys := controller.NewKeys(storetest.Open(t))
	for _, c := range []struct {
		email string
		role  access.Role
		msg   string
	}{
		{"", access.Viewer, "is not an address"},
		{"Alice <alice@example.com>", access.Viewer, "is not an address"},
		{"alice", access.Viewer, "is not an address"},
		{"alice@example.com", "root", `role "root": want admin, editor or viewer`},
	} {
		_, _, err := keys.Create(ctx, c.email, c.role)
		wantStatus(t, err, 400, c.msg)
	}
	if list, _ := keys.List(ctx); len(list) != 0 {
		t.Fatalf("refused keys were stored: %+v", list)
	}
}

// TestClaimRevokesTheSlotsKeyBefore is the rotation of a configured key:
// one valid key per slot, the other slot untouched, and a revoked key
// never valid again.
func TestClaimRevokesTheSlotsKeyBefore(t *testing.T) {
	ctx := context.Background()
	keys := controller.NewKeys(storetest.Open(t))
	k1, old, err := keys.Claim(ctx, controller.SlotAdmin, "k1-secret", "admin@example.com", access.Admin)
	if err != nil || len(old) != 0 {
		t.Fatalf("claim k1: %v, revoked %v", err, old)
	}
	if _, _, err := keys.Claim(ctx, controller.SlotBot, "bot-secret", "bot@example.com", access.Admin); err != nil {
		t.Fatal(err)
	}
	// Cached in this process before the rotation.
	if _, err := keys.Authenticate(ctx, "k1-secret"); err != nil {
		t.Fatal(err)
	}
	// The same key claimed again keeps its id and revokes nothing.
	if again, old, err := keys.Claim(ctx, controller.SlotAdmin, "k1-secret", "admin@example.com", access.Admin); err != nil || again.ID != k1.ID || len(old) != 0 {
		t.Fatalf("claim k1 again: %+v %v %v", again, old, err)
	}
	_, old, err = keys.Claim(ctx, controller.SlotAdmin, "k2-secret", "admin@example.com", access.Admin)
	if err != nil || len(old) != 1 || old[0].ID != k1.ID || old[0].RevokedAt == nil {
		t.Fatalf("claim k2: %v, revoked %+v", err, old)
	}
	_, err = keys.Authenticate(ctx, "k1-secret")
	wantStatus(t, err, 401, "revoked API key")
	for _, s := range []string{"k2-secret", "bot-secret"} {
		if p, err := keys.Authenticate(ctx, s); err != nil || p.Role != access.Admin {
			t.Fatalf("%s after the rotation: %+v %v", s, p, err)
		}
	}
	if _, _, err := keys.Claim(ctx, controller.SlotAdmin, "k1-secret", "admin@example.com", access.Admin); !errors.Is(err, controller.ErrKeyRevoked) {
		t.Fatalf("claiming a revoked key again: %v, want ErrKeyRevoked", err)
	}
	if _, err := keys.Authenticate(ctx, "k1-secret"); err == nil {
		t.Fatal("a refused claim made the revoked key valid")
	}
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	keys := controller.NewKeys(storetest.Open(t))
	bot, _, err := keys.Claim(ctx, controller.SlotBot, "bot-secret", "bot@example.com", access.Admin)
	if err != nil {
		t.Fatal(err)
	}
	adm, _, err := keys.Claim(ctx, controller.SlotAdmin, "admin-secret", "admin@example.com", access.Admin)
	if err != nil {
		t.Fatal(err)
	}
	viewer, vs, err := keys.Create(ctx, "viewer@example.com", access.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Authenticate(ctx, vs); err != nil {
		t.Fatal(err)
	}
	got, err := keys.Revoke(ctx, viewer.ID)
	if err != nil || got.ID != viewer.ID || got.RevokedAt == nil {
		t.Fatalf("Revoke = %+v, %v", got, err)
	}
	// At once in this process, although it had the key cached.
	_, err = keys.Authenticate(ctx, vs)
	wantStatus(t, err, 401, "revoked API key")
	// Revoking again answers the key as it is.
	if again, err := keys.Revoke(ctx, viewer.ID); err != nil || !again.RevokedAt.Equal(*got.RevokedAt) {
		t.Fatalf("revoke again: %+v %v", again, err)
	}
	_, err = keys.Revoke(ctx, "nosuchkey")
	wantStatus(t, err, 404, `no API key "nosuchkey"`)
	_, err = keys.Revoke(ctx, bot.ID)
	wantStatus(t, err, 409, "the bot's own")
	// The admin key is the last admin key but the bot's: refused, until there is another.
	_, err = keys.Revoke(ctx, adm.ID)
	wantStatus(t, err, 409, "the last admin key")
	other, _, err := keys.Create(ctx, "other-admin@example.com", access.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Revoke(ctx, adm.ID); err != nil {
		t.Fatalf("revoke the admin key with another admin: %v", err)
	}
	_, err = keys.Revoke(ctx, other.ID)
	wantStatus(t, err, 409, "the last admin key")
	list, err := keys.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	valid := map[string]bool{}
	for _, k := range list {
		valid[k.ID] = k.RevokedAt == nil
	}
	if len(list) != 4 || !valid[bot.ID] || valid[adm.ID] || valid[viewer.ID] || !valid[other.ID] {
		t.Fatalf("keys after the revocations: %+v", list)
	}
}

// TestRevokeByAnotherProcessIsRefusedWithinRevocationDelay: two processes
// on one database (a server, and the CLI or another server), each with the
// key cached: the one that revokes refuses it at once, the other within
// RevocationDelay.
func TestRevokeByAnotherProcessIsRefusedWithinRevocationDelay(t *testing.T) {
	ctx := context.Background()
	dbs := storetest.OpenProcesses(t, 2)
	here, there := controller.NewKeys(dbs[0]), controller.NewKeys(dbs[1])
	if _, _, err := here.Create(ctx, "admin@example.com", access.Admin); err != nil {
		t.Fatal(err)
	}
	key, secret, err := here.Create(ctx, "carol@example.com", access.Editor)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*controller.Keys{here, there} {
		if _, err := k.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := here.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	if _, err := here.Authenticate(ctx, secret); err == nil {
		t.Fatal("the process that revoked the key still accepts it")
	}
	for {
		_, err := there.Authenticate(ctx, secret)
		if err != nil {
			wantStatus(t, err, 401, "revoked API key")
			break
		}
		if time.Since(revoked) > controller.RevocationDelay+time.Second {
			t.Fatalf("the other process still accepts the key %v after its revocation", time.Since(revoked))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("refused by the other process %v after the revocation", time.Since(revoked).Round(time.Millisecond))
	if time.Since(revoked) > controller.RevocationDelay+time.Second {
		t.Fatalf("refused only %v after the revocation", time.Since(revoked))
	}
}

func TestRevokeSlot(t *testing.T) {
	ctx := context.Background()
	keys := controller.NewKeys(storetest.Open(t))
	a, _, err := keys.Claim(ctx, controller.SlotAdmin, "admin-secret", "admin@example.com", access.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Authenticate(ctx, "admin-secret"); err != nil {
		t.Fatal(err)
	}
	got, err := keys.RevokeSlot(ctx, controller.SlotAdmin)
	if err != nil || len(got) != 1 || got[0].ID != a.ID {
		t.Fatalf("RevokeSlot = %+v, %v", got, err)
	}
	if _, err := keys.Authenticate(ctx, "admin-secret"); err == nil {
		t.Fatal("a key of a revoked slot is still valid")
	}
}

// TestByID answers a key's user and role by its ID, as a console session
// signed in with the key keeps it, and 401 once the key is revoked.
func TestByID(t *testing.T) {
	ctx := context.Background()
	keys := controller.NewKeys(storetest.Open(t))
	if _, _, err := keys.Create(ctx, "admin@example.com", access.Admin); err != nil {
		t.Fatal(err)
	}
	key, _, err := keys.Create(ctx, "bob@example.com", access.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	p, err := keys.ByID(ctx, key.ID)
	if err != nil || p != (access.Principal{Email: "bob@example.com", Role: access.Viewer, KeyID: key.ID}) {
		t.Fatalf("ByID = %+v, %v", p, err)
	}
	if _, err := keys.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, func() error { _, err := keys.ByID(ctx, key.ID); return err }(), 401, "revoked API key")
	wantStatus(t, func() error { _, err := keys.ByID(ctx, "000000000000"); return err }(), 401, "unknown API key")
	wantStatus(t, func() error { _, err := keys.ByID(ctx, ""); return err }(), 401, "no API key")
}

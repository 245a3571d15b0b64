package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// TestMigrationsDownAndUp undoes every migration and applies them again,
// on both engines: each down migration must undo its up migration.
func TestMigrationsDownAndUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		s := storetest.Open(t, e)
		ctx := context.Background()
		if err := s.MigrateDownAll(ctx); err != nil {
			t.Fatalf("down: %v", err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
	})
}

// TestCreatedEventOnRow: an invitation's created event is kept on its row
// and read back as an event like the others (with the invitation's id);
// undoing migration 00007 moves it into invitation_events unchanged.
func TestCreatedEventOnRow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		s := storetest.Open(t, e)
		ctx := context.Background()
		now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
		org := &account.Organization{ID: invite.NewID(), Slug: "acme", Name: "Acme", Settings: account.DefaultSettings(), CreatedAt: now}
		inv := &invite.Invitation{ID: invite.NewID(), OrgID: org.ID, Email: "ana@x.test", Role: "member",
			Status: invite.StatusPending, Source: invite.SourceAPI, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
		ev := &invite.Event{ID: invite.NewID(), InvitationID: inv.ID, OrgID: org.ID, At: now, Type: "created",
			To: invite.StatusPending, ActorID: "", Actor: "key:ci", Detail: "by hand"}
		later := &invite.Event{ID: invite.NewID(), InvitationID: inv.ID, OrgID: org.ID, At: now, Type: "revoked",
			From: invite.StatusPending, To: invite.StatusRevoked, Actor: "key:ci"}
		err := s.InTx(ctx, func(tx invite.Tx) error {
			if err := tx.InsertOrg(ctx, org); err != nil {
				return err
			}
			if err := tx.CreateInvitation(ctx, inv, ev, nil, true); err != nil {
				return err
			}
			return tx.AddEvent(ctx, later)
		})
		if err != nil {
			t.Fatal(err)
		}
		events := func() []invite.Event {
			t.Helper()
			var out []invite.Event
			if err := s.View(ctx, func(tx invite.Tx) (err error) { out, err = tx.Events(ctx, inv.ID); return err }); err != nil {
				t.Fatal(err)
			}
			return out
		}
		created := *ev
		created.ID = inv.ID
		want := []invite.Event{created, *later}
		opts := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
		if diff := cmp.Diff(want, events(), opts); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
		var inTable int
		if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM invitation_events`).Scan(&inTable); err != nil {
			t.Fatal(err)
		}
		if inTable != 1 {
			t.Fatalf("%d events in the table, want 1 (the created one is on the row)", inTable)
		}
		if err := s.MigrateDownTo(ctx, 6); err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, events(), opts); diff != "" {
			t.Errorf("events after down and up (-want +got):\n%s", diff)
		}
	})
}

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
// an event that is not its creation's goes to invitation_events; undoing
// migration 00007 moves the row's into invitation_events unchanged.
func TestCreatedEventOnRow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		s := storetest.Open(t, e)
		ctx := context.Background()
		now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
		org := acme(now)
		inv := &invite.Invitation{ID: invite.NewID(), OrgID: org.ID, Email: "ana@x.test", Role: "member",
			Status: invite.StatusPending, Source: invite.SourceAPI, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
		ev := &invite.Event{ID: invite.NewID(), InvitationID: inv.ID, OrgID: org.ID, At: now, Type: "created",
			To: invite.StatusPending, ActorID: "", Actor: "key:ci", Detail: "by hand"}
		later := &invite.Event{ID: invite.NewID(), InvitationID: inv.ID, OrgID: org.ID, At: now, Type: "revoked",
			From: invite.StatusPending, To: invite.StatusRevoked, Actor: "key:ci"}
		// Created with an event of another moment: not the row's to hold.
		other := &invite.Invitation{ID: invite.NewID(), OrgID: org.ID, Email: "bob@x.test", Role: "member",
			Status: invite.StatusPending, Source: invite.SourceAPI, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
		otherEv := &invite.Event{ID: invite.NewID(), InvitationID: other.ID, OrgID: org.ID, At: now.Add(time.Second),
			Type: "created", To: invite.StatusPending, Actor: "key:ci"}
		err := s.InTx(ctx, func(tx invite.Tx) error {
			if err := tx.InsertOrg(ctx, org); err != nil {
				return err
			}
			if err := tx.CreateInvitation(ctx, inv, ev, nil, true); err != nil {
				return err
			}
			if err := tx.CreateInvitation(ctx, other, otherEv, nil, true); err != nil {
				return err
			}
			return tx.AddEvent(ctx, later)
		})
		if err != nil {
			t.Fatal(err)
		}
		events := func(id string) []invite.Event {
			t.Helper()
			var out []invite.Event
			if err := s.View(ctx, func(tx invite.Tx) (err error) { out, err = tx.Events(ctx, id); return err }); err != nil {
				t.Fatal(err)
			}
			return out
		}
		if ev.ID != inv.ID || otherEv.ID == other.ID {
			t.Fatalf("event ids %s and %s for invitations %s and %s", ev.ID, otherEv.ID, inv.ID, other.ID)
		}
		want := []invite.Event{*ev, *later}
		opts := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
		if diff := cmp.Diff(want, events(inv.ID), opts); diff != "" {
			t.Fatalf("events (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]invite.Event{*otherEv}, events(other.ID), opts); diff != "" {
			t.Fatalf("the other invitation's events (-want +got):\n%s", diff)
		}
		var inTable int
		if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM invitation_events`).Scan(&inTable); err != nil {
			t.Fatal(err)
		}
		if inTable != 2 {
			t.Fatalf("%d events in the table, want 2 (the first created one is on its row)", inTable)
		}
		if err := s.MigrateDownTo(ctx, 6); err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, events(inv.ID), opts); diff != "" {
			t.Errorf("events after down and up (-want +got):\n%s", diff)
		}
	})
}

// TestSearchIndexMigration: migration 00008 rebuilds SQLite's search index
// from the invitations already there, and undoing it rebuilds the old one:
// a search finds the same rows before, after and after again.
func TestSearchIndexMigration(t *testing.T) {
	s := storetest.Open(t, storetest.Engines()[0])
	ctx := context.Background()
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	org := acme(now)
	err := s.InTx(ctx, func(tx invite.Tx) error {
		if err := tx.InsertOrg(ctx, org); err != nil {
			return err
		}
		for _, p := range [][2]string{{"ana.silva@x.test", "Ana"}, {"bob@x.test", "Silvana"}, {"carla@x.test", "Carla"}} {
			inv := &invite.Invitation{ID: invite.NewID(), OrgID: org.ID, Email: p[0], FirstName: p[1], Role: "member",
				Status: invite.StatusPending, Source: invite.SourceAPI, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := tx.InsertInvitation(ctx, inv); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	found := func(q string) []string {
		t.Helper()
		var page *invite.Page
		err := s.View(ctx, func(tx invite.Tx) (err error) {
			page, err = tx.ListInvitations(ctx, invite.ListFilter{OrgID: org.ID, Now: now, Query: q, Sort: "email", Limit: 10})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, inv := range page.Items {
			out = append(out, inv.Email)
		}
		return out
	}
	want := []string{"ana.silva@x.test", "bob@x.test"}
	for _, step := range []struct {
		name string
		move func() error
	}{
		{"before", func() error { return nil }},
		{"down to 7", func() error { return s.MigrateDownTo(ctx, 7) }},
		{"up again", func() error { return s.Migrate(ctx) }},
	} {
		if err := step.move(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := found("silva"); !cmp.Equal(got, want) {
			t.Errorf("%s: search for silva found %v, want %v", step.name, got, want)
		}
	}
}

// TestImportRowsMigration: migration 00009 rebuilds SQLite's import_rows
// without a rowid, and undoing it rebuilds the rowid table: every column
// of every row is the same before, after and after again.
func TestImportRowsMigration(t *testing.T) {
	s := storetest.Open(t, storetest.Engines()[0])
	ctx := context.Background()
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	org := acme(now)
	imp := &invite.Import{ID: invite.NewID(), OrgID: org.ID, Status: invite.ImportProcessing, Filename: "people.csv",
		Totals: map[string]int{}, CreatedAt: now}
	yes := true
	rows := []invite.ImportRow{
		{Line: 2, Email: "ana@x.test", FirstName: "Ana", LastName: "Silva", Language: "pt", Role: "admin",
			Groups: []string{"Sales", "Support"}, Admin: &yes, IsAdmin: true, Outcome: "ok", InvitationID: invite.NewID(),
			TokenNonce: "nonce", TokenHash: "hash", FirstSeen: true},
		{Line: 3, Email: "not an address", Outcome: "invalid_email", Detail: "no @"},
		{Line: 5, Email: "bob@x.test", Outcome: "duplicate", Detail: "row 2"},
	}
	err := s.InTx(ctx, func(tx invite.Tx) error {
		if err := tx.InsertOrg(ctx, org); err != nil {
			return err
		}
		if err := tx.InsertImport(ctx, imp); err != nil {
			return err
		}
		return tx.InsertImportRows(ctx, imp.ID, rows)
	})
	if err != nil {
		t.Fatal(err)
	}
	stored := func() [][]any {
		t.Helper()
		rs, err := s.DB().QueryContext(ctx, `SELECT * FROM import_rows ORDER BY import_id, line`)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		cols, _ := rs.Columns()
		var out [][]any
		for rs.Next() {
			row := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range row {
				ptrs[i] = &row[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out = append(out, row)
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := stored()
	if len(want) != len(rows) {
		t.Fatalf("%d rows stored, want %d", len(want), len(rows))
	}
	for _, step := range []struct {
		name string
		move func() error
	}{
		{"down to 8", func() error { return s.MigrateDownTo(ctx, 8) }},
		{"up again", func() error { return s.Migrate(ctx) }},
	} {
		if err := step.move(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if diff := cmp.Diff(want, stored()); diff != "" {
			t.Errorf("%s: rows (-before +after):\n%s", step.name, diff)
		}
	}
	var without int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_list WHERE name = 'import_rows' AND wr`).Scan(&without); err != nil {
		t.Fatal(err)
	}
	if without != 1 {
		t.Errorf("import_rows has a rowid after the migration")
	}
}

// acme is an organization to insert in tests, created at now.
func acme(now time.Time) *account.Organization {
	return &account.Organization{ID: invite.NewID(), Slug: "acme", Name: "Acme", Settings: account.DefaultSettings(), CreatedAt: now}
}

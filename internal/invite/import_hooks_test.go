package invite_test

import (
	"testing"

	"usher/internal/account"
	"usher/internal/bulk"
	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// TestImportWebhookMessages: an import's commit announces each invitation
// it creates to every endpoint of the organization, once, also when it
// writes them all in one statement; an organization without endpoints gets
// no messages.
func TestImportWebhookMessages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		count := func() map[string]int {
			t.Helper()
			rows, err := b.store.DB().QueryContext(b.ctx, `SELECT type, count(*) FROM webhook_messages GROUP BY type`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			out := map[string]int{}
			for rows.Next() {
				var typ string
				var n int
				if err := rows.Scan(&typ, &n); err != nil {
					t.Fatal(err)
				}
				out[typ] = n
			}
			return out
		}
		csv := "email,first_name\nana@example.com,Ana\nben@example.com,Ben\ncleo@example.com,Cleo\n"

		imp := b.preview(t, b.org.Slug, csv, bulk.Limits{}, invite.ImportOptions{})
		b.commit(t, b.org.Slug, imp.ID)
		if got := count(); len(got) != 0 {
			t.Fatalf("messages without an endpoint: %v", got)
		}

		for _, u := range []string{"https://a.example.test/", "https://b.example.test/"} {
			if _, err := b.svc.CreateWebhook(b.ctx, b.owner, b.org.Slug, u, ""); err != nil {
				t.Fatal(err)
			}
		}
		// Two people with accounts are added directly (their events are
		// written apart from the plain rows').
		for _, u := range []string{"gus@example.com", "hal@example.com"} {
			if _, err := b.svc.CreateUser(b.ctx, u, "correct horse battery", false); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.svc.UpdateSettings(b.ctx, b.owner, b.org.Slug, func(s *account.Settings) error {
			s.AddExistingUsers = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		imp = b.preview(t, b.org.Slug, "email\ndan@example.com\neva@example.com\nfay@example.com\ngus@example.com\nhal@example.com\n",
			bulk.Limits{}, invite.ImportOptions{SendEmail: true})
		b.commit(t, b.org.Slug, imp.ID)
		if _, run, err := b.svc.CommitImport(b.ctx, b.owner, b.org.Slug, imp.ID); err != nil {
			t.Fatalf("commit again: %v", err)
		} else if run != nil {
			if err := run(b.ctx); err != nil {
				t.Fatal(err)
			}
		}
		if got := count(); got["invitation.created"] != 6 || got["invitation.added"] != 4 || len(got) != 2 {
			t.Errorf("messages after committing 3 new and 2 existing people with 2 endpoints = %v, want invitation.created: 6, invitation.added: 4", got)
		}
	})
}

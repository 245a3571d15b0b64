package invite_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// TestAudit: the audit merges the log, the events table and the created
// events kept on invitation rows, newest first, and pages through them
// with before without losing or repeating an entry.
func TestAudit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		var want []string
		for i := range 4 {
			b.clock.Advance(time.Minute)
			email := fmt.Sprintf("p%d@example.com", i)
			c := b.invite(t, email, invite.Options{})
			want = append(want, "invitation.created|"+email+"| → pending")
			b.clock.Advance(time.Minute)
			if _, err := b.svc.Revoke(b.ctx, b.owner, b.org.Slug, c.Invitation.ID); err != nil {
				t.Fatal(err)
			}
			want = append(want, "invitation.revoked|"+email+"|pending → revoked")
			if _, err := b.svc.CreateGroup(b.ctx, b.owner, b.org.Slug, fmt.Sprintf("Group %d", i)); err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprintf("group.create|Group %d", i))
		}
		slices.Reverse(want)

		var got []string
		var prevAt time.Time
		before := ""
		for page := 0; ; page++ {
			entries, err := b.svc.Audit(b.ctx, b.owner, b.org.Slug, 5, before)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) == 0 || page > 10 {
				break
			}
			for _, a := range entries {
				if !prevAt.IsZero() && a.At.After(prevAt) {
					t.Errorf("%s %s at %v comes after an entry at %v", a.Action, a.Target, a.At, prevAt)
				}
				prevAt = a.At
				if a.Action == "group.create" {
					got = append(got, a.Action+"|"+a.Detail)
				} else if a.Action != "apikey.create" {
					got = append(got, a.Action+"|"+a.Target+"|"+a.Detail)
				}
			}
			before = entries[len(entries)-1].ID
		}
		// Setting the organization up may have logged more before these.
		if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Errorf("audit =\n%q\nwant first\n%q", got, want)
		}
	})
}

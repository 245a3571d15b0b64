package invite_test

import (
	"slices"
	"testing"

	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

func TestSearch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		b.invite(t, "ana.silva@example.com", invite.Options{FirstName: "Ana", LastName: "Silva"})
		b.invite(t, "bob_100%@example.org", invite.Options{FirstName: "Bob"})
		carla := b.invite(t, "carla@example.net", invite.Options{FirstName: "Carla", LastName: "Peeters"})
		// Every trigram of "silvera" without the word: the index finds
		// it, and LIKE sets it aside.
		b.invite(t, "dirk@example.com", invite.Options{FirstName: "Silv", LastName: "Ilvera"})
		b.invite(t, "élise@example.com", invite.Options{FirstName: "Élise", LastName: "Ünal"})
		cases := map[string][]string{
			"silvera":     nil,
			"ilvera":      {"dirk@example.com"},
			"ÉLISE ün":    {"élise@example.com"},
			"ise@":        {"élise@example.com"},
			"SILVA":       {"ana.silva@example.com"},
			"ana":         {"ana.silva@example.com"},
			"example.org": {"bob_100%@example.org"},
			"_100%":       {"bob_100%@example.org"},
			"0%":          {"bob_100%@example.org"},
			"peet":        {"carla@example.net"},
			"xa":          {"ana.silva@example.com", "bob_100%@example.org", "carla@example.net", "dirk@example.com", "élise@example.com"},
			"nobody":      nil,
		}
		for q, want := range cases {
			page, err := b.svc.List(b.ctx, b.owner, b.org.Slug, invite.ListFilter{Query: q, Sort: "email"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, inv := range page.Items {
				got = append(got, inv.Email)
			}
			if !slices.Equal(got, want) || page.Total != len(want) {
				t.Errorf("List(q=%q) = %v (total %d), want %v", q, got, page.Total, want)
			}
		}
		// An edited name is found under its new name only.
		name := "Janssens"
		if _, err := b.svc.Edit(b.ctx, b.owner, b.org.Slug, carla.Invitation.ID, invite.Edit{LastName: &name}); err != nil {
			t.Fatal(err)
		}
		for q, n := range map[string]int{"janssens": 1, "peeters": 0} {
			page, err := b.svc.List(b.ctx, b.owner, b.org.Slug, invite.ListFilter{Query: q})
			if err != nil || page.Total != n {
				t.Errorf("List(q=%q) after edit: total %v, %v; want %d", q, page.Total, err, n)
			}
		}
	})
}

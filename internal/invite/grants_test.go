package invite_test

import (
	"strings"
	"testing"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// TestNoOneGivesMoreThanTheyHold: inviting with a role or the admin flag,
// setting them on a member, and changing or removing a member need every
// permission involved; only an owner gives or takes ownership; imports
// are held to the same rule at preview (the uploader) and at commit (the
// committer).
func TestNoOneGivesMoreThanTheyHold(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		must[*account.Role](t)(b.svc.CreateRole(b.ctx, b.owner, b.org.Slug, "lead", []account.Permission{
			account.PermInvite, account.PermBulkInvite, account.PermManageInvites, account.PermManageMembers}))
		join := func(email, role string) invite.Actor {
			c := b.invite(t, email, invite.Options{Role: role})
			acc := must[*invite.Accepted](t)(b.svc.Accept(b.ctx, token(t, c.Link), invite.Registration{Password: "a long enough passphrase", FirstName: "X"}))
			return invite.Actor{UserID: acc.User.ID, Email: acc.User.Email}
		}
		lead, admin, plain := join("lead@example.com", "lead"), join("ada@example.com", account.RoleAdmin), join("mo@example.com", "")
		role := func(r string) *string { return &r }
		yes := true

		// Giving: refused on the field, as a form shows it.
		_, err := b.svc.Invite(b.ctx, lead, b.org.Slug, "x1@example.com", invite.Options{Role: account.RoleAdmin})
		wantCode(t, err, invite.CodeValidation)
		if !strings.Contains(err.Error(), `role "admin" is not yours to give: it grants`) {
			t.Errorf("the refusal says %q", err)
		}
		_, err = b.svc.Invite(b.ctx, lead, b.org.Slug, "x2@example.com", invite.Options{Admin: true})
		wantCode(t, err, invite.CodeValidation)
		_, err = b.svc.InviteMany(b.ctx, lead, b.org.Slug, []string{"x3@example.com"}, invite.Options{Role: account.RoleAdmin}, false)
		wantCode(t, err, invite.CodeValidation)
		mine := must[*invite.Created](t)(b.svc.Invite(b.ctx, lead, b.org.Slug, "x4@example.com", invite.Options{Role: "lead"}))
		_, err = b.svc.Edit(b.ctx, lead, b.org.Slug, mine.Invitation.ID, invite.Edit{Role: role(account.RoleAdmin)})
		wantCode(t, err, invite.CodeValidation)
		theirs := b.invite(t, "x5@example.com", invite.Options{Admin: true})
		_, err = b.svc.Edit(b.ctx, lead, b.org.Slug, theirs.Invitation.ID, invite.Edit{Message: role("hi")})
		wantCode(t, err, invite.CodeValidation)

		// Members: setting a role is giving it; changing or removing a
		// member who holds more is forbidden.
		_, err = b.svc.UpdateMember(b.ctx, lead, b.org.Slug, plain.UserID, invite.MemberChange{Role: role(account.RoleAdmin)})
		wantCode(t, err, invite.CodeValidation)
		_, err = b.svc.UpdateMember(b.ctx, lead, b.org.Slug, plain.UserID, invite.MemberChange{Admin: &yes})
		wantCode(t, err, invite.CodeValidation)
		_, err = b.svc.UpdateMember(b.ctx, lead, b.org.Slug, lead.UserID, invite.MemberChange{Role: role(account.RoleOwner)})
		wantCode(t, err, invite.CodeValidation)
		_, err = b.svc.UpdateMember(b.ctx, lead, b.org.Slug, admin.UserID, invite.MemberChange{Groups: &[]string{}})
		wantCode(t, err, invite.CodeForbidden)
		err = b.svc.RemoveMember(b.ctx, lead, b.org.Slug, admin.UserID)
		wantCode(t, err, invite.CodeForbidden)
		if !strings.Contains(err.Error(), "you cannot change or remove this member: they hold") {
			t.Errorf("the refusal says %q", err)
		}
		must[*account.Member](t)(b.svc.UpdateMember(b.ctx, lead, b.org.Slug, plain.UserID, invite.MemberChange{Role: role("lead")}))
		must[*account.Member](t)(b.svc.UpdateMember(b.ctx, lead, b.org.Slug, plain.UserID, invite.MemberChange{Role: role(account.RoleMember)}))
		// An administrator holds every permission, but ownership is an
		// owner's to give.
		_, err = b.svc.UpdateMember(b.ctx, admin, b.org.Slug, plain.UserID, invite.MemberChange{Role: role(account.RoleOwner)})
		wantCode(t, err, invite.CodeValidation)
		if !strings.Contains(err.Error(), `role "owner" is given only by an owner`) {
			t.Errorf("the refusal says %q", err)
		}
		_, err = b.svc.UpdateMember(b.ctx, admin, b.org.Slug, b.owner.UserID, invite.MemberChange{Role: role(account.RoleAdmin)})
		wantCode(t, err, invite.CodeForbidden)
		must[*account.Member](t)(b.svc.UpdateMember(b.ctx, admin, b.org.Slug, plain.UserID, invite.MemberChange{Admin: &yes}))
		must[*account.Member](t)(b.svc.UpdateMember(b.ctx, b.owner, b.org.Slug, plain.UserID, invite.MemberChange{Role: role(account.RoleOwner)}))

		// Imports: the uploader's rows are checked at preview, and the
		// committer's at commit.
		upload := func(actor invite.Actor, csv string) *invite.Import {
			imp, run, err := b.svc.StartImport(b.ctx, actor, b.org.Slug, "people.csv", openCSV(t, csv), invite.ImportOptions{SendEmail: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := run(b.ctx); err != nil {
				t.Fatal(err)
			}
			return imp
		}
		outcomes := func(imp *invite.Import) string {
			page := must[*invite.ImportRowsPage](t)(b.svc.ImportRows(b.ctx, b.owner, b.org.Slug, imp.ID, nil, 0, 100))
			var out []string
			for _, r := range page.Rows {
				out = append(out, r.Email+" "+r.Outcome+" "+r.Detail)
			}
			return strings.Join(out, "\n")
		}
		file := "email,role,admin\nr1@example.com,admin,\nr2@example.com,,yes\nr3@example.com,lead,\n"
		got := outcomes(upload(lead, file))
		for _, want := range []string{"r1@example.com invalid_value invalid value for role: you cannot give the role",
			"r2@example.com invalid_value invalid value for admin: you cannot give the admin flag", "r3@example.com ok"} {
			if !strings.Contains(got, want) {
				t.Errorf("lead's preview lacks %q:\n%s", want, got)
			}
		}
		byOwner := upload(b.owner, strings.ReplaceAll(file, "@", "+o@"))
		if got := outcomes(byOwner); strings.Count(got, " ok") != 3 {
			t.Fatalf("the owner's preview:\n%s", got)
		}
		_, run, err := b.svc.CommitImport(b.ctx, lead, b.org.Slug, byOwner.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := run(b.ctx); err != nil {
			t.Fatal(err)
		}
		got = outcomes(byOwner)
		for _, want := range []string{"r1+o@example.com invalid_value", "r2+o@example.com invalid_value", "r3+o@example.com ok"} {
			if !strings.Contains(got, want) {
				t.Errorf("after lead's commit, no %q:\n%s", want, got)
			}
		}
		page := must[*invite.Page](t)(b.svc.List(b.ctx, b.owner, b.org.Slug, invite.ListFilter{Query: "+o@", Limit: 10}))
		if len(page.Items) != 1 || page.Items[0].Role != "lead" {
			t.Errorf("lead's commit created %d invitations, want only r3's", len(page.Items))
		}
	})
}

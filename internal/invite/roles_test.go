package invite_test

import (
	"fmt"
	"testing"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/sqlstore/storetest"
)

// TestCustomRoles: a custom role grants its permissions and no more; it
// cannot shadow a built-in one, and goes only when nobody has it.
func TestCustomRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e)
		role, err := b.svc.CreateRole(b.ctx, b.owner, b.org.Slug, "inviter",
			[]account.Permission{account.PermInvite, account.PermInvite})
		if err != nil || len(role.Permissions) != 1 {
			t.Fatalf("CreateRole = %+v, %v", role, err)
		}
		for _, bad := range []string{"admin", "Inviter", "x", "in viter", "inviter"} {
			_, err := b.svc.CreateRole(b.ctx, b.owner, b.org.Slug, bad, nil)
			wantCode(t, err, invite.CodeValidation)
		}
		_, err = b.svc.CreateRole(b.ctx, b.owner, b.org.Slug, "root", []account.Permission{"everything"})
		wantCode(t, err, invite.CodeValidation)

		c := b.invite(t, "ivo@example.com", invite.Options{Role: "inviter"})
		acc := must[*invite.Accepted](t)(b.svc.Accept(b.ctx, token(t, c.Link), invite.Registration{Password: "a long enough passphrase", FirstName: "Ivo"}))
		ivo := invite.Actor{UserID: acc.User.ID, Email: acc.User.Email}
		if _, err := b.svc.Invite(b.ctx, ivo, b.org.Slug, "friend@example.com", invite.Options{}); err != nil {
			t.Errorf("a member with the inviter role cannot invite: %v", err)
		}
		_, err = b.svc.CreateRole(b.ctx, ivo, b.org.Slug, "boss", []account.Permission{account.PermManageSettings})
		wantCode(t, err, invite.CodeForbidden)
		_, err = b.svc.Revoke(b.ctx, ivo, b.org.Slug, c.Invitation.ID)
		wantCode(t, err, invite.CodeForbidden)

		// A role with settings.manage alone cannot make itself an API key,
		// which could do everything.
		must[*account.Role](t)(b.svc.CreateRole(b.ctx, b.owner, b.org.Slug, "settings",
			[]account.Permission{account.PermManageSettings}))
		sc := b.invite(t, "sam@example.com", invite.Options{Role: "settings"})
		sacc := must[*invite.Accepted](t)(b.svc.Accept(b.ctx, token(t, sc.Link), invite.Registration{Password: "a long enough passphrase", FirstName: "Sam"}))
		sam := invite.Actor{UserID: sacc.User.ID, Email: sacc.User.Email}
		_, _, err = b.svc.CreateAPIKey(b.ctx, b.org.Slug, "mine", sam)
		wantCode(t, err, invite.CodeForbidden)
		_, err = b.svc.APIKeys(b.ctx, sam, b.org.Slug)
		wantCode(t, err, invite.CodeForbidden)
		if _, err := b.svc.Webhooks(b.ctx, sam, b.org.Slug); err != nil {
			t.Errorf("settings.manage lists the webhooks: %v", err)
		}
		if _, _, err := b.svc.CreateAPIKey(b.ctx, b.org.Slug, "boss's", b.owner); err != nil {
			t.Errorf("the owner makes a key: %v", err)
		}

		wantCode(t, b.svc.DeleteRole(b.ctx, b.owner, b.org.Slug, "inviter"), invite.CodeConflict)
		wantCode(t, b.svc.DeleteRole(b.ctx, b.owner, b.org.Slug, "owner"), invite.CodeInvalidTransition)
		r := account.RoleMember
		must[*account.Member](t)(b.svc.UpdateMember(b.ctx, b.owner, b.org.Slug, acc.User.ID, invite.MemberChange{Role: &r}))
		if err := b.svc.DeleteRole(b.ctx, b.owner, b.org.Slug, "inviter"); err != nil {
			t.Fatalf("DeleteRole once unused: %v", err)
		}
		if _, err := b.svc.Invite(b.ctx, ivo, b.org.Slug, "other@example.com", invite.Options{}); err == nil {
			t.Error("a plain member invited after the role was taken away")
		}
		_, err = b.svc.Invite(b.ctx, b.owner, b.org.Slug, "late@example.com", invite.Options{Role: "inviter"})
		wantCode(t, err, invite.CodeValidation)

		// At most 50 roles, the three built-in ones and "settings" included.
		for i := range 46 {
			if _, err := b.svc.CreateRole(b.ctx, b.owner, b.org.Slug, fmt.Sprintf("r%02d", i), nil); err != nil {
				t.Fatalf("role %d: %v", i, err)
			}
		}
		_, err = b.svc.CreateRole(b.ctx, b.owner, b.org.Slug, "one-too-many", nil)
		wantCode(t, err, invite.CodeValidation)
	})
}

package job_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
	"usher/internal/job"
	"usher/internal/mail"
	"usher/internal/mail/smtptest"
	"usher/internal/sqlstore/storetest"
)

var linkRE = regexp.MustCompile(regexp.QuoteMeta(baseURL) + `/i/[A-Za-z0-9_\-.~]+`)

// received checks what the server got since it had seen messages, as
// "kind-ish" expectations: recipient, language and, for invitation links,
// that the link resolves.
type want struct {
	to, lang string
	subject  string // a part of the subject
	link     bool   // has an accept link that Lookup resolves
}

func (b *bundle) check(t *testing.T, got []smtptest.Received, wants ...want) {
	t.Helper()
	got = slices.Clone(got)
	if len(got) != len(wants) {
		var tos []string
		for _, m := range got {
			tos = append(tos, strings.Join(m.To, ",")+" "+m.Subject)
		}
		t.Fatalf("received %d messages %q, want %d", len(got), tos, len(wants))
	}
	for _, w := range wants {
		i := slices.IndexFunc(got, func(m smtptest.Received) bool {
			return len(m.To) == 1 && m.To[0] == w.to && strings.Contains(m.Subject, w.subject)
		})
		if i < 0 {
			t.Errorf("no message to %s with subject containing %q", w.to, w.subject)
			continue
		}
		m := got[i]
		got = slices.Delete(got, i, i+1)
		if m.ParseErr != nil {
			t.Errorf("message to %s: %v", w.to, m.ParseErr)
		}
		if m.ContentType != "multipart/alternative" || !slices.Equal(m.Alternatives, []string{"text/plain", "text/html"}) {
			t.Errorf("message to %s: content type %s %v, want multipart/alternative [text/plain text/html]", w.to, m.ContentType, m.Alternatives)
		}
		if lang := m.Header.Get("Content-Language"); lang != w.lang || !strings.Contains(m.HTML, `lang="`+w.lang+`"`) {
			t.Errorf("message to %s %q: Content-Language %q, want %q", w.to, m.Subject, lang, w.lang)
		}
		links := linkRE.FindAllString(m.Text, -1)
		if !w.link {
			if len(links) > 0 {
				t.Errorf("message to %s %q has accept links %q", w.to, m.Subject, links)
			}
			continue
		}
		if len(links) == 0 || !strings.Contains(m.HTML, `href="`+links[0]+`"`) {
			t.Errorf("message to %s %q: accept link %q missing from the text or HTML part", w.to, m.Subject, links)
			continue
		}
		info, err := b.svc.Lookup(b.ctx, strings.TrimPrefix(links[0], baseURL+"/i/"))
		if err != nil {
			t.Errorf("Lookup(link of message to %s) = %v", w.to, err)
		} else if info.Invitation.Email != w.to || info.Status != invite.StatusPending {
			t.Errorf("Lookup(link of message to %s) = %s, %s; want that invitation, pending", w.to, info.Invitation.Email, info.Status)
		}
	}
}

// take delivers what is due and returns the messages that arrived.
func (b *bundle) take(t *testing.T) []smtptest.Received {
	t.Helper()
	before := b.smtp.Count()
	b.deliver(t)
	return b.smtp.Messages()[before:]
}

// TestEveryKindDelivered walks an invitation through every path that
// sends mail and checks each message as it arrives over SMTP.
func TestEveryKindDelivered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{})
		if _, err := b.svc.UpdateSettings(b.ctx, b.owner, b.org.Slug, func(s *account.Settings) error {
			s.DefaultLanguage = "de"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		ana := b.invite(t, "ana@x.test", invite.Options{Language: "nl-BE", FirstName: "Ana", Message: "Welkom <b>Ana</b>"})
		bob := b.invite(t, "bob@x.test", invite.Options{})
		b.check(t, b.take(t),
			want{to: "ana@x.test", lang: "nl", subject: "Acme Corp", link: true},
			want{to: "bob@x.test", lang: "de", subject: "Acme Corp", link: true})
		for _, id := range []string{ana.Invitation.ID, bob.Invitation.ID} {
			if inv := b.get(t, id); inv.DeliveryStatus != invite.DeliverySent || inv.DeliveredAt.IsZero() {
				t.Errorf("delivery of %s = %s at %v, want sent", inv.Email, inv.DeliveryStatus, inv.DeliveredAt)
			}
		}

		b.clock.Advance(3*24*time.Hour + time.Minute)
		if res, err := b.runner.SweepOnce(b.ctx); err != nil || res.Reminded != 2 {
			t.Fatalf("SweepOnce() = %+v, %v; want 2 reminders", res, err)
		}
		b.check(t, b.take(t),
			want{to: "ana@x.test", lang: "nl", subject: "Herinnering", link: true},
			want{to: "bob@x.test", lang: "de", subject: "Acme Corp", link: true})

		if _, err := b.svc.Accept(b.ctx, tokenOf(t, ana.Link), invite.Registration{Password: "correct horse battery staple", FirstName: "Pat"}); err != nil {
			t.Fatalf("Accept: %v", err)
		}
		// To the inviter, who set no language: the organization's.
		b.check(t, b.take(t), want{to: "owner@acme.test", lang: "de", subject: "Ana"})

		if _, err := b.svc.UpdateSettings(b.ctx, b.owner, b.org.Slug, func(s *account.Settings) error {
			s.AutoApproval = false
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		cy := b.invite(t, "cy@x.test", invite.Options{Language: "es"})
		dee := b.invite(t, "dee@x.test", invite.Options{Language: "fr"})
		b.check(t, b.take(t),
			want{to: "cy@x.test", lang: "es", subject: "Acme Corp", link: true},
			want{to: "dee@x.test", lang: "fr", subject: "Acme Corp", link: true})
		for _, c := range []*invite.Created{cy, dee} {
			if _, err := b.svc.Accept(b.ctx, tokenOf(t, c.Link), invite.Registration{Password: "correct horse battery staple", FirstName: "Pat"}); err != nil {
				t.Fatalf("Accept: %v", err)
			}
		}
		b.check(t, b.take(t),
			want{to: "owner@acme.test", lang: "de", subject: "cy@x.test"},
			want{to: "owner@acme.test", lang: "de", subject: "dee@x.test"})
		// An approval request decided before it went out is not sent.
		eve := b.invite(t, "eve@x.test", invite.Options{})
		b.take(t)
		if _, err := b.svc.Accept(b.ctx, tokenOf(t, eve.Link), invite.Registration{Password: "correct horse battery staple", FirstName: "Eve"}); err != nil {
			t.Fatalf("Accept: %v", err)
		}
		if _, err := b.svc.Reject(b.ctx, b.owner, b.org.Slug, eve.Invitation.ID); err != nil {
			t.Fatalf("Reject: %v", err)
		}
		b.check(t, b.take(t), want{to: "eve@x.test", lang: "de", subject: "Acme Corp"})
		if _, err := b.svc.Approve(b.ctx, b.owner, b.org.Slug, cy.Invitation.ID); err != nil {
			t.Fatalf("Approve: %v", err)
		}
		if _, err := b.svc.Reject(b.ctx, b.owner, b.org.Slug, dee.Invitation.ID); err != nil {
			t.Fatalf("Reject: %v", err)
		}
		got := b.take(t)
		b.check(t, got,
			want{to: "cy@x.test", lang: "es", subject: "Acme Corp"},
			want{to: "owner@acme.test", lang: "de", subject: "cy@x.test"},
			want{to: "dee@x.test", lang: "fr", subject: "Acme Corp"})
		// The approved invitee's link goes where the organization sends
		// new members.
		for _, m := range got {
			if m.To[0] == "cy@x.test" && !strings.Contains(m.Text, baseURL+"/admin/") {
				t.Errorf("approved message has no link to %s/admin/:\n%s", baseURL, m.Text)
			}
		}
		// Personal text is escaped in the HTML part.
		for _, m := range b.smtp.Messages() {
			if strings.Contains(m.HTML, "<b>Ana</b>") {
				t.Errorf("message to %v shows the personal message unescaped", m.To)
			}
		}
	})
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	i := strings.LastIndex(link, "/i/")
	if i < 0 {
		t.Fatalf("link %q has no /i/", link)
	}
	return link[i+3:]
}

// TestUnsupportedKindsFailPermanently: a row the runner cannot fill (an
// unknown kind, a password reset without its reset id) is marked failed
// with a reason at its first attempt, not retried, and nothing is sent.
func TestUnsupportedKindsFailPermanently(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{})
		c := b.invite(t, "ana@x.test", invite.Options{NoEmail: true})
		err := b.store.InTx(b.ctx, func(tx invite.Tx) error {
			for _, kind := range []string{invite.MailPasswordReset, "newsletter"} {
				if err := tx.EnqueueEmail(b.ctx, &invite.Email{ID: invite.NewID(), OrgID: b.org.ID, Kind: kind,
					InvitationID: c.Invitation.ID, UserID: b.owner.UserID, To: "owner@acme.test", DueAt: b.clock.Now()}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := b.deliver(t); n != 2 {
			t.Fatalf("delivered %d emails, want 2", n)
		}
		b.clock.Advance(time.Hour)
		if n := b.deliver(t); n != 0 {
			t.Errorf("retried %d emails, want none", n)
		}
		if n := b.smtp.Count(); n != 0 {
			t.Errorf("server received %d messages, want none", n)
		}
		rows := b.outbox(t, c.Invitation.ID)
		if len(rows) != 2 {
			t.Fatalf("outbox = %+v", rows)
		}
		for _, r := range rows {
			if r.Status != "failed" || r.Attempts != 1 || !strings.Contains(r.LastError, "cannot send "+r.Kind) {
				t.Errorf("outbox %s = %+v, want failed after 1 attempt with a reason", r.Kind, r)
			}
		}
		if !strings.Contains(rows[0].LastError, "no reset_id") || !strings.Contains(rows[1].LastError, "unknown kind") {
			t.Errorf("reasons = %q, %q", rows[0].LastError, rows[1].LastError)
		}
	})
}

// TestPasswordReset: a reset email carries a link that the service
// resolves, rebuilt from the reset's row; a reset used before its email
// went out is not sent.
func TestPasswordReset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{})
		resetRE := regexp.MustCompile(regexp.QuoteMeta(baseURL) + `/reset/[A-Za-z0-9_\-]+`)
		if err := b.svc.RequestPasswordReset(b.ctx, "owner@acme.test"); err != nil {
			t.Fatal(err)
		}
		got := b.take(t)
		b.check(t, got, want{to: "owner@acme.test", lang: "en", subject: "password"})
		link := resetRE.FindString(got[0].Text)
		if link == "" || !strings.Contains(got[0].HTML, `href="`+link+`"`) {
			t.Fatalf("no reset link in both parts:\n%s", got[0].Text)
		}
		token := strings.TrimPrefix(link, baseURL+"/reset/")
		if info, err := b.svc.LookupReset(b.ctx, token); err != nil || info.Email != "owner@acme.test" {
			t.Fatalf("LookupReset(link) = %+v, %v", info, err)
		}

		// Open sign-up: the same kind, to an address with no account and
		// no organization.
		b.svc.SetOpenSignup(true)
		if _, err := b.svc.SignUp(b.ctx, "new@x.test", "New", "Person"); err != nil {
			t.Fatal(err)
		}
		got = b.take(t)
		b.check(t, got, want{to: "new@x.test", lang: "en", subject: ""})
		if link := resetRE.FindString(got[0].Text); link == "" {
			t.Errorf("sign-up email has no link:\n%s", got[0].Text)
		} else if info, err := b.svc.LookupReset(b.ctx, strings.TrimPrefix(link, baseURL+"/reset/")); err != nil || !info.NewAccount {
			t.Errorf("LookupReset(sign-up link) = %+v, %v; want a new account", info, err)
		}

		// A second request whose link expires before its email goes out.
		if err := b.svc.RequestPasswordReset(b.ctx, "owner@acme.test"); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(2 * time.Hour) // both links expired
		if got := b.take(t); len(got) != 0 {
			t.Errorf("sent %d messages for an expired reset, want none", len(got))
		}
	})
}

// TestStaleInvitationEmailSkipped: an email for a link replaced or revoked
// before it went out is not sent; the replacement is.
func TestStaleInvitationEmailSkipped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{})
		ana := b.invite(t, "ana@x.test", invite.Options{})
		bob := b.invite(t, "bob@x.test", invite.Options{})
		b.clock.Advance(time.Second)
		again, err := b.svc.Resend(b.ctx, b.owner, b.org.Slug, ana.Invitation.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.svc.Revoke(b.ctx, b.owner, b.org.Slug, bob.Invitation.ID); err != nil {
			t.Fatal(err)
		}
		got := b.take(t)
		b.check(t, got, want{to: "ana@x.test", lang: "en", subject: "Acme Corp", link: true})
		if links := linkRE.FindAllString(got[0].Text, 1); len(links) == 0 || links[0] != again.Link {
			t.Errorf("sent link %q, want the resent one %q", links, again.Link)
		}
		if rows := b.outbox(t, ana.Invitation.ID); len(rows) != 2 || rows[0].Status != "skipped" || rows[1].Status != "sent" {
			t.Errorf("outbox of ana = %+v, want skipped then sent", rows)
		}
		if inv := b.get(t, ana.Invitation.ID); inv.DeliveryStatus != invite.DeliverySent {
			t.Errorf("delivery = %s, want sent", inv.DeliveryStatus)
		}
		// Revoked before its email went out: nothing was delivered.
		if inv := b.get(t, bob.Invitation.ID); inv.DeliveryStatus != invite.DeliveryNone {
			t.Errorf("delivery of the revoked invitation = %s, want none", inv.DeliveryStatus)
		}
	})
}

// TestSMTPDown: 200 invitations created while the server refuses
// connections, the runner running; once the server is up, every one is
// delivered exactly once.
func TestSMTPDown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{realTime: true, cfg: job.Config{Poll: 20 * time.Millisecond, Batch: 50}})
		b.smtp.Stop()
		ctx, cancel := context.WithCancel(b.ctx)
		done := make(chan struct{})
		go func() { defer close(done); b.runner.Run(ctx) }()
		defer func() { cancel(); <-done }()

		const n = 200
		emails := make([]string, n)
		for i := range emails {
			emails[i] = addr(i)
		}
		for part := range slices.Chunk(emails, 50) {
			res, err := b.svc.InviteMany(b.ctx, b.owner, b.org.Slug, part, invite.Options{}, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if r.Err != nil {
					t.Fatalf("InviteMany: %s: %v", r.Email, r.Err)
				}
			}
			b.runner.Wake()
		}
		// The runner tries, fails to connect, and schedules retries.
		waitFor(t, 10*time.Second, "failed attempts on every email", func() bool {
			var failed int
			b.store.DB().QueryRow(`SELECT count(*) FROM outbox WHERE attempts > 0 AND last_error <> ''`).Scan(&failed)
			return failed == n
		})
		b.smtp.Start()
		wctx, wcancel := context.WithTimeout(b.ctx, 20*time.Second)
		defer wcancel()
		if _, err := b.smtp.WaitFor(wctx, n); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "every invitation marked delivered", func() bool {
			var sent int
			b.store.DB().QueryRow(`SELECT count(*) FROM invitations WHERE delivery_status = 'sent'`).Scan(&sent)
			return sent == n
		})
		// Nothing left to send: a few more polls bring no duplicate.
		time.Sleep(100 * time.Millisecond)
		counts := perRecipient(b.smtp.Messages())
		if len(counts) != n {
			t.Errorf("received mail for %d recipients, want %d", len(counts), n)
		}
		for to, c := range counts {
			if c != 1 {
				t.Errorf("%s received %d messages, want 1", to, c)
			}
		}
	})
}

// TestTemporaryAndPermanentFailures: a 4xx answer is retried after the
// backoff and delivered; a 5xx answer fails the invitation's delivery with
// the server's reason, after one attempt.
func TestTemporaryAndPermanentFailures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{cfg: job.Config{RetryBase: time.Minute, RetryMax: 10 * time.Minute}})
		b.smtp.RejectRecipient("later@x.test", 451, "greylisted, try again later")
		b.smtp.RejectRecipient("never@x.test", 550, "no such mailbox here")
		ok := b.invite(t, "ok@x.test", invite.Options{})
		later := b.invite(t, "later@x.test", invite.Options{})
		never := b.invite(t, "never@x.test", invite.Options{})
		if n := b.deliver(t); n != 3 {
			t.Fatalf("handled %d emails, want 3", n)
		}
		if got := perRecipient(b.smtp.Messages()); len(got) != 1 || got["ok@x.test"] != 1 {
			t.Fatalf("received %v, want only ok@x.test", got)
		}
		if inv := b.get(t, ok.Invitation.ID); inv.DeliveryStatus != invite.DeliverySent {
			t.Errorf("ok: delivery %s, want sent", inv.DeliveryStatus)
		}
		inv := b.get(t, never.Invitation.ID)
		if inv.DeliveryStatus != invite.DeliveryFailed || !strings.Contains(inv.DeliveryError, "550") ||
			!strings.Contains(inv.DeliveryError, "no such mailbox here") {
			t.Errorf("never: delivery %s (%q), want failed with the server's 550 reason", inv.DeliveryStatus, inv.DeliveryError)
		}
		if inv := b.get(t, later.Invitation.ID); inv.DeliveryStatus != invite.DeliveryQueued {
			t.Errorf("later: delivery %s, want still queued", inv.DeliveryStatus)
		}

		// Not due before the backoff (a minute, ±20 %) has passed.
		b.clock.Advance(45 * time.Second)
		if n := b.deliver(t); n != 0 {
			t.Errorf("retried %d emails before the backoff ran out", n)
		}
		b.smtp.AcceptRecipient("later@x.test")
		b.smtp.AcceptRecipient("never@x.test")
		b.clock.Advance(30 * time.Second)
		if n := b.deliver(t); n != 1 {
			t.Errorf("retried %d emails, want 1 (the 4xx one)", n)
		}
		b.clock.Advance(time.Hour)
		b.deliver(t)
		if got := perRecipient(b.smtp.Messages()); len(got) != 2 || got["later@x.test"] != 1 || got["never@x.test"] != 0 {
			t.Errorf("received %v, want ok and later once each, never not at all", got)
		}
		if inv := b.get(t, later.Invitation.ID); inv.DeliveryStatus != invite.DeliverySent || inv.DeliveryError != "" {
			t.Errorf("later: delivery %s (%q), want sent", inv.DeliveryStatus, inv.DeliveryError)
		}
		if rows := b.outbox(t, later.Invitation.ID); len(rows) != 1 || rows[0].Attempts != 2 || rows[0].Status != "sent" {
			t.Errorf("later: outbox %+v, want sent after 2 attempts", rows)
		}
		if rows := b.outbox(t, never.Invitation.ID); len(rows) != 1 || rows[0].Attempts != 1 || rows[0].Status != "failed" {
			t.Errorf("never: outbox %+v, want failed after 1 attempt", rows)
		}
	})
}

// TestGiveUpAfterMaxAttempts: a temporary failure that never clears is
// given up on after MaxAttempts, and the invitation says why.
func TestGiveUpAfterMaxAttempts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{cfg: job.Config{MaxAttempts: 3}})
		b.smtp.RejectRecipient("later@x.test", 452, "mailbox full")
		c := b.invite(t, "later@x.test", invite.Options{})
		for range 5 {
			b.deliver(t)
			b.clock.Advance(time.Second)
		}
		inv := b.get(t, c.Invitation.ID)
		if inv.DeliveryStatus != invite.DeliveryFailed || !strings.Contains(inv.DeliveryError, "gave up after 3 attempts") {
			t.Errorf("delivery %s (%q), want failed after 3 attempts", inv.DeliveryStatus, inv.DeliveryError)
		}
	})
}

// TestRollbackSendsNothing: an email queued in a transaction that then
// fails is never sent, whether the service or a caller's transaction
// rolls it back.
func TestRollbackSendsNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{})
		boom := errors.New("boom")
		// The invitation and its email are written, then something later
		// in the same unit of work fails.
		now := b.clock.Now()
		inv := &invite.Invitation{ID: invite.NewID(), OrgID: b.org.ID, Email: "ghost@x.test", Role: "member",
			Status: invite.StatusPending, InviterID: b.owner.UserID, Source: "api", CreatedAt: now, UpdatedAt: now,
			SentAt: now, SendCount: 1, ExpiresAt: now.Add(time.Hour), DeliveryStatus: invite.DeliveryQueued}
		err := b.store.InTx(b.ctx, func(tx invite.Tx) error {
			if err := tx.InsertInvitation(b.ctx, inv); err != nil {
				return err
			}
			if err := tx.EnqueueEmail(b.ctx, &invite.Email{ID: invite.NewID(), OrgID: b.org.ID, Kind: invite.MailInvitation,
				InvitationID: inv.ID, To: inv.Email, DueAt: now}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want boom", err)
		}
		if _, err := b.svc.Get(b.ctx, b.owner, b.org.Slug, inv.ID); !strings.HasSuffix(invite.CodeOf(err), "not_found") {
			t.Errorf("Get(rolled back invitation) = %v, want not found", err)
		}
		if n := b.countOutbox(t); n != 0 {
			t.Errorf("outbox has %d rows after rollbacks, want 0", n)
		}
		if n := b.deliver(t); n != 0 {
			t.Errorf("delivered %d emails, want 0", n)
		}
		if n := b.smtp.Count(); n != 0 {
			t.Errorf("server received %d messages, want 0", n)
		}
	})
}

// TestMailboxWithoutSMTP: with no sender, due mail lands in the built-in
// mailbox, once.
func TestMailboxWithoutSMTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{})
		b.runner = job.New(job.Config{}, b.store, b.svc, b.renderer, nil, nil)
		b.invite(t, "ana@x.test", invite.Options{Language: "fr"})
		if n := b.deliver(t); n != 1 {
			t.Fatalf("handled %d emails, want 1", n)
		}
		box, err := b.store.Mailbox(b.ctx, "ana@x.test", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(box) != 1 || !strings.Contains(box[0].Subject, "Acme Corp") || !linkRE.MatchString(box[0].Text) {
			t.Fatalf("mailbox = %+v, want one invitation with a link", box)
		}
		if n := b.smtp.Count(); n != 0 {
			t.Errorf("SMTP server received %d messages, want 0", n)
		}
	})
}

// TestInviterNotices: the expired and link_requested notices, which no
// service path queues yet, go to the inviter with a link to the
// invitation in the console; an expiry notice for an invitation renewed
// meanwhile is not sent.
func TestInviterNotices(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{})
		ana := b.invite(t, "ana@x.test", invite.Options{})
		bob := b.invite(t, "bob@x.test", invite.Options{})
		b.deliver(t)
		b.clock.Advance(8 * 24 * time.Hour)
		if _, err := b.svc.Renew(b.ctx, b.owner, b.org.Slug, bob.Invitation.ID, 0); err != nil {
			t.Fatal(err)
		}
		b.deliver(t)
		before := b.smtp.Count()
		err := b.store.InTx(b.ctx, func(tx invite.Tx) error {
			for _, n := range []struct{ kind, inv string }{
				{invite.MailExpired, ana.Invitation.ID}, {invite.MailLinkRequested, ana.Invitation.ID},
				{invite.MailExpired, bob.Invitation.ID},
			} {
				if err := tx.EnqueueEmail(b.ctx, &invite.Email{ID: invite.NewID(), OrgID: b.org.ID, Kind: n.kind,
					InvitationID: n.inv, UserID: b.owner.UserID, To: "owner@acme.test", DueAt: b.clock.Now()}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := b.deliver(t); n != 3 {
			t.Fatalf("handled %d emails, want 3", n)
		}
		got := b.smtp.Messages()[before:]
		b.check(t, got, want{to: "owner@acme.test", lang: "en", subject: "ana@x.test"},
			want{to: "owner@acme.test", lang: "en", subject: "ana@x.test"})
		console := baseURL + "/admin/orgs/" + b.org.Slug + "/invitations/" + ana.Invitation.ID
		for _, m := range got {
			if !strings.Contains(m.Text, console) {
				t.Errorf("%q has no link to %s:\n%s", m.Subject, console, m.Text)
			}
		}
	})
}

// slowSender waits before sending, like a tarpitting server.
type slowSender struct {
	mail.Sender
	wait time.Duration
}

func (s slowSender) Send(ctx context.Context, msgs []mail.Message) []error {
	time.Sleep(s.wait)
	return s.Sender.Send(ctx, msgs)
}

// TestSlowBatchKeepsItsLease: a batch that takes longer to send than its
// lease keeps renewing it, so another instance does not send it too.
func TestSlowBatchKeepsItsLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{realTime: true})
		cfg := job.Config{Owner: "slow", Lease: 300 * time.Millisecond}
		slow := job.New(cfg, b.store, b.svc, b.renderer, slowSender{b.sender, time.Second}, nil)
		other := b.newRunner(job.Config{Owner: "other", Lease: 300 * time.Millisecond})
		for i := range 10 {
			b.invite(t, addr(i), invite.Options{})
		}
		done := make(chan error, 1)
		go func() {
			_, err := slow.DeliverOnce(b.ctx)
			done <- err
		}()
		stolen := 0
	poll:
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				break poll
			case <-time.After(50 * time.Millisecond):
				n, err := other.DeliverOnce(b.ctx)
				if err != nil {
					t.Fatal(err)
				}
				stolen += n
			}
		}
		if stolen != 0 {
			t.Errorf("the other instance took %d emails of a batch still being sent", stolen)
		}
		got := perRecipient(b.smtp.Messages())
		for i := range 10 {
			if got[addr(i)] != 1 {
				t.Errorf("%s received %d messages, want 1", addr(i), got[addr(i)])
			}
		}
	})
}

// TestSendRate: with a rate of 20 a second, a round claims at most one
// second's worth, and 30 emails take at least half a second beyond the
// first 20.
func TestSendRate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		b := setup(t, e, options{realTime: true, cfg: job.Config{Rate: 20}})
		for i := range 30 {
			b.invite(t, addr(i), invite.Options{})
		}
		start := time.Now()
		var rounds []int
		for {
			n, err := b.runner.DeliverOnce(b.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			rounds = append(rounds, n)
		}
		elapsed := time.Since(start)
		if !slices.Equal(rounds, []int{20, 10}) {
			t.Errorf("rounds = %v, want [20 10]", rounds)
		}
		if elapsed < 450*time.Millisecond {
			t.Errorf("30 emails at 20/s took %v, want at least 0.45 s", elapsed)
		}
		if n := b.smtp.Count(); n != 30 {
			t.Errorf("received %d, want 30", n)
		}
	})
}

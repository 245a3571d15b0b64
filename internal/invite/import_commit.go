package invite

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"usher/internal/account"
	"usher/internal/bulk"
)

// CommitImport claims a previewed batch for committing and returns it
// with the function that creates its invitations: run it (in a goroutine,
// for an API). run is nil when there is nothing to do: the batch is
// committed already, or another commit of it is under way. Either way the
// answer describes the batch as it is, so that repeating a commit is safe
// and answers the same.
func (s *Service) CommitImport(ctx context.Context, actor Actor, slug, id string) (*Import, func(context.Context) error, error) {
	var imp *Import
	claimed := false
	err := s.inTx(ctx, func(tx Tx) error {
		claimed = false
		org, err := s.access(ctx, tx, actor, slug, account.PermBulkInvite)
		if err != nil {
			return err
		}
		if imp, err = loadImport(ctx, tx, org.ID, id); err != nil {
			return err
		}
		now := s.Now()
		switch imp.Status {
		case ImportProcessing:
			return errorf(CodeInvalidTransition, "the file is still being read; commit once the preview is ready")
		case ImportFailed:
			return errorf(CodeInvalidTransition, "this import failed (%s); upload the file again", imp.Error)
		case ImportCommitted:
			return nil
		case ImportCommitting:
			if now.Sub(imp.CommitStartedAt) < staleCommit {
				return nil
			}
		}
		from, owner := imp.Status, ""
		if from == ImportCommitting {
			owner = imp.CommitOwner
		}
		imp.Status, imp.CommitOwner, imp.CommitStartedAt = ImportCommitting, NewID(), now
		imp.ErrorCode, imp.Error = "", ""
		if err := tx.UpdateImport(ctx, imp, from, owner); err != nil {
			return err
		}
		claimed = true
		return s.audit(ctx, tx, org.ID, actor, "import.commit", imp.ID, imp.Filename)
	})
	if err != nil {
		return nil, nil, err
	}
	out := *imp
	if !claimed {
		return &out, nil, nil
	}
	run := func(ctx context.Context) error { return s.commit(ctx, actor, imp) }
	return &out, run, nil
}

// commit creates the invitations of the batch's ok and existing_user rows
// in one transaction. The batch is marked committed first thing in that
// transaction, conditionally on this commit still owning it: a second
// commit that got there too waits for the first's transaction (its row
// lock, or SQLite's one writer) and then finds the batch taken.
//
// The rows are re-checked against the database a chunk at a time; those
// that need more than a plain pending invitation are created from Go
// there (commitChunk). The plain ones, nearly always all of them, are
// then created together by CreateImportInvitations, set-based.
func (s *Service) commit(ctx context.Context, actor Actor, imp *Import) error {
	owner := imp.CommitOwner
	var created map[Status]int
	var done Import
	err := s.inTx(ctx, func(tx Tx) error {
		created = map[Status]int{}
		total := 0
		c := *imp
		now := s.Now()
		c.Status, c.CommittedAt = ImportCommitted, now
		if err := tx.UpdateImport(ctx, &c, ImportCommitting, owner); err != nil {
			return err
		}
		ctx, end, err := tx.BeginBulk(ctx)
		if err != nil {
			return err
		}
		defer end()
		org, err := tx.OrgByID(ctx, c.OrgID)
		if err != nil {
			return err
		}
		oc, err := s.importContext(ctx, tx, actor, org)
		if err != nil {
			return err
		}
		base, err := oc.resolve(Options{Message: c.Options.Message, ExpiresIn: c.Options.ExpiresIn})
		if err != nil {
			return err
		}
		rc := s.recheck(oc, c.ID)
		for {
			rows, err := tx.ImportRechecks(ctx, rc)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				break
			}
			rc.AfterLine = rows[len(rows)-1].Line
			invs, err := s.commitChunk(ctx, tx, actor, oc, &c, base, rows, now)
			if err != nil {
				return err
			}
			for _, inv := range invs {
				created[inv.Status]++
			}
			total += len(invs)
		}
		n, err := tx.CreateImportInvitations(ctx, &ImportCreate{
			ImportID: c.ID, OrgID: org.ID, InviterID: oc.inviter.ID, Message: base.Message, Now: now,
			ExpiresAt: now.Add(base.validity), SendEmail: c.Options.SendEmail,
			ActorID: actor.UserID, Actor: actor.label(), EventDetail: "import " + c.ID,
		})
		if err != nil {
			return err
		}
		created[StatusPending] += n
		c.Created = total + n
		counts, err := tx.ImportOutcomes(ctx, c.ID)
		if err != nil {
			return err
		}
		c.Totals = allOutcomes()
		maps.Copy(c.Totals, counts)
		if err := tx.UpdateImport(ctx, &c, ImportCommitted, owner); err != nil {
			return err
		}
		done = c
		return nil
	})
	if err == nil {
		for st, n := range created {
			for range n {
				s.transitioned("", st)
			}
		}
		*imp = done
		return nil
	}
	if errors.Is(err, ErrConflict) || CodeOf(err) == CodeConflict {
		// Another commit took the batch over; it answers for it.
		return nil
	}
	// Nothing was created: give the batch back, with the reason, so that
	// the commit can be tried again.
	s.log.Error("import commit failed", "import", imp.ID, "err", err)
	back := *imp
	back.Status, back.CommitOwner = ImportPreviewed, owner
	back.ErrorCode, back.Error = CodeOf(err), "the commit failed and created nothing; try again"
	if back.ErrorCode == "" {
		back.ErrorCode = "internal_error"
	}
	cleanup := context.WithoutCancel(ctx)
	if cerr := s.store.InTx(cleanup, func(tx Tx) error { return tx.UpdateImport(cleanup, &back, ImportCommitting, owner) }); cerr != nil {
		return errors.Join(err, cerr)
	}
	return err
}

// recheck says which rows a commit must look at from Go: only those that
// could turn out other than plain ok (ImportRecheck), unless the
// organization limits the domains it invites (checked from Go only).
// The roles and groups it names are those with which importRole,
// missingGroup and groupsByName find nothing to do.
func (s *Service) recheck(oc *orgContext, importID string) ImportRecheck {
	rc := ImportRecheck{ImportID: importID, OrgID: oc.org.ID, Limit: importChunk}
	// Each row is checked here when the organization limits domains, or
	// when the committer may not give the admin flag (a row may set it).
	if len(oc.org.Settings.AllowedDomains) > 0 || oc.withheldAdmin {
		rc.All = true
		return rc
	}
	for _, r := range append([]account.Role{{Name: ""}}, oc.roles...) {
		if _, bad := importRole(oc, &ImportRow{Role: r.Name}); bad == "" {
			rc.Roles = append(rc.Roles, r.Name)
		}
	}
	for _, g := range oc.groups {
		if groupsByName(oc, []string{g.Name}) {
			rc.Groups = append(rc.Groups, g.Name)
		}
	}
	return rc
}

// commitChunk re-checks one chunk of rows against the database (what
// changed since the preview becomes the row's new outcome, not an error).
// Rows that stay plain ok with their planned token are left to
// CreateImportInvitations; the others that get an invitation (existing
// users, rows planned before tokens were, groups that no longer match by
// name) are created here, with multi-row statements.
func (s *Service) commitChunk(ctx context.Context, tx Tx, actor Actor, oc *orgContext, imp *Import, base *resolved, rows []ImportRow, now time.Time) ([]*Invitation, error) {
	org := oc.org
	before := make([]string, len(rows))
	for i, row := range rows {
		before[i] = row.Outcome + "\x00" + row.Detail
	}
	// Rows recorded as existing_user are decided again like ok rows.
	states, err := s.decideRows(ctx, tx, org, rows)
	if err != nil {
		return nil, err
	}
	var invs []*Invitation
	var unplan []int
	byInv := map[string]int{}
	for i := range rows {
		row := &rows[i]
		if row.Outcome != string(bulk.OutcomeOK) && row.Outcome != string(bulk.OutcomeExistingUser) {
			continue
		}
		st := states[row.Email]
		// A pending invitation whose time ran out does not block: record
		// its expiry first, as inviting one person does (rare: one by one).
		if st.Live != nil && st.Live.Status == StatusPending && st.Live.StatusAt(now) == StatusExpired {
			live, err := tx.LiveInvitation(ctx, org.ID, row.Email)
			if err != nil {
				return nil, err
			}
			if err := s.recordExpiry(ctx, tx, live); err != nil {
				return nil, err
			}
		}
		role, bad := importRole(oc, row)
		if bad != "" {
			row.Outcome, row.Detail = string(bulk.OutcomeInvalidValue), bad
			continue
		}
		if gone := missingGroup(oc, row.Groups); gone != "" {
			row.Outcome, row.Detail = string(bulk.OutcomeUnknownGroup), "unknown group "+fmt.Sprintf("%q", gone)
			continue
		}
		if row.Outcome == string(bulk.OutcomeOK) && row.Planned {
			if groupsByName(oc, row.Groups) {
				continue // created with the others, set-based
			}
			unplan = append(unplan, row.Line)
		}
		inv := s.importInvitation(oc, imp, base, row, role, now)
		if st.UserID != "" && org.Settings.AddExistingUsers {
			inv.Status = StatusAccepted
			inv.AcceptedAt, inv.AcceptedUserID = now, st.UserID
			inv.SentAt, inv.ExpiresAt = now, now
		} else {
			inv.Status = StatusPending
			s.issue(inv, now, base.validity)
			if imp.Options.SendEmail {
				s.queue(inv)
			}
		}
		byInv[inv.ID] = i
		if row.InvitationID != inv.ID {
			row.InvitationID = inv.ID
			before[i] += "\x00unplanned" // no id planned at preview: written below
		}
		invs = append(invs, inv)
	}
	if err := tx.UnplanImportRows(ctx, imp.ID, unplan); err != nil {
		return nil, err
	}
	if len(invs) > 0 {
		skipped, err := tx.InsertInvitations(ctx, invs)
		if err != nil {
			return nil, err
		}
		if len(skipped) > 0 {
			// Invited meanwhile by someone else: already invited now.
			invs = slices.DeleteFunc(invs, func(inv *Invitation) bool {
				if !skipped[inv.ID] {
					return false
				}
				row := &rows[byInv[inv.ID]]
				row.Outcome, row.Detail, row.InvitationID = string(bulk.OutcomeAlreadyInvited), "invited meanwhile", ""
				return true
			})
		}
	}
	events := make([]*Event, 0, len(invs))
	var mails []*Email
	for _, inv := range invs {
		e := &Event{ID: NewID(), InvitationID: inv.ID, OrgID: inv.OrgID, At: now, Type: "created", To: inv.Status,
			ActorID: actor.UserID, Actor: actor.label(), Detail: "import " + imp.ID}
		if inv.Status == StatusAccepted {
			e.Type, e.Detail = "added", "existing user added directly (import "+imp.ID+")"
			if err := tx.PutMembership(ctx, &account.Membership{OrgID: inv.OrgID, UserID: inv.AcceptedUserID,
				Role: inv.Role, Admin: inv.Admin, Active: true, GroupIDs: inv.GroupIDs, CreatedAt: now}); err != nil {
				return nil, err
			}
		}
		events = append(events, e)
		if inv.DeliveryStatus == DeliveryQueued {
			mails = append(mails, &Email{ID: NewID(), OrgID: inv.OrgID, Kind: MailInvitation, InvitationID: inv.ID,
				To: inv.Email, DueAt: now})
		}
	}
	if err := tx.AddEvents(ctx, events); err != nil {
		return nil, err
	}
	if err := tx.EnqueueEmails(ctx, mails); err != nil {
		return nil, err
	}
	// The rows that stay as previewed already hold the id their
	// invitation was given (planned at preview); only the others are
	// written.
	var changed []ImportRow
	for i, row := range rows {
		if row.Outcome+"\x00"+row.Detail != before[i] {
			if row.Outcome != string(bulk.OutcomeOK) && row.Outcome != string(bulk.OutcomeExistingUser) {
				row.InvitationID = ""
			}
			changed = append(changed, row)
		}
	}
	if err := tx.SetImportRowResults(ctx, imp.ID, changed); err != nil {
		return nil, err
	}
	return invs, nil
}

// groupsByName reports whether every name resolves to a group spelled
// exactly so (and no two to the same group): CreateImportInvitations
// joins groups by name, where importInvitation also takes ids and other
// cases, so only then do the two agree.
func groupsByName(oc *orgContext, names []string) bool {
	var ids []string
	for _, n := range names {
		g := oc.group(n)
		if g == nil || g.Name != n || slices.Contains(ids, g.ID) {
			return false
		}
		ids = append(ids, g.ID)
	}
	return true
}

// importRole is the role a row's invitation gets (member when the file
// and the options gave none); bad says why it cannot (a role deleted since
// the preview). CreateImportInvitations applies the same default.
func importRole(oc *orgContext, row *ImportRow) (role, bad string) {
	role = row.Role
	if role == "" {
		role = account.RoleMember
	}
	switch {
	case !oc.hasRole(role) || role == account.RoleOwner:
		return "", fmt.Sprintf("invalid value for role: %q is not a role of this organization", role)
	case slices.Contains(oc.withheld, role):
		return "", fmt.Sprintf("invalid value for role: you cannot give the role %q (it grants permissions you do not hold)", role)
	case row.IsAdmin && oc.withheldAdmin:
		return "", "invalid value for admin: you cannot give the admin flag (it grants every permission, and you do not hold them all)"
	}
	return role, ""
}

// importInvitation builds the invitation of one row with role: the
// file's values, else the upload's options.
func (s *Service) importInvitation(oc *orgContext, imp *Import, base *resolved, row *ImportRow, role string, now time.Time) *Invitation {
	var groupIDs []string
	for _, name := range row.Groups {
		if g := oc.group(name); g != nil && !slices.Contains(groupIDs, g.ID) {
			groupIDs = append(groupIDs, g.ID)
		}
	}
	id := row.InvitationID
	if id == "" {
		id = NewID()
	}
	inv := &Invitation{
		ID: id, OrgID: oc.org.ID, Email: row.Email, FirstName: row.FirstName, LastName: row.LastName,
		Language: row.Language, Role: role, GroupIDs: groupIDs, Groups: row.Groups, Admin: row.IsAdmin,
		Message: base.Message, InviterID: oc.inviter.ID, Source: SourceImport, ImportID: imp.ID,
		CreatedAt: now, UpdatedAt: now, DeliveryStatus: DeliveryNone,
	}
	return inv
}

func missingGroup(oc *orgContext, names []string) string {
	for _, n := range names {
		if oc.group(n) == nil {
			return n
		}
	}
	return ""
}

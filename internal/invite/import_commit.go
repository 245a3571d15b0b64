package invite

import (
	"context"
	"errors"
	"fmt"
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
func (s *Service) commit(ctx context.Context, actor Actor, imp *Import) error {
	owner := imp.CommitOwner
	var created map[Status]int
	var done Import
	err := s.inTx(ctx, func(tx Tx) error {
		created = map[Status]int{}
		total := 0
		c := *imp
		c.Totals = allOutcomes()
		c.Status, c.CommittedAt = ImportCommitted, s.Now()
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
		// Outcomes the commit does not touch count as previewed.
		for _, o := range []bulk.Outcome{bulk.OutcomeInvalidEmail, bulk.OutcomeDuplicate, bulk.OutcomeAlreadyInvited,
			bulk.OutcomeAlreadyMember, bulk.OutcomeUnknownGroup, bulk.OutcomeInvalidValue} {
			n, err := tx.CountImportRows(ctx, c.ID, []string{string(o)})
			if err != nil {
				return err
			}
			c.Totals[string(o)] += n
		}
		after := 0
		for {
			rows, err := tx.ImportRows(ctx, ImportRowFilter{ImportID: c.ID, AfterLine: after, Limit: importChunk,
				Outcomes: []string{string(bulk.OutcomeOK), string(bulk.OutcomeExistingUser)}})
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				break
			}
			after = rows[len(rows)-1].Line
			invs, err := s.commitChunk(ctx, tx, actor, oc, &c, base, rows)
			if err != nil {
				return err
			}
			for _, inv := range invs {
				created[inv.Status]++
			}
			total += len(invs)
			for _, row := range rows {
				c.Totals[row.Outcome]++
			}
		}
		c.Created = total
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

// commitChunk re-checks one chunk of rows against the database (what
// changed since the preview becomes the row's new outcome, not an error)
// and creates their invitations with multi-row statements.
func (s *Service) commitChunk(ctx context.Context, tx Tx, actor Actor, oc *orgContext, imp *Import, base *resolved, rows []ImportRow) ([]*Invitation, error) {
	org := oc.org
	now := s.Now()
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
	byInv := map[string]int{}
	var tokens int
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
		inv, bad := s.importInvitation(oc, imp, base, row, now)
		if bad != "" {
			row.Outcome, row.Detail = string(bulk.OutcomeInvalidValue), bad
			continue
		}
		if gone := missingGroup(oc, row.Groups); gone != "" {
			row.Outcome, row.Detail = string(bulk.OutcomeUnknownGroup), "unknown group "+fmt.Sprintf("%q", gone)
			continue
		}
		if st.UserID != "" && org.Settings.AddExistingUsers {
			inv.Status = StatusAccepted
			inv.AcceptedAt, inv.AcceptedUserID = now, st.UserID
			inv.SentAt, inv.ExpiresAt = now, now
		} else {
			inv.Status = StatusPending
			s.issue(inv, now, base.validity)
			tokens++
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

// importInvitation builds the invitation of one row: the file's values,
// else the upload's options. bad names a value that no longer holds (a
// role deleted since the preview).
func (s *Service) importInvitation(oc *orgContext, imp *Import, base *resolved, row *ImportRow, now time.Time) (*Invitation, string) {
	role := row.Role
	if role == "" {
		role = account.RoleMember
	}
	if !oc.hasRole(role) || role == account.RoleOwner {
		return nil, fmt.Sprintf("invalid value for role: %q is not a role of this organization", role)
	}
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
	return inv, ""
}

func missingGroup(oc *orgContext, names []string) string {
	for _, n := range names {
		if oc.group(n) == nil {
			return n
		}
	}
	return ""
}

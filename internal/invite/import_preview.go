package invite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"

	"usher/internal/account"
	"usher/internal/bulk"
)

// StartImport records a new batch for the file rd (already opened, so a
// file that is not a spreadsheet was refused before anything was
// written) with the options chosen with the upload, in status processing.
// It returns the batch and the function that reads and previews it: run
// it (in a goroutine, for an API) and close rd after. The options are
// checked here, against the organization: a bad option refuses the upload.
func (s *Service) StartImport(ctx context.Context, actor Actor, slug, filename string, rd *bulk.Reader, opt ImportOptions) (*Import, func(context.Context) error, error) {
	var imp *Import
	var oc *orgContext
	var r *resolved
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		org, err := s.access(ctx, tx, actor, slug, account.PermBulkInvite)
		if err != nil {
			return err
		}
		if oc, err = s.importContext(ctx, tx, actor, org); err != nil {
			return err
		}
		r, err = oc.resolve(Options{Role: opt.Role, Groups: opt.Groups, Admin: opt.Admin, Language: opt.Language,
			Message: opt.Message, ExpiresIn: opt.ExpiresIn})
		if err != nil {
			return err
		}
		opt.Role, opt.Language, opt.Groups = r.Role, r.Language, oc.groupNames(r.groupIDs)
		imp = &Import{
			ID: NewID(), OrgID: oc.org.ID, CreatedBy: actor.UserID, Status: ImportProcessing,
			Filename: filename, Options: opt, Totals: allOutcomes(), Warnings: rd.Warnings(), CreatedAt: s.Now(),
		}
		return tx.InsertImport(ctx, imp)
	})
	if err != nil {
		return nil, nil, err
	}
	out := *imp
	out.Totals = maps.Clone(imp.Totals) // run writes imp's
	run := func(ctx context.Context) error { return s.preview(ctx, imp, oc, rd) }
	return &out, run, nil
}

// preview reads every row of rd, decides its outcome and writes it, a
// chunk at a time; a file that turns out unreadable part-way leaves the
// batch failed, with its reason and no rows.
func (s *Service) preview(ctx context.Context, imp *Import, oc *orgContext, rd *bulk.Reader) error {
	err := s.readPreview(ctx, imp, oc, rd)
	if err == nil {
		return nil
	}
	imp.Status, imp.ErrorCode, imp.Error = ImportFailed, "internal_error", "the file could not be imported; the error was logged"
	var be *bulk.Error
	if errors.As(err, &be) {
		imp.ErrorCode, imp.Error = be.Code, be.Message
		if be.Line > 0 {
			imp.Error = fmt.Sprintf("%s (row %d)", be.Message, be.Line)
		}
	} else {
		s.log.Error("import failed", "import", imp.ID, "err", err)
	}
	imp.Totals, imp.RowsRead = allOutcomes(), 0
	// Not the request's context: the failure must be written even when
	// what failed was the context.
	cleanup := context.WithoutCancel(ctx)
	if cerr := s.store.InTx(cleanup, func(tx Tx) error {
		if err := tx.DeleteImportRows(cleanup, imp.ID); err != nil {
			return err
		}
		err := tx.UpdateImport(cleanup, imp, ImportProcessing, "")
		if errors.Is(err, ErrConflict) {
			return nil // swept meanwhile: failed already
		}
		return err
	}); cerr != nil {
		return errors.Join(err, cerr)
	}
	return err
}

func (s *Service) readPreview(ctx context.Context, imp *Import, oc *orgContext, rd *bulk.Reader) error {
	roles := make([]string, 0, len(oc.roles))
	for _, r := range oc.roles {
		if r.Name != account.RoleOwner { // ownership is never given by invitation
			roles = append(roles, r.Name)
		}
	}
	groups := make([]string, len(oc.groups))
	for i, g := range oc.groups {
		groups[i] = g.Name
	}
	check := bulk.NewChecker(bulk.Defaults{Language: imp.Options.Language, Role: imp.Options.Role,
		Groups: imp.Options.Groups, Admin: imp.Options.Admin}, roles, groups)
	check.Withhold(oc.withheld, oc.withheldAdmin)
	dups := bulk.NewDuplicates(rd.Limits().MaxMemoryAddresses)
	// Three stages overlap: one goroutine parses the file, a second
	// checks each row and plans each valid row's invitation (its id and
	// token: an HMAC and a hash per row), and this one decides duplicates
	// and database outcomes and writes the rows. For XLSX, parsing costs
	// the most, so it does nothing else; for CSV, writing does; on two
	// cores the preview costs about the larger.
	stop := make(chan struct{})
	read := make(chan []bulk.Record, 2)
	planned := make(chan plannedChunk, 2)
	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(read)
		chunk := make([]bulk.Record, 0, importChunk)
		send := func() bool {
			select {
			case read <- chunk:
				chunk = make([]bulk.Record, 0, importChunk)
				return true
			case <-stop:
				return false
			}
		}
		for {
			rec, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err == nil {
				err = ctx.Err()
			}
			if err != nil {
				readErr = err
				return
			}
			chunk = append(chunk, rec)
			if len(chunk) == importChunk && !send() {
				return
			}
		}
		if len(chunk) > 0 {
			send()
		}
	})
	wg.Go(func() {
		defer close(planned)
		for recs := range read {
			rows := make([]bulk.Row, len(recs))
			for i, rec := range recs {
				rows[i] = check.Check(rec)
			}
			select {
			case planned <- s.planChunk(rows):
			case <-stop:
				return
			}
		}
	})
	n := 0
	var writeErr error
	for chunk := range planned {
		n += len(chunk.rows)
		if writeErr = s.previewChunk(ctx, imp, oc, dups, chunk, n); writeErr != nil {
			break
		}
	}
	close(stop)
	wg.Wait()
	if writeErr != nil {
		return writeErr
	}
	if readErr != nil {
		return readErr
	}
	imp.Status, imp.RowsRead, imp.PreviewedAt = ImportPreviewed, n, s.Now()
	imp.Warnings = rd.Warnings()
	return s.store.InTx(ctx, func(tx Tx) error { return tx.UpdateImport(ctx, imp, ImportProcessing, "") })
}

// plannedChunk is a chunk of checked rows with the invitation planned for
// each row that may get one.
type plannedChunk struct {
	rows  []bulk.Row
	plans []importPlan // by row; zero for rows Check refused
}

// importPlan is what a row's invitation will be given if the commit
// creates it: its id and its token (the nonce, and the hash stored in
// place of the token). Planned at preview, so that the commit creates the
// invitations from the stored rows without sending anything back.
type importPlan struct{ id, nonce, hash string }

func (s *Service) planChunk(rows []bulk.Row) plannedChunk {
	plans := make([]importPlan, len(rows))
	for i, r := range rows {
		// Duplicates are decided later; the few plans they waste cost
		// less than waiting for that.
		if r.Outcome == bulk.OutcomeOK {
			id, nonce := NewID(), NewNonce()
			plans[i] = importPlan{id: id, nonce: nonce, hash: HashToken(s.tokens.Token(id, nonce))}
		}
	}
	return plannedChunk{rows: rows, plans: plans}
}

// previewChunk decides the duplicates and the database outcomes of one
// chunk of rows and writes them, with the progress.
func (s *Service) previewChunk(ctx context.Context, imp *Import, oc *orgContext, dups *bulk.Duplicates, pc plannedChunk, read int) error {
	var chunk []ImportRow
	err := s.store.InTx(ctx, func(tx Tx) error {
		// Duplicates past the addresses kept in memory are looked up among
		// the rows written before (FirstSeen).
		if err := dups.Mark(pc.rows, func(emails []string) (map[string]int, error) {
			return tx.ImportFirstRows(ctx, imp.ID, emails)
		}); err != nil {
			return err
		}
		chunk = make([]ImportRow, len(pc.rows))
		for i, r := range pc.rows {
			chunk[i] = rd2row(r)
		}
		if _, err := s.decideRows(ctx, tx, oc.org, chunk); err != nil {
			return err
		}
		for i := range chunk {
			if o := chunk[i].Outcome; o == string(bulk.OutcomeOK) || o == string(bulk.OutcomeExistingUser) {
				p := pc.plans[i]
				chunk[i].InvitationID, chunk[i].TokenNonce, chunk[i].TokenHash = p.id, p.nonce, p.hash
			}
		}
		if err := tx.InsertImportRows(ctx, imp.ID, chunk); err != nil {
			return err
		}
		return tx.SetImportProgress(ctx, imp.ID, read)
	})
	if err != nil {
		return err
	}
	for _, row := range chunk {
		imp.Totals[row.Outcome]++
	}
	return nil
}

func rd2row(r bulk.Row) ImportRow {
	return ImportRow{Line: r.Line, Email: r.Email, FirstName: r.FirstName, LastName: r.LastName, Language: r.Language,
		Role: r.Role, Groups: r.Groups, Admin: r.Admin, IsAdmin: r.IsAdmin, Outcome: string(r.Outcome), Detail: r.Detail,
		FirstSeen: r.Spill}
}

// decideRows turns the ok rows of chunk into already_member, already_invited
// or existing_user where the database says so (and into invalid_email
// where the organization does not invite the address's domain), with a
// few queries for the whole chunk. Rows whose outcome is existing_user are
// decided again too: the commit re-checks.
func (s *Service) decideRows(ctx context.Context, tx Tx, org *account.Organization, chunk []ImportRow) (map[string]EmailState, error) {
	emails := make([]string, 0, len(chunk))
	for i := range chunk {
		row := &chunk[i]
		if row.Outcome != string(bulk.OutcomeOK) && row.Outcome != string(bulk.OutcomeExistingUser) {
			continue
		}
		if !org.Settings.DomainAllowed(row.Email) {
			row.Outcome = string(bulk.OutcomeInvalidEmail)
			row.Detail = "this organization only invites addresses at " + strings.Join(org.Settings.AllowedDomains, ", ")
			continue
		}
		emails = append(emails, row.Email)
	}
	if len(emails) == 0 {
		return nil, nil
	}
	states, err := tx.EmailStates(ctx, org.ID, emails)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	for i := range chunk {
		row := &chunk[i]
		if row.Outcome != string(bulk.OutcomeOK) && row.Outcome != string(bulk.OutcomeExistingUser) {
			continue
		}
		st, ok := states[row.Email]
		row.Outcome, row.Detail = string(bulk.OutcomeOK), ""
		switch {
		case !ok:
		case st.Member:
			row.Outcome, row.Detail = string(bulk.OutcomeAlreadyMember), "already a member of this organization"
		case st.Live != nil && st.Live.StatusAt(now) != StatusExpired:
			row.Outcome, row.Detail = string(bulk.OutcomeAlreadyInvited), "already has an open invitation ("+string(st.Live.Status)+")"
		case st.UserID != "" && org.Settings.AddExistingUsers:
			row.Outcome, row.Detail = string(bulk.OutcomeExistingUser), "has an account: will be added to the organization directly"
		case st.UserID != "":
			row.Outcome, row.Detail = string(bulk.OutcomeExistingUser), "has an account: will be invited to sign in and accept"
		}
	}
	return states, nil
}

// importContext loads what checking a file's rows needs: every role and
// group of the organization (a file may name any of them).
func (s *Service) importContext(ctx context.Context, tx Tx, actor Actor, org *account.Organization) (*orgContext, error) {
	oc := &orgContext{org: org, grant: s.grantorFor(ctx, tx, actor, org.ID)}
	var err error
	if oc.roles, err = tx.Roles(ctx, org.ID); err != nil {
		return nil, err
	}
	if oc.groups, err = tx.Groups(ctx, org.ID); err != nil {
		return nil, err
	}
	if oc.inviter, err = s.inviter(ctx, tx, actor, org, ""); err != nil {
		return nil, err
	}
	// A file may name any role and set the admin flag: find what the
	// actor may not give, now, while the transaction is open.
	for _, r := range oc.roles {
		refused, err := oc.grant.refusals(oc.roles, r.Name, false)
		if err != nil {
			return nil, err
		}
		if len(refused) > 0 {
			oc.withheld = append(oc.withheld, r.Name)
		}
	}
	refused, err := oc.grant.refusals(oc.roles, "", true)
	if err != nil {
		return nil, err
	}
	_, oc.withheldAdmin = refused["admin"]
	return oc, nil
}

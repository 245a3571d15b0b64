package invite

import (
	"context"
	"errors"
	"time"

	"usher/internal/account"
	"usher/internal/bulk"
)

// Import batches (product.md §5 Import).
//
// An import is read and previewed once, in chunks: each chunk of rows is
// checked on its own terms (bulk.Checker), for duplicates (bulk.Duplicates,
// which keeps a bounded number of addresses in memory and finds the rest
// among the rows written before), then against the database with a few
// set-based queries, and written to the batch's rows with the invitation
// each valid row would get (id and token) planned. Nothing holds the whole
// file: memory stays flat whatever the row count.
//
// Commit re-checks the valid rows against the database in chunks, then
// creates the invitations of those that are still plain "ok" with a few
// INSERT … SELECT statements over the stored rows (invitations, their
// groups, their created events, their emails), all in one transaction.
// Rows that need more (an existing user to add directly, a group renamed
// since) are created one chunk at a time from Go.

// ImportStatus is where a batch is in its life.
type ImportStatus string

// The statuses of a batch: processing → previewed → committing →
// committed, or failed (the file could not be read; the batch keeps only
// its reason).
const (
	ImportProcessing ImportStatus = "processing"
	ImportPreviewed  ImportStatus = "previewed"
	ImportCommitting ImportStatus = "committing"
	ImportCommitted  ImportStatus = "committed"
	ImportFailed     ImportStatus = "failed"
)

// importChunk is how many rows are checked, looked up and written
// together, and how many invitations one multi-row statement inserts.
const importChunk = 500

// staleCommit is how long a commit may stay in committing before another
// commit request may take it over (its instance died mid-way; the
// transaction it ran was rolled back with it).
const staleCommit = 15 * time.Minute

// ImportOptions are the options chosen with the upload. A value in the
// file overrides them for its row.
type ImportOptions struct {
	Role      string        `json:"role"`
	Groups    []string      `json:"groups"`
	Admin     bool          `json:"admin"`
	Language  string        `json:"language"`
	Message   string        `json:"message"`
	ExpiresIn time.Duration `json:"expires_in"`
	SendEmail bool          `json:"send_email"`
}

// Import is one uploaded file and what became of it.
type Import struct {
	ID        string
	OrgID     string
	CreatedBy string
	Status    ImportStatus
	// ErrorCode and Error say why the batch failed (status failed) or why
	// its last commit attempt did not go through (status previewed).
	ErrorCode string
	Error     string
	Filename  string
	Options   ImportOptions
	// Totals counts the rows by outcome (every outcome present).
	Totals   map[string]int
	Warnings []string
	// RowsRead is the progress of the preview: rows read so far.
	RowsRead int
	// Created is how many invitations the commit created (invited or
	// added directly).
	Created int

	CommitOwner     string
	CreatedAt       time.Time
	PreviewedAt     time.Time
	CommitStartedAt time.Time
	CommittedAt     time.Time
}

// ImportRow is one row of a batch: the values its invitation gets and its
// outcome; after commit, the invitation it made.
type ImportRow struct {
	Line      int
	Email     string
	FirstName string
	LastName  string
	Language  string
	Role      string
	Groups    []string
	Admin     *bool // as given in the file; nil: not given
	IsAdmin   bool  // what the invitation grants
	Outcome   string
	Detail    string
	// InvitationID is the id of the row's invitation once committed
	// (planned at preview, so that the commit need not rewrite the row).
	InvitationID string
	// Planned tells that a token was planned at preview (set when read
	// back).
	Planned bool
	// TokenNonce and TokenHash are the token planned with InvitationID.
	// They are written at preview and never read back into an ImportRow:
	// the commit reads them in SQL.
	TokenNonce, TokenHash string
	// FirstSeen marks the first row with its address among those whose
	// address the preview could not keep in memory
	// (bulk.Row.Spill): ImportFirstRows finds it.
	FirstSeen bool
}

// ImportRecheck selects, in row order, the ok and existing_user rows of a
// batch that a commit must decide again from Go: those that are
// existing_user or have no token planned, those whose address the
// database now knows (an account, or a live invitation in the
// organization), those whose role is not one of Roles and those with a
// group not named exactly as one of Groups. All selects every ok and
// existing_user row.
type ImportRecheck struct {
	ImportID  string
	OrgID     string
	AfterLine int
	Limit     int
	All       bool
	Roles     []string // role values (as rows hold them) that need nothing
	Groups    []string // group names a row may hold and need nothing
}

// ImportCreate describes the invitations a commit creates in one go from
// the batch's planned rows (outcome ok, token planned): one pending
// invitation each with the row's values, its groups, its created event
// and, with SendEmail, its email.
type ImportCreate struct {
	ImportID  string
	OrgID     string
	InviterID string
	Message   string
	Now       time.Time
	ExpiresAt time.Time
	SendEmail bool
	// ActorID, Actor and EventDetail make each invitation's created event.
	ActorID     string
	Actor       string
	EventDetail string
}

// ImportRowFilter selects rows of one batch, in row order.
type ImportRowFilter struct {
	ImportID  string
	Outcomes  []string
	AfterLine int
	Limit     int
}

// EmailState is what the database knows about one address in one
// organization, for the outcomes that need it.
type EmailState struct {
	UserID string // "" when no account has the address
	Member bool
	// Live is the organization's live invitation for the address (id,
	// status and expiry only), if any.
	Live *Invitation
}

// ImportStore holds import batches and the set-based reads and writes
// that make importing at spreadsheet scale cheap.
type ImportStore interface {
	InsertImport(ctx context.Context, imp *Import) error
	Import(ctx context.Context, orgID, id string) (*Import, error)
	// UpdateImport writes imp's mutable fields if its stored status is
	// from and, when owner is not "", its stored commit owner is owner;
	// ErrConflict otherwise.
	UpdateImport(ctx context.Context, imp *Import, from ImportStatus, owner string) error
	// SetImportProgress records how many rows have been read;
	// ErrConflict when the batch is no longer processing (swept).
	SetImportProgress(ctx context.Context, id string, rowsRead int) error
	InsertImportRows(ctx context.Context, importID string, rows []ImportRow) error
	// ImportFirstRows finds emails among a batch's rows marked FirstSeen:
	// for each one found, its line.
	ImportFirstRows(ctx context.Context, importID string, emails []string) (map[string]int, error)
	// ImportRechecks lists the rows r selects.
	ImportRechecks(ctx context.Context, r ImportRecheck) ([]ImportRow, error)
	// ImportOutcomes counts a batch's rows by outcome.
	ImportOutcomes(ctx context.Context, importID string) (map[string]int, error)
	// UnplanImportRows drops the planned token of rows (by line), which
	// leaves them out of CreateImportInvitations.
	UnplanImportRows(ctx context.Context, importID string, lines []int) error
	// CreateImportInvitations creates the invitations of c, skipping those
	// that would make a second live invitation for an address (their rows
	// become already_invited); it returns how many it created.
	CreateImportInvitations(ctx context.Context, c *ImportCreate) (int, error)
	DeleteImportRows(ctx context.Context, importID string) error
	ImportRows(ctx context.Context, f ImportRowFilter) ([]ImportRow, error)
	// CountImportRows counts a batch's rows with one of outcomes (all: none).
	CountImportRows(ctx context.Context, importID string, outcomes []string) (int, error)
	// SetImportRowResults writes outcome, detail and invitation id of rows
	// (matched by line).
	SetImportRowResults(ctx context.Context, importID string, rows []ImportRow) error
	// EmailStates looks up emails (normalized) in one organization, in a
	// few queries; addresses the database knows nothing of are absent.
	EmailStates(ctx context.Context, orgID string, emails []string) (map[string]EmailState, error)
	// InsertInvitations inserts invs with their groups, skipping (and
	// returning the ids of) those that would make a second live
	// invitation for an address.
	InsertInvitations(ctx context.Context, invs []*Invitation) (skipped map[string]bool, err error)
	AddEvents(ctx context.Context, events []*Event) error
	EnqueueEmails(ctx context.Context, emails []*Email) error
	// StaleImports lists batches still in status processing that were
	// created before before (their reader died with its instance).
	StaleImports(ctx context.Context, before time.Time, limit int) ([]*Import, error)
	// BeginBulk prepares the transaction for writing very many rows: use
	// the context it returns for them, and call end before the
	// transaction ends.
	BeginBulk(ctx context.Context) (bulkCtx context.Context, end func() error, err error)
}

func allOutcomes() map[string]int {
	return map[string]int{
		string(bulk.OutcomeOK): 0, string(bulk.OutcomeInvalidEmail): 0, string(bulk.OutcomeDuplicate): 0,
		string(bulk.OutcomeAlreadyInvited): 0, string(bulk.OutcomeAlreadyMember): 0,
		string(bulk.OutcomeExistingUser): 0, string(bulk.OutcomeUnknownGroup): 0, string(bulk.OutcomeInvalidValue): 0,
	}
}

// CheckImportAccess tells whether actor may import into the organization
// slug, before the upload is read.
func (s *Service) CheckImportAccess(ctx context.Context, actor Actor, slug string) error {
	return s.store.View(ctx, func(tx Tx) error {
		_, err := s.access(ctx, tx, actor, slug, account.PermBulkInvite)
		return err
	})
}

// GetImport returns a batch of the organization slug.
func (s *Service) GetImport(ctx context.Context, actor Actor, slug, id string) (*Import, error) {
	var imp *Import
	err := s.store.View(ctx, func(tx Tx) error {
		org, err := s.access(ctx, tx, actor, slug, account.PermBulkInvite)
		if err != nil {
			return err
		}
		imp, err = loadImport(ctx, tx, org.ID, id)
		return err
	})
	return imp, err
}

func loadImport(ctx context.Context, tx Tx, orgID, id string) (*Import, error) {
	imp, err := tx.Import(ctx, orgID, id)
	if errors.Is(err, ErrNotFound) {
		return nil, errorf(CodeNotFound, "no such import")
	}
	return imp, err
}

// ImportRowsPage is one page of a batch's rows.
type ImportRowsPage struct {
	Rows      []ImportRow
	NextAfter int // the line to continue after; 0: no more
	Total     int
}

// ImportRows lists a batch's rows in file order, optionally only those
// with one of outcomes, limit (≤ 500) after line afterLine.
func (s *Service) ImportRows(ctx context.Context, actor Actor, slug, id string, outcomes []string, afterLine, limit int) (*ImportRowsPage, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	page := &ImportRowsPage{}
	err := s.store.View(ctx, func(tx Tx) error {
		org, err := s.access(ctx, tx, actor, slug, account.PermBulkInvite)
		if err != nil {
			return err
		}
		if page.Total, err = tx.CountImportRows(ctx, id, outcomes); err != nil {
			return err
		}
		imp, err := loadImport(ctx, tx, org.ID, id)
		if err != nil {
			return err
		}
		rows, err := tx.ImportRows(ctx, ImportRowFilter{ImportID: id, Outcomes: outcomes, AfterLine: afterLine, Limit: limit + 1})
		if err != nil {
			return err
		}
		if imp.Status != ImportCommitted {
			// Ids are planned at preview; an invitation exists only once
			// committed.
			for i := range rows {
				rows[i].InvitationID = ""
			}
		}
		if len(rows) > limit {
			rows = rows[:limit]
			page.NextAfter = rows[limit-1].Line
		}
		page.Rows = rows
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// SweepImports fails the batches whose reading was cut short: an instance
// that stops (or dies) while reading a file leaves its batch in
// processing, which nothing else would ever finish. A batch older than
// maxAge still processing is failed with that reason and loses its rows.
// Safe on several instances at once (each change is status-checked).
// Returns how many batches it failed.
func (s *Service) SweepImports(ctx context.Context, maxAge time.Duration) (int, error) {
	var stale []*Import
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		stale, err = tx.StaleImports(ctx, s.Now().Add(-maxAge), 100)
		return err
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, imp := range stale {
		imp.Status, imp.ErrorCode = ImportFailed, "interrupted"
		imp.Error = "reading the file was interrupted (the server stopped); upload it again"
		imp.Totals, imp.RowsRead = allOutcomes(), 0
		err := s.store.InTx(ctx, func(tx Tx) error {
			if err := tx.UpdateImport(ctx, imp, ImportProcessing, ""); err != nil {
				return err
			}
			return tx.DeleteImportRows(ctx, imp.ID)
		})
		switch {
		case errors.Is(err, ErrConflict):
			continue // finished meanwhile
		case err != nil:
			return n, err
		}
		n++
	}
	return n, nil
}

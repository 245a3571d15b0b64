package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"usher/internal/bulk"
	"usher/internal/config"
	"usher/internal/invite"
)

// importCmd previews a CSV or XLSX file with the same engine as the API
// (and with --commit creates the invitations), printing the totals, the
// warnings and the first rows that will not be invited.
func importCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newCommand("import", stderr)
	slug := fs.String("org", "", "the organization's slug (required)")
	commit := fs.Bool("commit", false, "create the invitations of the valid rows after the preview")
	role := fs.String("role", "", "role of rows that name none (default member)")
	var groups config.Strings
	fs.Var(&groups, "group", "group of rows that name none (repeatable)")
	admin := fs.Bool("admin", false, "give admin rights to rows that do not say")
	language := fs.String("language", "", "language of rows that name none, e.g. nl-BE")
	message := fs.String("message", "", "personal message in the emails")
	expiresIn := fs.Duration("expires-in", 0, "validity of the links, e.g. 72h (default: the organization's)")
	noEmail := fs.Bool("no-email", false, "create pending invitations without sending them")
	maxRows := fs.Int("max-rows", bulk.DefaultMaxRows, "largest number of rows accepted")
	maxBytes := fs.Int64("max-bytes", bulk.DefaultMaxBytes, "largest file accepted, in bytes")
	show := fs.Int("show", 20, "how many rows that will not be invited to list")
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	if *slug == "" || fs.NArg() != 1 {
		return fs.usage("--org and one file are required")
	}
	path := fs.Arg(0)
	a, err := fs.open(ctx)
	if err != nil {
		return err
	}
	defer a.store.Close()
	actor, err := a.svc.OperatorFor(ctx, *slug)
	if err != nil {
		return describe(err)
	}

	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	rd, err := bulk.Open(f, st.Size(), filepath.Base(path), bulk.Limits{MaxRows: *maxRows, MaxBytes: *maxBytes})
	if err != nil {
		return describeFile(err)
	}
	defer rd.Close()
	opt := invite.ImportOptions{Role: *role, Groups: groups, Admin: *admin, Language: *language, Message: *message,
		ExpiresIn: *expiresIn, SendEmail: !*noEmail}
	imp, run, err := a.svc.StartImport(ctx, actor, *slug, filepath.Base(path), rd, opt)
	if err != nil {
		return describe(err)
	}
	start := time.Now()
	runErr := run(ctx)
	if imp, err = a.svc.GetImport(ctx, actor, *slug, imp.ID); err != nil {
		return describe(err)
	}
	if imp.Status == invite.ImportFailed {
		return fmt.Errorf("%s (%s); nothing was imported", imp.Error, imp.ErrorCode)
	}
	if runErr != nil {
		return runErr
	}
	fmt.Fprintf(stdout, "import %s: %s, %d rows read in %s\n", imp.ID, imp.Filename, imp.RowsRead, time.Since(start).Round(time.Millisecond))
	for _, o := range cliOutcomes {
		fmt.Fprintf(stdout, "  %-16s %d\n", o, imp.Totals[o])
	}
	for _, w := range imp.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	if err := printRefused(ctx, a.svc, actor, *slug, imp, *show, stdout); err != nil {
		return describe(err)
	}
	if !*commit {
		fmt.Fprintf(stdout, "preview only: run again with --commit to invite the %d ok and existing_user rows\n",
			imp.Totals["ok"]+imp.Totals["existing_user"])
		return nil
	}
	imp, run, err = a.svc.CommitImport(ctx, actor, *slug, imp.ID)
	if err != nil {
		return describe(err)
	}
	if run != nil {
		if err := run(ctx); err != nil {
			return describe(err)
		}
	}
	if imp, err = a.svc.GetImport(ctx, actor, *slug, imp.ID); err != nil {
		return describe(err)
	}
	if imp.Status != invite.ImportCommitted {
		return fmt.Errorf("the commit did not go through (%s): %s", imp.Status, imp.Error)
	}
	fmt.Fprintf(stdout, "committed: %d invitations created\n", imp.Created)
	fmt.Fprintln(stderr, "emails are delivered by the running server (usher serve)")
	return nil
}

var cliOutcomes = []string{"ok", "existing_user", "already_invited", "already_member", "duplicate",
	"invalid_email", "invalid_value", "unknown_group"}

// printRefused lists the first rows that will not be invited, and why.
func printRefused(ctx context.Context, svc *invite.Service, actor invite.Actor, slug string, imp *invite.Import, n int, w io.Writer) error {
	if n <= 0 {
		return nil
	}
	page, err := svc.ImportRows(ctx, actor, slug, imp.ID, []string{"invalid_email", "duplicate", "invalid_value",
		"unknown_group", "already_invited", "already_member"}, 0, n)
	if err != nil || len(page.Rows) == 0 {
		return err
	}
	fmt.Fprintf(w, "rows that will not be invited (%d; first %d):\n", page.Total, len(page.Rows))
	for _, r := range page.Rows {
		fmt.Fprintf(w, "  row %-6d %-32s %-16s %s\n", r.Line, r.Email, r.Outcome, r.Detail)
	}
	return nil
}

// describeFile explains why a file was refused.
func describeFile(err error) error {
	var be *bulk.Error
	if errors.As(err, &be) {
		msg := be.Message
		if be.Line > 0 {
			msg = fmt.Sprintf("%s (row %d)", msg, be.Line)
		}
		return fmt.Errorf("%s (%s)", strings.TrimSuffix(msg, "."), be.Code)
	}
	return err
}

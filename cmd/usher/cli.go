package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"usher/internal/config"
	"usher/internal/invite"
)

// cliLogger keeps command-line output clean: warnings only.
func cliLogger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newCommand("migrate", stderr)
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	a, err := fs.open(ctx)
	if err != nil {
		return err
	}
	defer a.store.Close()
	fmt.Fprintf(stdout, "database is up to date (%s)\n", a.store.Dialect())
	return nil
}

func adminCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newCommand("admin create", stderr)
	email := fs.String("email", "", "the admin's email (required)")
	password := fs.String("password", "", "the admin's password (required; at least 8 characters, not a common one)")
	orgName := fs.String("org", "", "also create an organization with this name, owned by the admin")
	personal := fs.Bool("personal-orgs", true, "give the admin a personal organization, as serve gives every new user (set it as for serve)")
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	if *email == "" || *password == "" {
		return fs.usage("--email and --password are required")
	}
	a, err := fs.db.open(ctx, cliLogger(stderr), *personal)
	if err != nil {
		return err
	}
	defer a.store.Close()
	u, err := a.svc.CreateUser(ctx, *email, *password, true)
	if err != nil {
		return describe(err)
	}
	fmt.Fprintf(stdout, "created instance admin %s (user %s)\n", u.Email, u.ID)
	if *orgName != "" {
		org, err := a.svc.CreateOrg(ctx, *orgName, "", u.Email)
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "created organization %q with slug %s\n", org.Name, org.Slug)
	}
	return nil
}

func orgCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newCommand("org create", stderr)
	name := fs.String("name", "", "the organization's name (required)")
	slug := fs.String("slug", "", "its slug in URLs (default: derived from the name)")
	owner := fs.String("owner", "", "email of an existing account that will own it (required)")
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	if *name == "" || *owner == "" {
		return fs.usage("--name and --owner are required")
	}
	a, err := fs.open(ctx)
	if err != nil {
		return err
	}
	defer a.store.Close()
	org, err := a.svc.CreateOrg(ctx, *name, *slug, *owner)
	if err != nil {
		return describe(err)
	}
	fmt.Fprintf(stdout, "created organization %q with slug %s\n", org.Name, org.Slug)
	return nil
}

func apikeyCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newCommand("apikey create", stderr)
	slug := fs.String("org", "", "the organization's slug (required)")
	name := fs.String("name", "", "a name to recognize the key by")
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	if *slug == "" {
		return fs.usage("--org is required")
	}
	a, err := fs.open(ctx)
	if err != nil {
		return err
	}
	defer a.store.Close()
	secret, _, err := a.svc.CreateAPIKey(ctx, *slug, *name, invite.System)
	if err != nil {
		return describe(err)
	}
	fmt.Fprintln(stderr, "API key (shown once; only its hash is kept):")
	fmt.Fprintln(stdout, secret)
	return nil
}

func inviteCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newCommand("invite", stderr)
	slug := fs.String("org", "", "the organization's slug (required)")
	role := fs.String("role", "", "role the invitees get (default member)")
	var groups config.Strings
	fs.Var(&groups, "group", "group the invitees join (repeatable)")
	message := fs.String("message", "", "personal message in the email")
	language := fs.String("language", "", "language of the email, e.g. nl-BE")
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	emails := fs.Args()
	if *slug == "" || len(emails) == 0 {
		return fs.usage("--org and at least one email address are required")
	}
	a, err := fs.open(ctx)
	if err != nil {
		return err
	}
	defer a.store.Close()
	actor, err := a.svc.OperatorFor(ctx, *slug)
	if err != nil {
		return describe(err)
	}
	var list []string
	for _, e := range emails {
		list = append(list, strings.Fields(strings.NewReplacer(",", " ", ";", " ").Replace(e))...)
	}
	results, err := a.svc.InviteMany(ctx, actor, *slug, list, invite.Options{Role: *role, Groups: groups,
		Message: *message, Language: *language, Source: invite.SourceCLI}, false)
	if err != nil {
		return describe(err)
	}
	failed := 0
	for _, r := range results {
		switch {
		case r.Created != nil && r.Created.Link != "":
			fmt.Fprintf(stdout, "%-40s %s  %s\n", r.Email, r.Outcome, r.Created.Link)
		case r.Err != nil:
			failed++
			fmt.Fprintf(stdout, "%-40s %s  (%s)\n", r.Email, r.Outcome, r.Err.Message)
		default:
			fmt.Fprintf(stdout, "%-40s %s\n", r.Email, r.Outcome)
		}
	}
	fmt.Fprintln(stderr, "emails are delivered by the running server (usher serve)")
	if failed > 0 {
		return fmt.Errorf("%d of %d addresses were not invited", failed, len(results))
	}
	return nil
}

// describe turns a domain error into a one-line message for the terminal.
func describe(err error) error {
	var de *invite.Error
	if errors.As(err, &de) {
		msg := de.Message
		for _, f := range de.Fields {
			msg += fmt.Sprintf("; %s: %s", f.Field, f.Message)
		}
		return fmt.Errorf("%s (%s)", msg, de.Code)
	}
	return err
}

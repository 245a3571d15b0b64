package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"usher/internal/account"
	"usher/internal/config"
	"usher/internal/invite"
	"usher/internal/sqlstore"
)

// version is set at build time (-ldflags "-X main.version=..."); left at
// "dev", versionString tells what the Go toolchain recorded instead.
var version = "dev"

// versionString is the version a user reports: the one set at build time,
// else the module's (go install usher@v1.2.3), with the commit of a build
// from a checkout and the Go release.
func versionString(set string, bi *debug.BuildInfo) string {
	if bi == nil {
		return set
	}
	v := set
	if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	var extra []string
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		c := "commit " + rev
		if modified == "true" {
			c += ", modified"
		}
		extra = append(extra, c)
	}
	if bi.GoVersion != "" {
		extra = append(extra, bi.GoVersion)
	}
	if len(extra) == 0 {
		return v
	}
	return v + " (" + strings.Join(extra, "; ") + ")"
}

func buildVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return versionString(version, bi)
}

const usage = `usher — invitations and onboarding

Usage:
  usher serve         run the server (SQLite under ./data unless --database-url)
  usher migrate       apply database migrations
  usher admin create  --email E --password P [--org NAME]
  usher org create    --name NAME [--slug SLUG] --owner EMAIL
  usher apikey create --org SLUG [--name NAME]
  usher invite        --org SLUG [--role R] [--group G]... EMAIL...
  usher import        --org SLUG [--commit] [--role R] [--group G]... FILE
  usher version

Every flag also reads USHER_<FLAG> from the environment; flags win.
Run "usher <command> --help" for a command's flags.
`

// run is the whole program: main only calls it, so tests can run usher
// in-process with their own arguments, environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, getenv, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // --help: the flags are printed, which is what was asked
	}
	return err
}

// dispatch runs the command args name.
func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	if (cmd == "admin" || cmd == "org" || cmd == "apikey") && len(rest) > 0 && rest[0] == "create" {
		cmd, rest = cmd+" create", rest[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, getenv, stdout, stderr)
	case "admin create":
		return adminCreate(ctx, rest, getenv, stdout, stderr)
	case "org create":
		return orgCreate(ctx, rest, getenv, stdout, stderr)
	case "apikey create":
		return apikeyCreate(ctx, rest, getenv, stdout, stderr)
	case "invite":
		return inviteCmd(ctx, rest, getenv, stdout, stderr)
	case "import":
		return importCmd(ctx, rest, getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "usher", buildVersion())
		return nil
	case "help", "--help", "-h", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", strings.Join(args[:min(2, len(args))], " "))
}

// dbFlags are the flags every command that opens the database takes.
type dbFlags struct {
	data        string
	databaseURL string
	secret      string
	baseURL     string
}

func (d *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.data, "data", "./data", "folder for the SQLite database and the instance key")
	fs.StringVar(&d.databaseURL, "database-url", "", "PostgreSQL URL (postgres://…); empty: SQLite under --data")
	fs.StringVar(&d.secret, "secret", "", "instance key, 64 hex characters, shared by all instances (default: generated in --data, or in the database on PostgreSQL)")
	fs.StringVar(&d.baseURL, "base-url", "", "public URL of usher, for links in emails (default http://localhost:PORT of --addr)")
}

// command is a subcommand's flag set: the database flags and its own.
type command struct {
	*flag.FlagSet
	db     dbFlags
	stderr io.Writer
}

func newCommand(name string, stderr io.Writer) *command {
	c := &command{FlagSet: newFlagSet(name, stderr), stderr: stderr}
	c.db.register(c.FlagSet)
	return c
}

// parse reads the arguments, then USHER_* variables for flags not given.
func (c *command) parse(args []string, getenv func(string) string) error {
	return config.Parse(c.FlagSet, args, getenv)
}

// usage prints the command's flags and returns why they are not enough.
func (c *command) usage(missing string) error {
	c.Usage()
	return errors.New(missing)
}

// open opens the database for a command-line run (warnings only in the
// output); the caller closes the store.
func (c *command) open(ctx context.Context) (*app, error) {
	return c.db.open(ctx, cliLogger(c.stderr), true)
}

// newFlagSet returns a flag set that prints its help to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("usher "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage of usher %s (every flag also reads USHER_<FLAG>):\n", name)
		fs.PrintDefaults()
	}
	return fs
}

// app is what every command builds from the database flags.
type app struct {
	store *sqlstore.Store
	svc   *invite.Service
}

func (d *dbFlags) open(ctx context.Context, log *slog.Logger, personalOrgs bool) (*app, error) {
	store, err := sqlstore.Open(ctx, sqlstore.Options{DatabaseURL: d.databaseURL, DataDir: d.data})
	if err != nil {
		return nil, err
	}
	key, err := d.instanceKey(ctx, store, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	tokens, err := invite.NewTokens(key)
	if err != nil {
		store.Close()
		return nil, err
	}
	base := d.baseURL
	if base == "" {
		base = "http://localhost:8080"
	}
	svc := invite.New(store, nil, account.NewHasher(0), tokens, invite.Config{BaseURL: base, PersonalOrgs: personalOrgs}, log)
	return &app{store: store, svc: svc}, nil
}

// instanceKey finds the key invitation links are derived with: given, or
// kept in the data folder (SQLite), or in the database (PostgreSQL with no
// --secret: readable by whoever reads the database, hence the warning).
func (d *dbFlags) instanceKey(ctx context.Context, store *sqlstore.Store, log *slog.Logger) ([]byte, error) {
	if d.secret != "" {
		key, err := hex.DecodeString(d.secret)
		if err != nil || len(key) < invite.KeySize {
			return nil, errors.New("--secret must be at least 64 hexadecimal characters (32 bytes)")
		}
		return key, nil
	}
	if store.Dialect() == sqlstore.Postgres {
		log.Warn("no --secret (USHER_SECRET) given: the instance key is kept in the database; set one shared by all instances")
		return store.InstanceKey(ctx)
	}
	path := filepath.Join(d.data, "secret.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, invite.KeySize)
		rand.Read(key)
		if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write instance key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read instance key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < invite.KeySize {
		return nil, fmt.Errorf("%s is not a valid instance key", path)
	}
	return key, nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

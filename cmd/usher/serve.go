package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"usher/internal/bulk"
	"usher/internal/invite"
	"usher/internal/job"
	"usher/internal/mail"
	"usher/internal/web"
)

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newCommand("serve", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	smtpURL := fs.String("smtp-url", "", "SMTP server, smtp://user:pass@host:587 or smtps://…:465 (empty: the built-in mailbox)")
	mailFrom := fs.String("mail-from", "usher <no-reply@localhost>", "sender of every email")
	sendRate := fs.Float64("send-rate", 50, "most emails sent per second (0: no cap)")
	retryBase := fs.Duration("retry-base", 5*time.Second, "first wait after a temporary delivery failure (doubles each time)")
	retryMax := fs.Duration("retry-max", 5*time.Minute, "longest wait between delivery attempts")
	jobBatch := fs.Int("job-batch", 200, "most emails one delivery round claims and sends over one connection")
	jobLease := fs.Duration("job-lease", 2*time.Minute, "how long claimed emails are reserved for this instance; a dead instance's emails are sent by another after it")
	jobPoll := fs.Duration("job-poll", time.Second, "how often to look for due email queued by other instances")
	personal := fs.Bool("personal-orgs", true, "give every new user a personal organization")
	openSignup := fs.Bool("open-signup", false, "let people create an account without an invitation")
	hookPrivate := fs.Bool("webhook-private", false, "let webhooks reach loopback and private network addresses (off: only public ones, so that no organization's owner reaches this instance's network)")
	inviteRate := fs.Int("invite-rate", 1000, "most people one organization may invite per hour through this instance's API and console (imports excepted; 0: no limit)")
	importBytes := fs.Int64("import-max-bytes", bulk.DefaultMaxBytes, "largest import file accepted, in bytes")
	importRows := fs.Int("import-max-rows", bulk.DefaultMaxRows, "most rows an import file may have")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	if *inviteRate < 0 {
		return errors.New("--invite-rate must be 0 (no limit) or more")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	defer ln.Close()
	if fs.db.baseURL == "" {
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		fs.db.baseURL = "http://localhost:" + port
	}
	fs.db.baseURL = strings.TrimRight(fs.db.baseURL, "/")

	var sender mail.Sender
	if *smtpURL != "" {
		cfg, err := mail.ParseSMTPURL(*smtpURL)
		if err != nil {
			return err
		}
		if sender, err = mail.NewSMTPSender(cfg, *mailFrom); err != nil {
			return err
		}
	}
	renderer, err := mail.NewRenderer()
	if err != nil {
		return err
	}
	a, err := fs.db.open(ctx, log, *personal)
	if err != nil {
		return err
	}
	defer a.store.Close()
	a.svc.SetOpenSignup(*openSignup)
	a.svc.SetInvitesPerHour(*inviteRate)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := web.NewMetrics(reg)
	runner := job.New(job.Config{Rate: *sendRate, RetryBase: *retryBase, RetryMax: *retryMax,
		Batch: *jobBatch, Lease: *jobLease, Poll: *jobPoll, HookPrivate: *hookPrivate}, a.store, a.svc, renderer, sender, log)
	a.svc.OnTransition = func(from, to invite.Status) {
		metrics.Transition(from, to)
		runner.Wake()
	}
	// With no account yet, a one-time link creates the first admin.
	setupToken := ""
	if has, err := a.svc.HasUsers(ctx); err == nil && !has {
		setupToken = invite.NewSecret("")
	}
	handler := web.NewServer(web.Deps{Service: a.svc, Store: a.store, Log: log, Registry: reg, Metrics: metrics,
		Config: web.Config{BaseURL: fs.db.baseURL, Mailbox: sender == nil,
			Import: bulk.Limits{MaxBytes: *importBytes, MaxRows: *importRows}, SetupToken: setupToken}})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: nil}

	jobCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	jobsDone := make(chan struct{})
	go func() {
		defer close(jobsDone)
		runner.Run(jobCtx)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	mailNote := "mail goes to the built-in mailbox (GET /api/v1/mailbox)"
	if sender != nil {
		mailNote = "mail goes out through the SMTP server"
	}
	fmt.Fprintf(stdout, "usher %s listening on %s (%s; %s)\n", buildVersion(), fs.db.baseURL, a.store.Dialect(), mailNote)
	if setupToken != "" {
		fmt.Fprintf(stdout, "No accounts yet. Create the first admin and an organization at this one-time link:\n"+
			"  %s/setup/%s\n"+
			"or from the command line:\n"+
			"  usher admin create --email you@example.com --password '…' --org \"Your organization\"\n", fs.db.baseURL, setupToken)
	}

	select {
	case err := <-serveErr:
		stopJobs()
		<-jobsDone
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	stopJobs()
	<-jobsDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

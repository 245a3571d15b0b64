package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
)

// importRowsPage is how many rows of a batch one preview page shows.
const importRowsPage = 50

// importFormView is the console's upload page.
type importFormView struct {
	grantsView
	SendEmail bool
	MaxSize   string
	Error     string
	Errs      []account.FieldError
}

// importView is one batch: its progress, preview or summary.
type importView struct {
	Imp      *invite.Import
	Rows     []invite.ImportRow
	Total    int // rows that match the filter
	Outcome  string
	Outcomes []outcomeChip
	All      int // every row of the batch
	Valid    int // rows that will become invitations
	Next     string
	First    bool
	Base     string // the batch's page
	Listed   string // the invitations list of this batch
}

type outcomeChip struct {
	Code  string
	Label string
	Count int
}

var importOutcomeLabels = map[string]string{
	"ok": "Ready", "invalid_email": "Invalid email", "duplicate": "Duplicate in the file",
	"already_invited": "Already invited", "already_member": "Already a member", "existing_user": "Existing user",
	"unknown_group": "Unknown group", "invalid_value": "Bad value",
}

// OutcomeLabel names a row's outcome for people.
func (iv *importView) OutcomeLabel(code string) string {
	if l, ok := importOutcomeLabels[code]; ok {
		return l
	}
	return code
}

// OutcomeClass is the badge colour of an outcome.
func (iv *importView) OutcomeClass(code string) string {
	switch code {
	case "ok":
		return "accepted"
	case "existing_user":
		return "pending"
	case "duplicate", "already_invited", "already_member":
		return "expired"
	}
	return "failed"
}

// Working reports whether the batch is being read or committed.
func (iv *importView) Working() bool {
	return iv.Imp.Status == invite.ImportProcessing || iv.Imp.Status == invite.ImportCommitting
}

func (s *server) adminImportRoutes(org func(string, string, func(http.ResponseWriter, *http.Request, *console))) {
	api := s.imports
	org("GET /admin/orgs/{org}/import", "import", s.adminImportPage)
	org("POST /admin/orgs/{org}/import", "import", func(w http.ResponseWriter, r *http.Request, c *console) {
		s.adminImportUpload(w, r, c, api)
	})
	org("GET /admin/orgs/{org}/imports/{id}", "import", s.adminImport)
	org("POST /admin/orgs/{org}/imports/{id}/commit", "import", func(w http.ResponseWriter, r *http.Request, c *console) {
		s.adminImportCommit(w, r, c, api)
	})
}

func (s *server) importForm(r *http.Request, c *console, fv *importFormView, maxBytes int64) error {
	if err := s.loadGrants(r, c, &fv.grantsView); err != nil {
		return err
	}
	fv.MaxSize = formatMB(maxBytes)
	return nil
}

func (s *server) adminImportPage(w http.ResponseWriter, r *http.Request, c *console) {
	if err := s.svc.CheckImportAccess(r.Context(), c.actor, c.slug); err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	fv := &importFormView{grantsView: grantsView{Role: account.RoleMember}, SendEmail: true}
	if err := s.importForm(r, c, fv, (&importAPI{limits: s.cfg.Import}).maxBytes()); err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	s.render(w, r, http.StatusOK, "admin_import", c.page("Import", fv))
}

func (s *server) adminImportUpload(w http.ResponseWriter, r *http.Request, c *console, api *importAPI) {
	ctx := r.Context()
	if err := s.svc.CheckImportAccess(ctx, c.actor, c.slug); err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	fv := &importFormView{grantsView: grantsView{Role: account.RoleMember}, SendEmail: true}
	show := func(err error) {
		if ferr := s.importForm(r, c, fv, api.maxBytes()); ferr != nil {
			s.consoleError(w, r, c, ferr)
			return
		}
		fv.Error, fv.Errs = sentence(s.messageOf(r, err)), fieldsOf(err)
		s.render(w, r, problemFor(s.log, r, err).Status, "admin_import", c.page("Import", fv))
	}
	u, err := api.spool(w, r)
	if err != nil {
		show(err)
		return
	}
	defer u.discard()
	one := func(name string) string {
		if v := u.form[name]; len(v) > 0 {
			return strings.TrimSpace(v[len(v)-1])
		}
		return ""
	}
	fv.grantsView, fv.SendEmail = readGrants(one, u.form["groups"]), one("send_email") != "false"
	if u.file == nil || (u.size == 0 && (u.filename == "." || u.filename == "")) {
		show(errorf(invite.CodeValidation, "Choose a CSV or XLSX file to upload.",
			account.FieldError{Field: "file", Code: "required", Message: "choose a file"}))
		return
	}
	validity, err := fv.validity()
	if err != nil {
		show(err)
		return
	}
	if validity > 0 {
		u.form["expires_in"] = []string{strconv.FormatInt(int64(validity/time.Second), 10)}
	}
	opt, err := importOptions(u.form)
	if err != nil {
		show(err)
		return
	}
	imp, err := api.start(ctx, c.actor, c.slug, u, opt)
	if err != nil {
		show(err)
		return
	}
	redirect(w, r, "/admin/orgs/"+c.slug+"/imports/"+imp.ID)
}

func (s *server) adminImport(w http.ResponseWriter, r *http.Request, c *console) {
	ctx := r.Context()
	imp, err := s.svc.GetImport(ctx, c.actor, c.slug, r.PathValue("id"))
	if err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	iv := &importView{Imp: imp, Base: "/admin/orgs/" + c.slug + "/imports/" + imp.ID,
		Listed: "/admin/orgs/" + c.slug + "/invitations?import_id=" + url.QueryEscape(imp.ID)}
	for _, o := range importOutcomes {
		n := imp.Totals[o]
		iv.All += n
		if n > 0 {
			iv.Outcomes = append(iv.Outcomes, outcomeChip{Code: o, Label: iv.OutcomeLabel(o), Count: n})
		}
	}
	iv.Valid = imp.Totals["ok"] + imp.Totals["existing_user"]
	v := c.page("Import of "+imp.Filename, iv)
	if iv.Working() {
		v.Refresh = 2
		s.render(w, r, http.StatusOK, "admin_import_batch", v)
		return
	}
	if imp.Status == invite.ImportFailed {
		s.render(w, r, http.StatusOK, "admin_import_batch", v)
		return
	}
	q := r.URL.Query()
	var outcomes []string
	if o := q.Get("outcome"); o != "" {
		if _, ok := importOutcomeLabels[o]; !ok {
			s.consoleError(w, r, c, errorf(invite.CodeValidation, "unknown outcome filter"))
			return
		}
		iv.Outcome, outcomes = o, []string{o}
	}
	after := 0
	if a := q.Get("after"); a != "" {
		if after, err = strconv.Atoi(a); err != nil || after < 0 {
			s.consoleError(w, r, c, errorf(invite.CodeValidation, "that page link is no longer valid"))
			return
		}
	}
	iv.First = after == 0
	page, err := s.svc.ImportRows(ctx, c.actor, c.slug, imp.ID, outcomes, after, importRowsPage)
	if err != nil {
		s.consoleError(w, r, c, err)
		return
	}
	iv.Rows, iv.Total = page.Rows, page.Total
	if page.NextAfter > 0 {
		n := url.Values{"after": {strconv.Itoa(page.NextAfter)}}
		if iv.Outcome != "" {
			n.Set("outcome", iv.Outcome)
		}
		iv.Next = iv.Base + "?" + n.Encode()
	}
	s.render(w, r, http.StatusOK, "admin_import_batch", v)
}

func (s *server) adminImportCommit(w http.ResponseWriter, r *http.Request, c *console, api *importAPI) {
	id := r.PathValue("id")
	back := "/admin/orgs/" + c.slug + "/imports/" + id
	_, err := api.commitBatch(r.Context(), c.actor, c.slug, id)
	s.finish(w, r, c, err, "", back)
}

// importSummary is the sentence shown once a batch is committed.
func importSummary(imp *invite.Import) string {
	msg := fmt.Sprintf("%d invitation%s created", imp.Created, plural(imp.Created))
	if imp.Options.SendEmail && imp.Created > 0 {
		return msg + "; emails are on their way at the configured rate."
	}
	return msg + "."
}

// sentence starts msg with a capital and ends it with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

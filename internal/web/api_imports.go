package web

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"usher/internal/account"
	"usher/internal/bulk"
	"usher/internal/invite"
)

type orgRoute func(pattern string, h func(http.ResponseWriter, *http.Request, invite.Actor))

// importRoutes lists the import API (api.md, imports).
//
// An upload is spooled to a temporary file (bounded by the size limit),
// opened at once (so that a file that is not a spreadsheet is refused
// with 415 and nothing is recorded), and then read and previewed in a
// goroutine: the answer is 202 with status processing, and GET shows the
// rows read so far until the status is previewed (or failed, with the
// reason). Commit is asynchronous too: 202 with status committing, then
// committed.
//
// With an Idempotency-Key the upload is spooled once more before it is
// read, so that a repeated upload answers the first one's batch.
func (s *server) importRoutes(org, post orgRoute) {
	api := s.imports
	org("POST /api/v1/orgs/{org}/imports", s.idempotentUpload(api.maxBytes, api.upload))
	org("GET /api/v1/orgs/{org}/imports/{id}", api.get)
	org("GET /api/v1/orgs/{org}/imports/{id}/rows", api.rows)
	post("POST /api/v1/orgs/{org}/imports/{id}/commit", api.commit)
}

// newImportAPI returns the import routes' state.
func (s *server) newImportAPI() *importAPI {
	return &importAPI{s: s, limits: s.cfg.Import, slots: make(chan struct{}, 2)}
}

// importAPI is the import routes' state.
type importAPI struct {
	s      *server
	limits bulk.Limits
	// slots bounds how many files are read at once; more wait their turn
	// (their batches stay in processing meanwhile).
	slots chan struct{}
}

// maxFormField bounds each option field of an upload.
const maxFormField = 64 << 10

// importTemplateCSV serves the CSV template (public).
func (s *server) importTemplateCSV(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="usher-import-template.csv"`)
	if err := bulk.WriteTemplateCSV(w); err != nil {
		s.log.Error("import template", "err", err)
	}
}

// importTemplateXLSX serves the XLSX template (public).
func (s *server) importTemplateXLSX(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	w.Header().Set("Content-Disposition", `attachment; filename="usher-import-template.xlsx"`)
	if err := bulk.WriteTemplateXLSX(w); err != nil {
		s.log.Error("import template", "err", err)
	}
}

// fileError maps the reader's errors to the API's codes (the same words).
func fileError(err error) error {
	var be *bulk.Error
	if errors.As(err, &be) {
		code := be.Code
		if code == bulk.CodeValidationFailed {
			code = invite.CodeValidation
		}
		msg := be.Message
		if be.Line > 0 {
			msg = fmt.Sprintf("%s (row %d)", msg, be.Line)
		}
		return errorf(code, msg, account.FieldError{Field: "file", Code: be.Code, Message: msg})
	}
	return err
}

func (api *importAPI) upload(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	s := api.s
	slug := r.PathValue("org")
	ctx := r.Context()
	// Refuse before reading a large body that could not be used anyway.
	if err := s.svc.CheckImportAccess(ctx, a, slug); err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := api.spool(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer u.discard()
	if u.file == nil {
		s.fail(w, r, errorf(invite.CodeValidation, "send the file in the field \"file\"",
			account.FieldError{Field: "file", Code: "required", Message: "is required"}))
		return
	}
	opt, err := importOptions(u.form)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	imp, err := api.start(ctx, a, slug, u, opt)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusAccepted, importJSON(slug, imp))
}

// spooledUpload is an import upload read off its multipart body: the file
// in a temporary file, the option fields beside it.
type spooledUpload struct {
	file     *os.File // nil: no file was sent
	size     int64
	filename string
	form     map[string][]string
}

// discard removes the temporary file unless start took it over.
func (u *spooledUpload) discard() {
	if u.file != nil {
		u.file.Close()
		os.Remove(u.file.Name())
		u.file = nil
	}
}

// spool reads an upload's multipart body (the API's and the console's),
// bounded by the size limit. On error nothing is left behind.
func (api *importAPI) spool(w http.ResponseWriter, r *http.Request) (_ *spooledUpload, err error) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return nil, errorf(codeUnsupportedFile, "send the file as multipart/form-data, in the field \"file\"")
	}
	maxBytes := api.maxBytes()
	r.Body = http.MaxBytesReader(w, r.Body, maxBytes+1<<20) // the file plus the option fields (as in multipartBody)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errorf(invite.CodeValidation, "the body is not a valid multipart form")
	}
	u := &spooledUpload{form: map[string][]string{}}
	defer func() {
		if err != nil {
			u.discard()
		}
	}()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, uploadError(err, maxBytes)
		}
		name := part.FormName()
		if name == "file" {
			if u.file != nil {
				return nil, errorf(invite.CodeValidation, "send one file")
			}
			u.filename = filepath.Base(part.FileName())
			if u.file, err = os.CreateTemp("", "usher-import-*"); err != nil {
				return nil, err
			}
			u.size, err = io.Copy(u.file, io.LimitReader(part, maxBytes+1))
			if err != nil {
				return nil, uploadError(err, maxBytes)
			}
			if u.size > maxBytes {
				return nil, errorf(codePayloadTooLarge, "the file is larger than "+formatMB(maxBytes))
			}
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
		if err != nil {
			return nil, uploadError(err, maxBytes)
		}
		if len(b) > maxFormField {
			return nil, errorf(invite.CodeValidation, name+" is too long")
		}
		u.form[name] = append(u.form[name], string(b))
	}
	return u, nil
}

func (api *importAPI) maxBytes() int64 {
	if api.limits.MaxBytes > 0 {
		return api.limits.MaxBytes
	}
	return bulk.DefaultMaxBytes
}

// start opens the spooled file (a file that is not a spreadsheet is
// refused and nothing is recorded), starts the batch and reads it in a
// goroutine, which then owns the file. On error the caller still owns u.
func (api *importAPI) start(ctx context.Context, a invite.Actor, slug string, u *spooledUpload, opt invite.ImportOptions) (*invite.Import, error) {
	s := api.s
	rd, err := bulk.Open(u.file, u.size, u.filename, api.limits)
	if err != nil {
		return nil, fileError(err)
	}
	imp, run, err := s.svc.StartImport(ctx, a, slug, u.filename, rd, opt)
	if err != nil {
		rd.Close()
		return nil, err
	}
	file := u.file
	u.file = nil // the goroutine owns it now
	go func() {
		defer func() {
			rd.Close()
			file.Close()
			os.Remove(file.Name())
		}()
		api.slots <- struct{}{}
		defer func() { <-api.slots }()
		if err := run(context.WithoutCancel(ctx)); err != nil {
			s.log.Warn("import preview failed", "import", imp.ID, "err", err)
		}
	}()
	return imp, nil
}

func uploadError(err error, maxBytes int64) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return errorf(codePayloadTooLarge, "the file is larger than "+formatMB(maxBytes))
	}
	return errorf(invite.CodeValidation, "the upload could not be read: the body is not a valid multipart form")
}

func formatMB(n int64) string {
	if n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// importOptions reads the invite options sent beside the file.
func importOptions(form map[string][]string) (invite.ImportOptions, error) {
	opt := invite.ImportOptions{SendEmail: true}
	var errs []account.FieldError
	one := func(name string) string {
		if v := form[name]; len(v) > 0 {
			return strings.TrimSpace(v[len(v)-1])
		}
		return ""
	}
	boolean := func(name string, dst *bool) {
		switch strings.ToLower(one(name)) {
		case "":
		case "true", "1", "yes", "on":
			*dst = true
		case "false", "0", "no", "off":
			*dst = false
		default:
			errs = append(errs, account.FieldError{Field: name, Code: "invalid", Message: "must be true or false"})
		}
	}
	opt.Role, opt.Language, opt.Message = one("role"), one("language"), one("message")
	if v := form["message"]; len(v) > 0 {
		opt.Message = v[len(v)-1] // kept as typed: line breaks are the writer's
	}
	for _, v := range form["groups"] {
		for _, g := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || r == '\n' }) {
			if g = strings.TrimSpace(g); g != "" && !slices.Contains(opt.Groups, g) {
				opt.Groups = append(opt.Groups, g)
			}
		}
	}
	boolean("admin", &opt.Admin)
	boolean("send_email", &opt.SendEmail)
	if v := one("expires_in"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 3600 || n > 31536000 {
			errs = append(errs, account.FieldError{Field: "expires_in", Code: "out_of_range", Message: "must be between 3600 and 31536000 seconds"})
		} else {
			opt.ExpiresIn = time.Duration(n) * time.Second
		}
	}
	if len(errs) > 0 {
		return opt, errorf(invite.CodeValidation, errs[0].Field+" "+errs[0].Message, errs...)
	}
	return opt, nil
}

// importJSONBody is an import batch as the API shows it.
type importJSONBody struct {
	ID           string         `json:"id"`
	Organization string         `json:"organization"`
	Status       string         `json:"status"`
	Filename     string         `json:"filename"`
	Options      importOptsJSON `json:"options"`
	Totals       map[string]int `json:"totals"`
	Warnings     []string       `json:"warnings"`
	Progress     struct {
		RowsRead int `json:"rows_read"`
	} `json:"progress"`
	Created     int            `json:"created"`
	Error       *importErrJSON `json:"error"`
	CreatedBy   *string        `json:"created_by"`
	CreatedAt   time.Time      `json:"created_at"`
	PreviewedAt *time.Time     `json:"previewed_at"`
	CommittedAt *time.Time     `json:"committed_at"`
}

type importOptsJSON struct {
	Role      string   `json:"role"`
	Groups    []string `json:"groups"`
	Admin     bool     `json:"admin"`
	Language  string   `json:"language"`
	Message   string   `json:"message"`
	ExpiresIn *int64   `json:"expires_in"`
	SendEmail bool     `json:"send_email"`
}

type importErrJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func importJSON(slug string, imp *invite.Import) importJSONBody {
	o := imp.Options
	j := importJSONBody{
		ID: imp.ID, Organization: slug, Status: string(imp.Status), Filename: imp.Filename,
		Options: importOptsJSON{Role: o.Role, Groups: o.Groups, Admin: o.Admin, Language: o.Language,
			Message: o.Message, SendEmail: o.SendEmail},
		Totals: imp.Totals, Warnings: imp.Warnings, Created: imp.Created, CreatedBy: optStr(imp.CreatedBy),
		CreatedAt: imp.CreatedAt, PreviewedAt: optTime(imp.PreviewedAt), CommittedAt: optTime(imp.CommittedAt),
	}
	j.Progress.RowsRead = imp.RowsRead
	if o.ExpiresIn > 0 {
		n := int64(o.ExpiresIn / time.Second)
		j.Options.ExpiresIn = &n
	}
	if j.Options.Groups == nil {
		j.Options.Groups = []string{}
	}
	if j.Warnings == nil {
		j.Warnings = []string{}
	}
	if imp.Error != "" {
		j.Error = &importErrJSON{Code: imp.ErrorCode, Message: imp.Error}
	}
	return j
}

func (api *importAPI) get(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	slug := r.PathValue("org")
	imp, err := api.s.svc.GetImport(r.Context(), a, slug, r.PathValue("id"))
	if err != nil {
		api.s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, importJSON(slug, imp))
}

var importOutcomes = []string{"ok", "invalid_email", "duplicate", "already_invited", "already_member",
	"existing_user", "unknown_group", "invalid_value"}

type importRowJSON struct {
	Row          int      `json:"row"`
	Email        string   `json:"email"`
	FirstName    string   `json:"first_name"`
	LastName     string   `json:"last_name"`
	Language     string   `json:"language"`
	Role         string   `json:"role"`
	Groups       []string `json:"groups"`
	Admin        bool     `json:"admin"`
	Outcome      string   `json:"outcome"`
	Detail       string   `json:"detail"`
	InvitationID *string  `json:"invitation_id"`
}

func (api *importAPI) rows(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	s := api.s
	q := r.URL.Query()
	bad := func(field, msg string) {
		s.fail(w, r, errorf(invite.CodeValidation, field+" "+msg, account.FieldError{Field: field, Code: "invalid", Message: msg}))
	}
	var outcomes []string
	for _, v := range q["outcome"] {
		for _, o := range strings.Split(v, ",") {
			o = strings.TrimSpace(o)
			if !slices.Contains(importOutcomes, o) {
				bad("outcome", "must be one of "+strings.Join(importOutcomes, ", "))
				return
			}
			if !slices.Contains(outcomes, o) {
				outcomes = append(outcomes, o)
			}
		}
	}
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			bad("limit", "must be between 1 and 500")
			return
		}
		limit = n
	}
	after := 0
	if v := q.Get("cursor"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "row:"))
		if err != nil || err2 != nil || n < 0 || !strings.HasPrefix(string(b), "row:") {
			bad("cursor", "is not a cursor this list gave")
			return
		}
		after = n
	}
	slug := r.PathValue("org")
	page, err := s.svc.ImportRows(r.Context(), a, slug, r.PathValue("id"), outcomes, after, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Data       []importRowJSON `json:"data"`
		NextCursor *string         `json:"next_cursor"`
		Total      int             `json:"total"`
	}{Data: make([]importRowJSON, 0, len(page.Rows)), Total: page.Total}
	for _, row := range page.Rows {
		g := row.Groups
		if g == nil {
			g = []string{}
		}
		out.Data = append(out.Data, importRowJSON{Row: row.Line, Email: row.Email, FirstName: row.FirstName,
			LastName: row.LastName, Language: row.Language, Role: row.Role, Groups: g, Admin: row.IsAdmin,
			Outcome: row.Outcome, Detail: row.Detail, InvitationID: optStr(row.InvitationID)})
	}
	if page.NextAfter > 0 {
		c := base64.RawURLEncoding.EncodeToString([]byte("row:" + strconv.Itoa(page.NextAfter)))
		out.NextCursor = &c
	}
	encode(w, http.StatusOK, out)
}

func (api *importAPI) commit(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	s := api.s
	slug := r.PathValue("org")
	imp, err := api.commitBatch(r.Context(), a, slug, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusAccepted, importJSON(slug, imp))
}

// commitBatch starts a batch's commit and runs it in a goroutine (the
// API's and the console's).
func (api *importAPI) commitBatch(ctx context.Context, a invite.Actor, slug, id string) (*invite.Import, error) {
	imp, run, err := api.s.svc.CommitImport(ctx, a, slug, id)
	if err != nil {
		return nil, err
	}
	if run != nil {
		ctx := context.WithoutCancel(ctx)
		go func() {
			if err := run(ctx); err != nil {
				api.s.log.Warn("import commit failed", "import", imp.ID, "err", err)
			}
		}()
	}
	return imp, nil
}

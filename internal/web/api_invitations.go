package web

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"usher/internal/account"
	"usher/internal/invite"
)

// invitationJSON is the invitation object of api.md.
type invitationJSON struct {
	ID             string          `json:"id"`
	Organization   string          `json:"organization"`
	Email          string          `json:"email"`
	FirstName      string          `json:"first_name"`
	LastName       string          `json:"last_name"`
	Username       string          `json:"username"`
	Language       string          `json:"language"`
	Role           string          `json:"role"`
	Groups         []string        `json:"groups"`
	Admin          bool            `json:"admin"`
	Message        string          `json:"message"`
	Status         invite.Status   `json:"status"`
	Delivery       deliveryJSON    `json:"delivery"`
	Inviter        *invite.Person  `json:"inviter"`
	Source         string          `json:"source"`
	ImportID       *string         `json:"import_id"`
	SendCount      int             `json:"send_count"`
	RemindedSteps  int             `json:"reminded_steps"` // reminders of the schedule sent so far
	CreatedAt      time.Time       `json:"created_at"`
	SentAt         *time.Time      `json:"sent_at"`
	ExpiresAt      *time.Time      `json:"expires_at"`
	AcceptedAt     *time.Time      `json:"accepted_at"`
	AcceptedUserID *string         `json:"accepted_user_id"`
	ExternalUserID *string         `json:"external_user_id"`
	DecidedAt      *time.Time      `json:"decided_at"`
	DecidedBy      *string         `json:"decided_by"`
	RevokedAt      *time.Time      `json:"revoked_at"`
	RedirectURL    *string         `json:"redirect_url"`
	Metadata       json.RawMessage `json:"metadata"`
	Link           string          `json:"link,omitempty"`
}

type deliveryJSON struct {
	Status string     `json:"status"`
	Error  *string    `json:"error"`
	SentAt *time.Time `json:"sent_at"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toJSON(slug string, inv *invite.Invitation, now time.Time) invitationJSON {
	j := invitationJSON{
		ID: inv.ID, Organization: slug, Email: inv.Email, FirstName: inv.FirstName, LastName: inv.LastName,
		Username: inv.Username, Language: inv.Language, Role: inv.Role, Groups: inv.Groups, Admin: inv.Admin,
		Message: inv.Message, Status: inv.StatusAt(now),
		Delivery: deliveryJSON{Status: inv.DeliveryStatus, Error: optStr(inv.DeliveryError), SentAt: optTime(inv.DeliveredAt)},
		Source:   inv.Source, ImportID: optStr(inv.ImportID), SendCount: inv.SendCount, RemindedSteps: inv.RemindedSteps, CreatedAt: inv.CreatedAt,
		SentAt: optTime(inv.SentAt), ExpiresAt: optTime(inv.ExpiresAt), AcceptedAt: optTime(inv.AcceptedAt),
		AcceptedUserID: optStr(inv.AcceptedUserID), ExternalUserID: optStr(inv.ExternalUserID),
		DecidedAt: optTime(inv.DecidedAt), DecidedBy: optStr(inv.DecidedBy), RevokedAt: optTime(inv.RevokedAt),
		RedirectURL: optStr(inv.RedirectURL), Metadata: inv.Metadata,
	}
	if j.Groups == nil {
		j.Groups = []string{}
	}
	if len(j.Metadata) == 0 {
		j.Metadata = json.RawMessage("{}")
	}
	if inv.InviterID != "" {
		p := inv.Inviter
		j.Inviter = &p
	}
	return j
}

func (s *server) created(slug string, c *invite.Created) invitationJSON {
	j := toJSON(slug, c.Invitation, s.svc.Now())
	j.Link = c.Link
	return j
}

// optionsJSON are the invite options shared by single and batch invites.
type optionsJSON struct {
	FirstName   string          `json:"first_name"`
	LastName    string          `json:"last_name"`
	Username    string          `json:"username"`
	Language    string          `json:"language"`
	Role        string          `json:"role"`
	Groups      []string        `json:"groups"`
	Admin       bool            `json:"admin"`
	Message     string          `json:"message"`
	ExpiresIn   int64           `json:"expires_in"`
	RedirectURL string          `json:"redirect_url"`
	Metadata    json.RawMessage `json:"metadata"`
	SendEmail   *bool           `json:"send_email"`
	Draft       bool            `json:"draft"`
	Inviter     string          `json:"inviter"`
}

func (o optionsJSON) options(source string) (invite.Options, error) {
	if o.ExpiresIn < 0 || o.ExpiresIn > int64(account.MaxInvitationTTL/time.Second) {
		return invite.Options{}, errorf(invite.CodeValidation, "expires_in must be between 3600 and 31536000 seconds",
			account.FieldError{Field: "expires_in", Code: "out_of_range", Message: "must be between 3600 and 31536000 seconds"})
	}
	return invite.Options{
		FirstName: o.FirstName, LastName: o.LastName, Username: o.Username, Language: o.Language, Role: o.Role,
		Groups: o.Groups, Admin: o.Admin, Message: o.Message, ExpiresIn: time.Duration(o.ExpiresIn) * time.Second,
		RedirectURL: o.RedirectURL, Metadata: o.Metadata, NoEmail: o.SendEmail != nil && !*o.SendEmail,
		Draft: o.Draft, Inviter: o.Inviter, Source: source,
	}, nil
}

// sourceOf says where a call came from: API keys are the API, sessions
// the console.
func sourceOf(a invite.Actor) string {
	if a.KeyID != "" {
		return invite.SourceAPI
	}
	return invite.SourceUI
}

func (s *server) createInvitation(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	var body struct {
		Email string `json:"email"`
		optionsJSON
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	opt, err := body.options(sourceOf(a))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	slug := r.PathValue("org")
	c, err := s.svc.Invite(r.Context(), a, slug, body.Email, opt)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusCreated, s.created(slug, c))
}

func (s *server) batchInvitations(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	var body struct {
		Emails     json.RawMessage `json:"emails"`
		OnExisting string          `json:"on_existing"`
		optionsJSON
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	var emails []string
	var one string
	switch {
	case json.Unmarshal(body.Emails, &emails) == nil:
	case json.Unmarshal(body.Emails, &one) == nil:
		emails = account.SplitEmailList(one)
	default:
		s.fail(w, r, errorf(invite.CodeValidation, "emails must be an array of addresses or one string of addresses",
			account.FieldError{Field: "emails", Code: "invalid_type", Message: "must be an array or a string"}))
		return
	}
	if body.OnExisting != "" && body.OnExisting != "skip" && body.OnExisting != "resend" {
		s.fail(w, r, errorf(invite.CodeValidation, `on_existing must be "skip" or "resend"`,
			account.FieldError{Field: "on_existing", Code: "invalid", Message: `must be "skip" or "resend"`}))
		return
	}
	opt, err := body.options(sourceOf(a))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	slug := r.PathValue("org")
	results, err := s.svc.InviteMany(r.Context(), a, slug, emails, opt, body.OnExisting == "resend")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	type resultJSON struct {
		Email      string          `json:"email"`
		Outcome    string          `json:"outcome"`
		Invitation *invitationJSON `json:"invitation,omitempty"`
		Error      string          `json:"error,omitempty"`
	}
	out := struct {
		Results []resultJSON   `json:"results"`
		Totals  map[string]int `json:"totals"`
	}{Results: []resultJSON{}, Totals: map[string]int{}}
	for _, res := range results {
		rj := resultJSON{Email: res.Email, Outcome: res.Outcome}
		if res.Created != nil {
			j := s.created(slug, res.Created)
			rj.Invitation = &j
		}
		if res.Err != nil {
			rj.Error = res.Err.Message
		}
		out.Results = append(out.Results, rj)
		out.Totals[res.Outcome]++
	}
	encode(w, http.StatusOK, out)
}

// maxQuery bounds the search text of a list.
const maxQuery = 200

func (s *server) listInvitations(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	f, err := listFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	slug := r.PathValue("org")
	page, err := s.svc.List(r.Context(), a, slug, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Data       []invitationJSON `json:"data"`
		NextCursor *string          `json:"next_cursor"`
		Total      int              `json:"total"`
		Capped     bool             `json:"total_capped"`
	}{Data: []invitationJSON{}, Total: page.Total, Capped: page.TotalCapped}
	now := s.svc.Now()
	for _, inv := range page.Items {
		out.Data = append(out.Data, toJSON(slug, inv, now))
	}
	if page.Next != nil {
		c := encodeCursor(page.Next)
		out.NextCursor = &c
	}
	encode(w, http.StatusOK, out)
}

func listFilter(r *http.Request) (invite.ListFilter, error) {
	q := r.URL.Query()
	f := invite.ListFilter{Query: strings.TrimSpace(q.Get("q")), Sort: q.Get("sort"), Limit: 50, ImportID: q.Get("import_id")}
	bad := func(field, msg string) error {
		return errorf(invite.CodeValidation, field+" "+msg, account.FieldError{Field: field, Code: "invalid", Message: msg})
	}
	for _, v := range q["status"] {
		for _, part := range strings.Split(v, ",") {
			st := invite.Status(strings.TrimSpace(part))
			if !st.Valid() {
				return f, bad("status", "must be one of draft, pending, awaiting_approval, accepted, rejected, declined, expired, revoked")
			}
			if !slices.Contains(f.Statuses, st) {
				f.Statuses = append(f.Statuses, st)
			}
		}
	}
	if len(f.Query) > maxQuery {
		return f, bad("q", "must be at most 200 characters")
	}
	switch f.Sort {
	case "", "created_at", "-created_at", "email", "-email", "expires_at", "-expires_at":
	default:
		return f, bad("sort", "must be one of created_at, -created_at, email, -email, expires_at, -expires_at")
	}
	if f.Sort == "" {
		f.Sort = "-created_at"
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return f, bad("limit", "must be a number from 1 to 500")
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		c, err := decodeCursor(v)
		if err != nil {
			return f, bad("cursor", "is not a cursor from a previous page")
		}
		f.After = c
	}
	return f, nil
}

func encodeCursor(c *invite.Cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*invite.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	var c invite.Cursor
	if err := json.Unmarshal(b, &c); err != nil || c.ID == "" {
		return nil, errorf(invite.CodeValidation, "bad cursor")
	}
	return &c, nil
}

func (s *server) getInvitation(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	slug := r.PathValue("org")
	inv, err := s.svc.Get(r.Context(), a, slug, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, toJSON(slug, inv, s.svc.Now()))
}

func (s *server) invitationEvents(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	events, err := s.svc.Events(r.Context(), a, r.PathValue("org"), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if events == nil {
		events = []invite.Event{}
	}
	encode(w, http.StatusOK, events)
}

func (s *server) editInvitation(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	var body struct {
		FirstName *string    `json:"first_name"`
		LastName  *string    `json:"last_name"`
		Language  *string    `json:"language"`
		Role      *string    `json:"role"`
		Groups    *[]string  `json:"groups"`
		Admin     *bool      `json:"admin"`
		Message   *string    `json:"message"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	slug := r.PathValue("org")
	inv, err := s.svc.Edit(r.Context(), a, slug, r.PathValue("id"), invite.Edit{
		FirstName: body.FirstName, LastName: body.LastName, Language: body.Language, Role: body.Role,
		Groups: body.Groups, Admin: body.Admin, Message: body.Message, ExpiresAt: body.ExpiresAt})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, toJSON(slug, inv, s.svc.Now()))
}

// action serves the POST /invitations/{id}/<verb> routes.
func (s *server) action(verb string) func(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	return func(w http.ResponseWriter, r *http.Request, a invite.Actor) {
		slug, id, ctx := r.PathValue("org"), r.PathValue("id"), r.Context()
		var c *invite.Created
		var inv *invite.Invitation
		var err error
		switch verb {
		case "send":
			c, err = s.svc.Send(ctx, a, slug, id)
		case "resend":
			c, err = s.svc.Resend(ctx, a, slug, id)
		case "link":
			c, err = s.svc.NewLink(ctx, a, slug, id)
			if err == nil {
				encode(w, http.StatusOK, map[string]string{"link": c.Link})
				return
			}
		case "renew":
			var body struct {
				ExpiresIn int64 `json:"expires_in"`
			}
			if r.ContentLength != 0 {
				if err := decode(w, r, &body); err != nil {
					s.fail(w, r, err)
					return
				}
			}
			c, err = s.svc.Renew(ctx, a, slug, id, time.Duration(body.ExpiresIn)*time.Second)
		case "revoke":
			inv, err = s.svc.Revoke(ctx, a, slug, id)
		case "approve":
			inv, err = s.svc.Approve(ctx, a, slug, id)
		case "reject":
			inv, err = s.svc.Reject(ctx, a, slug, id)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if c != nil {
			encode(w, http.StatusOK, s.created(slug, c))
			return
		}
		encode(w, http.StatusOK, toJSON(slug, inv, s.svc.Now()))
	}
}

func (s *server) redeem(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	var body struct {
		Token          string `json:"token"`
		ExternalUserID string `json:"external_user_id"`
	}
	if err := decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	slug := r.PathValue("org")
	inv, err := s.svc.Redeem(r.Context(), a, slug, body.Token, body.ExternalUserID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, toJSON(slug, inv, s.svc.Now()))
}

func (s *server) availability(w http.ResponseWriter, r *http.Request, a invite.Actor) {
	q := r.URL.Query()
	av, err := s.svc.CheckAvailability(r.Context(), a, r.PathValue("org"), q.Get("email"), q.Get("username"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	encode(w, http.StatusOK, av)
}

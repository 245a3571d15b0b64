package invite

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"usher/internal/account"
)

// A Webhook is an endpoint an organization's invitation events are POSTed
// to, signed with its secret as the Standard Webhooks scheme says
// (webhook-id, webhook-timestamp and webhook-signature headers).
type Webhook struct {
	ID          string    `json:"id"`
	OrgID       string    `json:"-"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	// Secret signs the messages: "whsec_" and 32 random bytes in base64.
	// It is shown when the endpoint is made, and never again.
	Secret string `json:"-"`
}

// WebhookMessage is one event on its way to one endpoint.
type WebhookMessage struct {
	EventID      string     `json:"id"`
	Type         string     `json:"type"`
	InvitationID string     `json:"invitation_id"`
	Email        string     `json:"email"` // the invitation's
	At           time.Time  `json:"at"`
	Status       string     `json:"status"` // queued, delivered or failed
	Attempts     int        `json:"attempts"`
	LastStatus   int        `json:"last_status"` // the endpoint's last HTTP status; 0: none
	LastError    string     `json:"last_error"`
	NextAttempt  *time.Time `json:"next_attempt_at"`
	DeliveredAt  *time.Time `json:"delivered_at"`
}

// Webhook message statuses.
const (
	HookQueued    = "queued"
	HookDelivered = "delivered"
	HookFailed    = "failed"
)

// MaxWebhooks bounds an organization's endpoints: every event is written
// once per endpoint.
const MaxWebhooks = 10

// WebhookStore holds webhook endpoints and their messages. The messages
// themselves are written by the store beside every event it records (the
// events of AddEvent, AddEvents and an invitation's created event), and
// beside every email delivery outcome, in the same transaction.
type WebhookStore interface {
	// InsertWebhook adds w and returns how many endpoints its
	// organization has now; simultaneous adds count one after the other.
	InsertWebhook(ctx context.Context, w *Webhook) (int, error)
	Webhooks(ctx context.Context, orgID string) ([]Webhook, error)
	// DeleteWebhook removes the endpoint and its messages.
	DeleteWebhook(ctx context.Context, orgID, id string) error
	// WebhookMessages lists an endpoint's messages, newest first.
	WebhookMessages(ctx context.Context, orgID, webhookID string, limit int) ([]WebhookMessage, error)
}

// newWebhookSecret draws a signing secret.
func newWebhookSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// CreateWebhook adds an endpoint to the organization; the returned
// webhook carries its secret, which is not shown again.
func (s *Service) CreateWebhook(ctx context.Context, actor Actor, slug, url, description string) (*Webhook, error) {
	url, description = strings.TrimSpace(url), strings.TrimSpace(description)
	if why := account.CheckURL(url); why != "" {
		return nil, invalid(fieldErr("url", "invalid", why))
	}
	if why := checkName(description); why != "" {
		return nil, invalid(fieldErr("description", "invalid", why))
	}
	var w *Webhook
	err := s.inTx(ctx, func(tx Tx) error {
		org, err := s.access(ctx, tx, actor, slug, account.PermManageSettings)
		if err != nil {
			return err
		}
		hooks, err := tx.Webhooks(ctx, org.ID)
		if err != nil {
			return err
		}
		tooMany := invalid(fieldErr("url", "too_many", fmt.Sprintf("an organization has at most %d webhook endpoints; delete one first", MaxWebhooks)))
		if len(hooks) >= MaxWebhooks {
			return tooMany
		}
		w = &Webhook{ID: NewID(), OrgID: org.ID, URL: url, Description: description, CreatedAt: s.Now(), Secret: newWebhookSecret()}
		n, err := tx.InsertWebhook(ctx, w)
		if err != nil {
			return err
		}
		if n > MaxWebhooks {
			return tooMany // another add got there first: this one is undone
		}
		return s.audit(ctx, tx, org.ID, actor, "webhook.create", w.ID, url)
	})
	return w, err
}

// Webhooks lists the organization's endpoints (without their secrets).
func (s *Service) Webhooks(ctx context.Context, actor Actor, slug string) ([]Webhook, error) {
	return read(ctx, s, actor, slug, []account.Permission{account.PermManageSettings},
		func(tx Tx, org *account.Organization) ([]Webhook, error) { return tx.Webhooks(ctx, org.ID) })
}

// DeleteWebhook removes an endpoint; its undelivered messages go with it.
func (s *Service) DeleteWebhook(ctx context.Context, actor Actor, slug, id string) error {
	return s.inTx(ctx, func(tx Tx) error {
		org, err := s.access(ctx, tx, actor, slug, account.PermManageSettings)
		if err != nil {
			return err
		}
		if err := tx.DeleteWebhook(ctx, org.ID, id); errors.Is(err, ErrNotFound) {
			return errorf(CodeNotFound, "no such webhook")
		} else if err != nil {
			return err
		}
		return s.audit(ctx, tx, org.ID, actor, "webhook.delete", id, "")
	})
}

// WebhookMessages lists an endpoint's latest messages (at most limit,
// 1–500), newest first: what was sent, what failed and when it is tried
// again.
func (s *Service) WebhookMessages(ctx context.Context, actor Actor, slug, id string, limit int) ([]WebhookMessage, error) {
	if limit < 1 || limit > 500 {
		return nil, invalid(fieldErr("limit", "out_of_range", "must be between 1 and 500"))
	}
	return read(ctx, s, actor, slug, []account.Permission{account.PermManageSettings},
		func(tx Tx, org *account.Organization) ([]WebhookMessage, error) {
			msgs, err := tx.WebhookMessages(ctx, org.ID, id, limit)
			if errors.Is(err, ErrNotFound) {
				return nil, errorf(CodeNotFound, "no such webhook")
			}
			return msgs, err
		})
}

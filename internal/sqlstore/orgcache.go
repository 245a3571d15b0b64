package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"usher/internal/account"
	"usher/internal/invite"
)

// An invitation created through the API costs four statements in a
// transaction (BEGIN, the organization, the write, COMMIT) where one could
// do: the write is already a single statement. On PostgreSQL each is a
// round trip; on SQLite the other three add about a fifth to the write.
// The store therefore remembers organizations as it last read them, and
// CreateInvitationAlone writes an invitation in one statement, guarded by
// the organization: the statement writes only if the organization still
// has the slug and the settings (as stored, byte for byte) that the
// invitation was checked against, and no webhook endpoint (the statement
// writes no webhook messages; an organization with endpoints takes the
// transactional path). A cached entry can be stale, or even
// never committed (read by a transaction that rolled back); the guard then
// fails and the caller takes the transactional path, which reads the
// organization again. The cache decides only how often the short path is
// taken, never what is written.

// maxCachedOrgs bounds the cache; a full one is emptied.
const maxCachedOrgs = 4096

type orgCache struct {
	mu     sync.Mutex
	bySlug map[string]cachedOrg
}

type cachedOrg struct {
	org      account.Organization
	settings string // as stored, for the guard
	hooks    int    // its webhook endpoints: a create alone writes no messages
}

func newOrgCache() *orgCache { return &orgCache{bySlug: map[string]cachedOrg{}} }

// put records o as read, settings being its stored text and hooks its
// count of webhook endpoints.
func (c *orgCache) put(o *account.Organization, settings string, hooks int) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bySlug) >= maxCachedOrgs {
		clear(c.bySlug)
	}
	c.bySlug[o.Slug] = cachedOrg{org: *o, settings: settings, hooks: hooks}
}

func (c *orgCache) get(slug string) (cachedOrg, bool) {
	if c == nil {
		return cachedOrg{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.bySlug[slug]
	return e, ok
}

func (c *orgCache) drop(slug string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.bySlug, slug)
}

var _ invite.AloneCreator = (*Store)(nil)

// CachedOrg returns the organization slug as last read, unless it has
// webhook endpoints: a create alone writes no webhook messages.
func (s *Store) CachedOrg(slug string) (*account.Organization, bool) {
	e, ok := s.orgs.get(strings.ToLower(slug))
	if !ok || e.hooks > 0 {
		return nil, false
	}
	return &e.org, true
}

// errOrgChanged answers a guarded create whose organization changed since
// it was cached.
var errOrgChanged = fmt.Errorf("%w: the organization changed", invite.ErrConflict)

// CreateInvitationAlone writes inv, its created event ev and its email
// (nil for none), all on the invitation row, in one statement that is its
// own transaction (on SQLite, or part of the writer's shared one), if org
// (from CachedOrg) is unchanged, the address has no account and the
// organization no live invitation for it. Otherwise it writes nothing and
// answers invite.ErrUserExists or invite.ErrConflict.
func (s *Store) CreateInvitationAlone(ctx context.Context, org *account.Organization, inv *invite.Invitation, ev *invite.Event, mail *invite.Email) error {
	e, ok := s.orgs.get(org.Slug)
	if !ok || e.org.ID != org.ID || e.hooks > 0 {
		return errOrgChanged
	}
	if len(inv.GroupIDs) > 0 || (mail != nil && !mailOnRow(inv, mail)) || !eventOnRow(inv, ev) {
		return errors.New("sqlstore: this invitation takes a transaction")
	}
	var err error
	if s.w != nil {
		// SQLite: the writer runs the statement as its own transaction
		// when nothing else is writing, and in a shared one otherwise.
		err = s.w.doSingle(ctx, func(t *tx) error { return t.createInvitation(ctx, inv, ev, mail, true, &e) })
	} else {
		t := &tx{q: s.write, d: s.dialect}
		err = t.createInvitation(ctx, inv, ev, mail, true, &e)
	}
	if errors.Is(err, errOrgChanged) {
		s.orgs.drop(org.Slug)
	}
	return err
}

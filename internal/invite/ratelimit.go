package invite

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// inviteLimiter bounds the invitations each organization creates per hour
// (Config.InvitesPerHour) through the single and batch invite calls, as
// seen by this instance: a token bucket per organization that holds an
// hour's allowance and refills evenly. Imports are not counted: they are
// bounded by their file limits and need the bulk permission.
type inviteLimiter struct {
	perHour int
	mu      sync.Mutex
	orgs    map[string]*rate.Limiter
}

// maxLimitedOrgs bounds the buckets kept; a full map is emptied (a bucket
// forgotten starts full again).
const maxLimitedOrgs = 10000

// reserve takes n invitations from orgID's allowance at now, or answers
// rate_limited. The reservation gives them back if the invitations are
// not made (nil when there is no limit).
func (l *inviteLimiter) reserve(orgID string, n int, now time.Time) (*rate.Reservation, error) {
	if l == nil || l.perHour <= 0 {
		return nil, nil
	}
	l.mu.Lock()
	lim := l.orgs[orgID]
	if lim == nil {
		if len(l.orgs) >= maxLimitedOrgs {
			clear(l.orgs)
		}
		lim = rate.NewLimiter(rate.Limit(float64(l.perHour)/3600), l.perHour)
		l.orgs[orgID] = lim
	}
	l.mu.Unlock()
	r := lim.ReserveN(now, n)
	if !r.OK() {
		return nil, errorf(CodeRateLimited, "this organization may invite at most %d people per hour; invite fewer at once, or import a file", l.perHour)
	}
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return nil, errorf(CodeRateLimited, "this organization may invite at most %d people per hour; try again in %d min, or import a file",
			l.perHour, int(math.Ceil(wait.Minutes())))
	}
	return r, nil
}

// settle gives back, of a reservation of reserved invitations, those
// not used (all of them when the call failed).
func (l *inviteLimiter) settle(orgID string, r *rate.Reservation, reserved, used int, now time.Time) {
	if r == nil || used >= reserved {
		return
	}
	r.CancelAt(now)
	if used > 0 {
		l.mu.Lock()
		lim := l.orgs[orgID]
		l.mu.Unlock()
		if lim != nil {
			lim.AllowN(now, used)
		}
	}
}

// allowance is what a call holds of its organization's hourly allowance
// of invitations.
type allowance struct {
	orgID string
	n     int
	r     *rate.Reservation
	taken bool
}

// hold takes n invitations of orgID's allowance into a, once: a
// transaction retried after a conflict does not take them again.
func (s *Service) hold(a *allowance, orgID string, n int) error {
	if a.taken {
		return nil
	}
	r, err := s.limit.reserve(orgID, n, s.Now())
	if err != nil {
		return err
	}
	*a = allowance{orgID: orgID, n: n, r: r, taken: true}
	return nil
}

// release gives back what a holds beyond the used invitations.
func (s *Service) release(a allowance, used int) {
	if a.taken {
		s.limit.settle(a.orgID, a.r, a.n, used, s.Now())
	}
}

// SetInvitesPerHour replaces Config.InvitesPerHour; call it before
// serving.
func (s *Service) SetInvitesPerHour(n int) {
	s.limit = &inviteLimiter{perHour: n, orgs: map[string]*rate.Limiter{}}
}

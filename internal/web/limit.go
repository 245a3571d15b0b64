package web

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"usher/internal/invite"
)

// limiter keeps token buckets per key (an IP, a token hash), forgetting
// idle ones.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter() *limiter { return &limiter{buckets: map[string]*bucket{}} }

// allow reports whether key may act now under r per second, burst b.
func (l *limiter) allow(key string, r rate.Limit, b int) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, v := range l.buckets {
			if now.Sub(v.seen) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	bk, ok := l.buckets[key]
	if !ok {
		bk = &bucket{lim: rate.NewLimiter(r, b)}
		l.buckets[key] = bk
	}
	bk.seen = now
	return bk.lim.AllowN(now, 1)
}

// clientIP is the request's remote address without port. usher does not
// trust X-Forwarded-For: behind a proxy, run one limiter per proxy.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Limits on the public, token-holding endpoints and sign-in.
var (
	perIPRate    = rate.Every(time.Second / 5) // 5 per second sustained
	perIPBurst   = 30
	perKeyRate   = rate.Every(6 * time.Second) // 10 per minute per token or account
	perKeyBurst  = 10
	errRateLimit = errorf(invite.CodeRateLimited, "too many attempts; wait a minute and try again")
)

// throttle checks the per-IP and, if key is not empty, per-key limits.
func (s *server) throttle(w http.ResponseWriter, r *http.Request, scope, key string) bool {
	ok := s.limits.allow(scope+"|ip|"+clientIP(r), perIPRate, perIPBurst)
	if ok && key != "" {
		ok = s.limits.allow(scope+"|key|"+key, perKeyRate, perKeyBurst)
	}
	if !ok {
		w.Header().Set("Retry-After", "60")
		s.fail(w, r, errRateLimit)
	}
	return ok
}

package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"time"

	"usher/internal/invite"
)

// idempotencyWindow is how long an Idempotency-Key's answer is kept.
const idempotencyWindow = 24 * time.Hour

// bufferedWriter holds a response so that it can be stored as well as sent.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// idempotent makes a POST handler honour Idempotency-Key: the same key
// with the same body within 24 hours answers what the first request
// answered, without doing anything again; the same key with another body
// is refused; a request still running with the key answers 409.
func (s *server) idempotent(h func(http.ResponseWriter, *http.Request, invite.Actor)) func(http.ResponseWriter, *http.Request, invite.Actor) {
	return func(w http.ResponseWriter, r *http.Request, a invite.Actor) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			h(w, r, a)
			return
		}
		if len(key) > 255 {
			s.fail(w, r, errorf(invite.CodeValidation, "Idempotency-Key must be at most 255 characters"))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			s.fail(w, r, decodeError(err))
			return
		}
		sum := sha256.Sum256([]byte(r.Method + " " + r.URL.Path + "\n" + string(body)))
		scope := "user:" + a.UserID
		if a.KeyID != "" {
			scope = "key:" + a.KeyID
		}
		prior, err := s.store.BeginIdempotent(r.Context(), scope, key, hex.EncodeToString(sum[:]), s.svc.Now(), idempotencyWindow)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		switch {
		case prior != nil && prior.RequestHash != hex.EncodeToString(sum[:]):
			s.fail(w, r, errorf(codeIdempotencyConflict, "this Idempotency-Key was used with a different request"))
			return
		case prior != nil && prior.Status == 0:
			w.Header().Set("Retry-After", "1")
			s.fail(w, r, errorf(invite.CodeConflict, "a request with this Idempotency-Key is still running"))
			return
		case prior != nil:
			w.Header().Set("Content-Type", contentType(prior.Status))
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(prior.Status)
			w.Write(prior.Body)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		buf := &bufferedWriter{header: w.Header()}
		h(buf, r, a)
		// The claim is settled even if the client went away meanwhile.
		ctx := context.WithoutCancel(r.Context())
		if buf.status >= 500 {
			err = s.store.AbandonIdempotent(ctx, scope, key)
		} else {
			err = s.store.FinishIdempotent(ctx, scope, key, buf.status, buf.body.Bytes())
		}
		if err != nil {
			s.log.Error("idempotency record", "err", err)
		}
		w.Header().Set("Content-Length", strconv.Itoa(buf.body.Len()))
		w.WriteHeader(buf.status)
		w.Write(buf.body.Bytes())
	}
}

func contentType(status int) string {
	if status >= 400 {
		return "application/problem+json"
	}
	return "application/json"
}

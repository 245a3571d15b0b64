package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
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
	return s.idempotentBy(jsonBody, actorScope, h)
}

// idempotentPublic is idempotent for the invitee's public POSTs, which
// have no actor: a key is remembered together with its request (token,
// password and all), so only the same request with the same key gets the
// first answer again, and two clients choosing the same key do not meet.
func (s *server) idempotentPublic(h http.HandlerFunc) http.HandlerFunc {
	replay := s.idempotentBy(jsonBody, func(_ invite.Actor, sum string) string { return "public:" + sum },
		func(w http.ResponseWriter, r *http.Request, _ invite.Actor) { h(w, r) })
	return func(w http.ResponseWriter, r *http.Request) { replay(w, r, invite.Actor{}) }
}

// actorScope keeps each actor's keys apart.
func actorScope(a invite.Actor, _ string) string {
	if a.KeyID != "" {
		return "key:" + a.KeyID
	}
	return "user:" + a.UserID
}

// idempotentUpload is idempotent for a multipart upload of a file of at
// most fileMax() bytes: see multipartBody.
func (s *server) idempotentUpload(fileMax func() int64, h func(http.ResponseWriter, *http.Request, invite.Actor)) func(http.ResponseWriter, *http.Request, invite.Actor) {
	return s.idempotentBy(multipartBody(fileMax), actorScope, h)
}

// readBody reads a request's body for Idempotency-Key: it returns the sum
// that tells one request from another and leaves r.Body reading the same
// bytes again; done releases what that holds.
type readBody func(w http.ResponseWriter, r *http.Request) (sum string, done func(), err error)

// jsonBody keeps a body of at most maxBody bytes in memory and sums it
// whole.
func jsonBody(w http.ResponseWriter, r *http.Request) (string, func(), error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return "", nil, decodeError(err, nil)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	h := requestHash(r)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)), func() {}, nil
}

// requestHash is a hash started with r's method and path: what a request
// body is summed after.
func requestHash(r *http.Request) hash.Hash {
	h := sha256.New()
	io.WriteString(h, r.Method+" "+r.URL.Path+"\n")
	return h
}

// multipartBody spools a multipart body (a file of at most fileMax()
// bytes, and option fields of at most 1 MB together) to a temporary file
// and sums its parts (names, file names and contents), not its bytes: a
// client sending the same form again draws a new boundary, and it is
// still the same request. A body that is not a multipart form is summed
// whole; the handler then refuses it.
func multipartBody(fileMax func() int64) readBody {
	return func(w http.ResponseWriter, r *http.Request) (_ string, _ func(), err error) {
		f, err := os.CreateTemp("", "usher-upload-*")
		if err != nil {
			return "", nil, err
		}
		done := func() {
			f.Close()
			os.Remove(f.Name())
		}
		defer func() {
			if err != nil {
				done()
			}
		}()
		if _, err := io.Copy(f, http.MaxBytesReader(w, r.Body, fileMax()+1<<20)); err != nil {
			return "", nil, uploadError(err, fileMax())
		}
		h := requestHash(r)
		if err := sumParts(h, f, r.Header.Get("Content-Type")); err != nil {
			h = requestHash(r)
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return "", nil, err
			}
			if _, err := io.Copy(h, f); err != nil {
				return "", nil, err
			}
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", nil, err
		}
		r.Body = f
		return hex.EncodeToString(h.Sum(nil)), done, nil
	}
}

// sumParts writes to h, for each part of the multipart body in f, the
// lengths and values of its form name and file name and the sum of its
// content.
func sumParts(h io.Writer, f io.ReadSeeker, contentType string) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return errors.New("not a multipart form")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	mr := multipart.NewReader(f, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		content := sha256.New()
		if _, err := io.Copy(content, part); err != nil {
			return err
		}
		fmt.Fprintf(h, "%d:%s%d:%s", len(part.FormName()), part.FormName(), len(part.FileName()), part.FileName())
		h.Write(content.Sum(nil))
	}
}

// idempotentBy is idempotent, reading the body with read; scope names
// whose keys a request's is among, from its actor and its request sum.
func (s *server) idempotentBy(read readBody, scope func(invite.Actor, string) string,
	h func(http.ResponseWriter, *http.Request, invite.Actor)) func(http.ResponseWriter, *http.Request, invite.Actor) {
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
		sum, done, err := read(w, r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		defer done()
		scope := scope(a, sum)
		record := scope + "\x00" + key // what a kept answer is bound to
		prior, err := s.store.BeginIdempotent(r.Context(), scope, key, sum, s.svc.Now(), idempotencyWindow)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		switch {
		case prior != nil && prior.RequestHash != sum:
			s.fail(w, r, errorf(codeIdempotencyConflict, "this Idempotency-Key was used with a different request"))
			return
		case prior != nil && prior.Status == 0:
			w.Header().Set("Retry-After", "1")
			s.fail(w, r, errorf(invite.CodeConflict, "a request with this Idempotency-Key is still running"))
			return
		case prior != nil:
			body, err := s.svc.OpenAnswer(string(prior.Body), record)
			if err != nil {
				s.fail(w, r, errorf(invite.CodeConflict, "the answer kept for this Idempotency-Key cannot be read with this instance's key; "+
					"what the first request did stands: look it up, or send the request again with a new key"))
				return
			}
			w.Header().Set("Content-Type", contentType(prior.Status))
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(prior.Status)
			w.Write(body)
			return
		}
		buf := &bufferedWriter{header: w.Header()}
		h(buf, r, a)
		// The claim is settled even if the client went away meanwhile.
		ctx := context.WithoutCancel(r.Context())
		if buf.status >= 500 {
			err = s.store.AbandonIdempotent(ctx, scope, key)
		} else {
			// Kept sealed: a create's or a resend's answer holds a link.
			err = s.store.FinishIdempotent(ctx, scope, key, buf.status, []byte(s.svc.SealAnswer(buf.body.Bytes(), record)))
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

package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/textproto"
	"syscall"

	gomail "github.com/wneessen/go-mail"
)

// DeliveryError is the error Send reports for one message.
//
// A failure to open the session (connect, TLS, STARTTLS required but not
// offered, AUTH rejected) is reported for every message of the batch and is
// always Temporary: it says nothing about the messages, and an operator can
// fix it; the caller's retry limit decides when to give up. A reply about
// the message itself follows its code: 4xx temporary, 5xx permanent.
type DeliveryError struct {
	To        string
	Code      int  // the server's SMTP reply code (451, 550, ...), 0 when there was none
	Temporary bool // worth sending again later
	Err       error
}

func (e *DeliveryError) Error() string { return "mail: send to " + e.To + ": " + e.Err.Error() }

// Unwrap gives the underlying error (a *gomail.SendError, a net.Error, ...).
func (e *DeliveryError) Unwrap() error { return e.Err }

// IsTemporary reports whether sending again later may succeed: true for 4xx
// replies, refused connections, timeouts, TLS and other network failures
// and a cancelled context; false for 5xx replies, a bad address and
// anything unrecognized.
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Temporary
	}
	_, temp := classify(err)
	return temp
}

// classify finds the SMTP reply code in err, if any, and whether err is
// worth retrying.
func classify(err error) (code int, temporary bool) {
	var se *gomail.SendError
	if errors.As(err, &se) {
		if c := se.ErrorCode(); c >= 400 && c < 600 {
			return c, c < 500
		}
		switch se.Reason {
		case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
			return 0, false // the message itself is unsendable
		}
		// Any other step failing without a reply code means the
		// conversation broke off (closed, reset, timed out): nothing was
		// said about this message.
		return 0, true
	}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return tp.Code, tp.Code < 500 || tp.Code >= 600
	}
	var (
		netErr   net.Error
		alert    tls.AlertError
		record   tls.RecordHeaderError
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
	)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr),
		errors.As(err, &alert), errors.As(err, &record), errors.As(err, &verify),
		errors.As(err, &unknown), errors.As(err, &hostname):
		return 0, true
	}
	return 0, false
}

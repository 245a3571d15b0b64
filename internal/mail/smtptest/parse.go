package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// parsed is what a test usually wants from a raw message.
type parsed struct {
	header       mail.Header
	subject      string
	text, html   string
	contentType  string // media type of the top level, e.g. "multipart/alternative"
	alternatives []string
}

// parseMessage decodes a raw RFC 5322 message with the standard library:
// the subject (RFC 2047 words), and the first text/plain and text/html
// parts at any depth of multipart nesting, with their transfer encoding
// undone and line endings normalized to \n.
func parseMessage(data []byte) (parsed, error) {
	var p parsed
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return p, fmt.Errorf("smtptest: read message: %w", err)
	}
	p.header = m.Header
	dec := new(mime.WordDecoder)
	if p.subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
		return p, fmt.Errorf("smtptest: decode subject: %w", err)
	}
	p.contentType, _, _ = mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err := p.walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body, 0); err != nil {
		return p, err
	}
	return p, nil
}

func (p *parsed) walk(contentType, encoding string, body io.Reader, depth int) error {
	if depth > 10 {
		return fmt.Errorf("smtptest: multipart nested too deep")
	}
	if contentType == "" {
		contentType = "text/plain; charset=utf-8"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("smtptest: content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextRawPart leaves the transfer encoding to decode below, the
			// same way for every part.
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("smtptest: %s part: %w", mediaType, err)
			}
			if mediaType == "multipart/alternative" {
				ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
				p.alternatives = append(p.alternatives, ct)
			}
			if err := p.walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part, depth+1); err != nil {
				return err
			}
		}
	}
	var r io.Reader
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body)
	default:
		r = body
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("smtptest: decode %s (%s): %w", mediaType, encoding, err)
	}
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch {
	case mediaType == "text/plain" && p.text == "":
		p.text = s
	case mediaType == "text/html" && p.html == "":
		p.html = s
	}
	return nil
}

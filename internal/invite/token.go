package invite

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// Invitation tokens.
//
// A token is stored only as its SHA-256 hash. The email that carries it is
// sent later, by a background job (the job is written in the invitation's
// transaction, product.md §6), and reminders days later carry the same
// link, so the job must be able to rebuild the token without the database
// holding it. Each issue therefore draws a 256-bit nonce from crypto/rand,
// stores the nonce beside the hash, and derives the token as
// HMAC-SHA256(instance key, invitation id, nonce). Someone holding a copy
// of the database alone (a backup, a replica) cannot compute any link; the
// instance key lives outside the database. Rotating (resend, link) draws a
// new nonce, so every older link stops working at once.

// KeySize is the size of an instance key in bytes.
const KeySize = 32

// Tokens issues and recognizes invitation tokens with one instance key.
type Tokens struct {
	key     []byte
	answers cipher.AEAD // seals kept answers (SealAnswer)
}

// NewTokens returns a token issuer for key (KeySize bytes).
func NewTokens(key []byte) (*Tokens, error) {
	if len(key) < KeySize {
		return nil, errors.New("invite: instance key must be at least 32 bytes")
	}
	return &Tokens{key: key, answers: answerCipher(key)}, nil
}

// NewNonce draws a fresh 256-bit nonce.
func NewNonce() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Token derives the token of invitation id issued with nonce.
func (t *Tokens) Token(id, nonce string) string { return t.derive("invitation", id, nonce) }

// derive is HMAC-SHA256(key, "usher/<purpose>/v1", id, nonce): the purpose
// keeps an invitation token from ever matching a reset token.
func (t *Tokens) derive(purpose, id, nonce string) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte("usher/" + purpose + "/v1\x00"))
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// HashToken returns the hash under which a token (or any other bearer
// secret: API keys, session ids) is stored.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewSecret returns a random URL-safe secret of 256 bits, with prefix
// (such as "usk_" for API keys) so that leaked keys are recognizable.
func NewSecret(prefix string) string {
	b := make([]byte, 32)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// plausibleToken rejects, before any database work, text that cannot be a
// token: tokens are 43 base64url characters.
func plausibleToken(tok string) bool {
	if len(tok) != 43 {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Answers kept for Idempotency-Key replays hold what was answered, which
// for a create or a resend is a link with its token. They are kept sealed
// (AES-256-GCM under a key derived from the instance key, bound to the
// record they are kept under), so that, as for the tokens themselves, a
// copy of the database alone reads no link.

// sealedPrefix marks a sealed answer; an answer without it was kept
// before answers were sealed and is returned as it is.
const sealedPrefix = "usher-sealed-v1:"

// ErrUnsealable is returned for a sealed answer that the instance key
// cannot open (the key changed, or the record was altered).
var ErrUnsealable = errors.New("invite: the kept answer cannot be opened with this instance key")

// answerCipher is AES-256-GCM under a key derived from the instance key.
func answerCipher(key []byte) cipher.AEAD {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("usher/answers/v1"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

// SealAnswer seals answer, to be kept under the record named by record.
func (t *Tokens) SealAnswer(answer []byte, record string) string {
	nonce := make([]byte, t.answers.NonceSize())
	rand.Read(nonce)
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(t.answers.Seal(nonce, nonce, answer, []byte(record)))
}

// OpenAnswer returns the answer SealAnswer sealed under record.
func (t *Tokens) OpenAnswer(kept string, record string) ([]byte, error) {
	sealed, ok := strings.CutPrefix(kept, sealedPrefix)
	if !ok {
		return []byte(kept), nil
	}
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	n := t.answers.NonceSize()
	if err != nil || len(b) < n {
		return nil, ErrUnsealable
	}
	answer, err := t.answers.Open(nil, b[:n], b[n:], []byte(record))
	if err != nil {
		return nil, ErrUnsealable
	}
	return answer, nil
}

package invite_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"usher/internal/invite"
)

// TestSealedAnswers: an answer kept for an Idempotency-Key replay is kept
// unreadable without the instance key, opens only under the record it was
// sealed for, and an answer kept before sealing is returned as it is.
func TestSealedAnswers(t *testing.T) {
	tokens, _ := invite.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	other, _ := invite.NewTokens([]byte("fedcba9876543210fedcba9876543210"))
	answer := []byte(`{"email":"ana@example.com","link":"http://x/i/AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHHIIIIJJJJKKK"}`)

	kept := tokens.SealAnswer(answer, "key:k1\x00idem")
	if strings.Contains(kept, "ana@example.com") || strings.Contains(kept, "AAAABBBB") {
		t.Fatalf("the kept answer is readable: %s", kept)
	}
	if again := tokens.SealAnswer(answer, "key:k1\x00idem"); again == kept {
		t.Error("two seals of one answer are the same text (no fresh nonce)")
	}
	altered := []byte(kept)
	if i := len(altered) - 5; altered[i] == 'A' {
		altered[i] = 'B'
	} else {
		altered[i] = 'A'
	}
	got, err := tokens.OpenAnswer(kept, "key:k1\x00idem")
	if err != nil || !bytes.Equal(got, answer) {
		t.Fatalf("OpenAnswer = %q, %v", got, err)
	}
	for name, open := range map[string]func() ([]byte, error){
		"another record":       func() ([]byte, error) { return tokens.OpenAnswer(kept, "key:k2\x00idem") },
		"another instance key": func() ([]byte, error) { return other.OpenAnswer(kept, "key:k1\x00idem") },
		"altered":              func() ([]byte, error) { return tokens.OpenAnswer(string(altered), "key:k1\x00idem") },
		"not base64":           func() ([]byte, error) { return tokens.OpenAnswer("usher-sealed-v1:%%%", "key:k1\x00idem") },
	} {
		if _, err := open(); !errors.Is(err, invite.ErrUnsealable) {
			t.Errorf("%s: err = %v, want ErrUnsealable", name, err)
		}
	}
	if got, err := tokens.OpenAnswer(string(answer), "key:k1\x00idem"); err != nil || !bytes.Equal(got, answer) {
		t.Errorf("an answer kept before sealing: %q, %v", got, err)
	}
}

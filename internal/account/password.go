package account

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// PasswordPolicy names a set of password rules an organization applies.
type PasswordPolicy string

// The policies of product.md §9.
const (
	// PolicyNIST follows NIST SP 800-63B: length matters, composition rules
	// do not, and known-common passwords are refused.
	PolicyNIST PasswordPolicy = "nist"
	// PolicyStrict is seed 004's rule: 10 to 16 characters with lower and
	// upper case letters, a digit and a special character.
	PolicyStrict PasswordPolicy = "strict"
)

// Valid reports whether p is a known policy.
func (p PasswordPolicy) Valid() bool { return p == PolicyNIST || p == PolicyStrict }

// Rule is one requirement of a policy, shown to people before they type and
// reported when a password breaks it.
type Rule struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Rules lists the requirements of p, in the order they are shown.
func (p PasswordPolicy) Rules() []Rule {
	if p == PolicyStrict {
		return []Rule{
			{"length", "10 to 16 characters"},
			{"lower", "a lowercase letter"},
			{"upper", "an uppercase letter"},
			{"digit", "a number"},
			{"special", "a special character"},
		}
	}
	return []Rule{
		{"length", "8 to 128 characters"},
		{"common", "not a commonly used password"},
	}
}

// Check returns the rules password breaks under p (none: acceptable).
func (p PasswordPolicy) Check(password string) []Rule {
	var broken []Rule
	n := utf8.RuneCountInString(password)
	rules := p.Rules()
	if p == PolicyStrict {
		var lower, upper, digit, special bool
		for _, r := range password {
			switch {
			case unicode.IsLower(r):
				lower = true
			case unicode.IsUpper(r):
				upper = true
			case unicode.IsDigit(r):
				digit = true
			case unicode.IsPunct(r) || unicode.IsSymbol(r) || r == ' ':
				special = true
			}
		}
		for i, ok := range []bool{n >= 10 && n <= 16, lower, upper, digit, special} {
			if !ok {
				broken = append(broken, rules[i])
			}
		}
		return broken
	}
	if n < 8 || n > 128 {
		broken = append(broken, rules[0])
	}
	if IsCommonPassword(password) {
		broken = append(broken, rules[1])
	}
	return broken
}

//go:embed passwords/common.txt.gz
var commonGz []byte

// common holds the list as the sorted 64-bit hashes of its entries. A
// map of its 38,000 strings was 2 MB of pointers that the garbage
// collector scanned on every collection, in a heap otherwise a few MB;
// the hashes hold no pointer (the collector skips them) and take 300 KB.
// Two passwords share a hash with a chance of about 2⁻⁴⁸ here: at worst
// an uncommon password is refused as common.
var common = sync.OnceValue(func() []uint64 {
	zr, err := gzip.NewReader(bytes.NewReader(commonGz))
	if err != nil {
		panic("account: embedded password list: " + err.Error())
	}
	set := make([]uint64, 0, 40000)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		set = append(set, maphash.Bytes(commonSeed, sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		panic("account: embedded password list: " + err.Error())
	}
	slices.Sort(set)
	return slices.Compact(set)
})

var commonSeed = maphash.MakeSeed()

// IsCommonPassword reports whether password (case-insensitively) is among
// the most common passwords of public breach lists.
func IsCommonPassword(password string) bool {
	_, ok := slices.BinarySearch(common(), maphash.String(commonSeed, strings.ToLower(password)))
	return ok
}

// Argon2id parameters: the OWASP minimum (19 MiB, 2 passes), about 30 ms on
// this project's machines.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Hasher hashes and verifies passwords with argon2id. At most a bounded
// number of hashes run at once, so that a burst of sign-ins cannot take all
// memory and CPU: each hash holds 19 MiB for about 30 ms.
type Hasher struct {
	slots chan struct{}
}

// NewHasher returns a Hasher running at most concurrency hashes at once
// (0: the number of CPUs).
func NewHasher(concurrency int) *Hasher {
	if concurrency <= 0 {
		concurrency = runtime.NumCPU()
	}
	return &Hasher{slots: make(chan struct{}, concurrency)}
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash returns password's argon2id hash in the PHC string format.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	h.release()
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ErrMalformedHash is returned for a stored hash that is not argon2id PHC.
var ErrMalformedHash = errors.New("account: malformed password hash")

// Verify reports whether password matches the PHC-encoded hash. An empty
// hash (an account with no password) matches nothing.
func (h *Hasher) Verify(ctx context.Context, hash, password string) (bool, error) {
	if hash == "" {
		return false, nil
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrMalformedHash
	}
	var version int
	var memory, passes uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &passes, &threads); err != nil {
		return false, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, ErrMalformedHash
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, passes, memory, threads, uint32(len(want)))
	h.release()
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

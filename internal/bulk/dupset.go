package bulk

import "hash/maphash"

// emailSet remembers, for each normalized address seen, the row it was
// first seen on, so that a repeat can name that row.
//
// Memory is the point: an import may be configured for a million rows. A
// map keyed by the address itself costs a string header per entry plus a
// copy of every address; here the map holds 16 bytes per address (a 64-bit
// hash and a packed reference) and the addresses sit back to back in large
// byte chunks, one length byte each.
//
// A hash match alone would occasionally report two different addresses as
// duplicates. So a match is always confirmed by comparing the stored
// address, and in the (practically never seen) case that two different
// addresses share a hash, the newcomer goes into a small exact side-table,
// collided, keyed by the address itself. A false duplicate is therefore
// impossible, not merely unlikely. The seed is random per set, so nobody
// can craft a file whose addresses collide on purpose.
type emailSet struct {
	seed     maphash.Seed
	index    map[uint64]uint64 // hash → line<<32 | ref
	chunks   [][]byte
	collided map[string]int
}

// chunkSize bounds one arena chunk; refs address 2^12 chunks of 2^20 bytes.
const chunkSize = 1 << 20

func newEmailSet() *emailSet {
	return &emailSet{seed: maphash.MakeSeed(), index: make(map[uint64]uint64)}
}

// add records email as seen on line and reports the line it was first
// seen on, if it was seen before. email is at most 254 bytes
// (account.NormalizeEmail guarantees it).
func (s *emailSet) add(email string, line int) (first int, dup bool) {
	if len(email) > 255 {
		// Cannot happen with normalized addresses; stay exact anyway.
		return s.side(email, line)
	}
	h := maphash.String(s.seed, email)
	v, ok := s.index[h]
	if !ok {
		s.index[h] = uint64(uint32(line))<<32 | uint64(s.store(email))
		return 0, false
	}
	if string(s.load(uint32(v))) == email { // compared without a copy
		return int(v >> 32), true
	}
	return s.side(email, line)
}

// side looks email up in, or adds it to, the exact side-table.
func (s *emailSet) side(email string, line int) (first int, dup bool) {
	if first, ok := s.collided[email]; ok {
		return first, true
	}
	if s.collided == nil {
		s.collided = make(map[string]int)
	}
	s.collided[email] = line
	return 0, false
}

func (s *emailSet) store(email string) uint32 {
	n := len(s.chunks)
	if n == 0 || len(s.chunks[n-1])+1+len(email) > chunkSize {
		s.chunks = append(s.chunks, make([]byte, 0, chunkSize))
		n++
	}
	c := s.chunks[n-1]
	ref := uint32(n-1)<<20 | uint32(len(c))
	c = append(c, byte(len(email)))
	s.chunks[n-1] = append(c, email...)
	return ref
}

// load returns the address stored at ref.
func (s *emailSet) load(ref uint32) []byte {
	c := s.chunks[ref>>20]
	off := ref & (chunkSize - 1)
	n := uint32(c[off])
	return c[off+1 : off+1+n]
}

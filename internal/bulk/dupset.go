package bulk

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"strings"
)

// emailSet remembers, for each normalized address seen, the row it was
// first seen on, so that a repeat can name that row.
//
// Memory is the point: an import may be configured for a million rows,
// and a Go map keyed by the addresses costs about 90 bytes per address
// (string header, slot overhead, the string itself). Here an address
// costs one 8-byte slot in an open-addressing table (at most three
// quarters full) and an entry in an arena of large pointer-free chunks:
// its row, its local part, and its domain as a 2-byte number, since the
// addresses of one list share a handful of domains. That is about 35 bytes
// for a typical address.
//
// The table is keyed by a 64-bit hash, but a hash match is never taken as
// a duplicate on its own: a slot keeps 32 bits of the hash to skip almost
// every non-match cheaply, and a candidate counts only if the stored
// address is equal byte for byte. Two different addresses that share a
// hash, however unlikely, simply occupy two slots of the same probe
// sequence, so a false duplicate is impossible rather than improbable. The
// seed is random per set, so nobody can craft a file whose addresses pile
// up on one probe sequence.
type emailSet struct {
	seed    maphash.Seed
	slots   []uint64 // 0 = empty, else hash>>32 <<32 | ref+1
	n       int
	chunks  [][]byte // entries: line (4) | domain id (2) | len (1) | local [| len (1) | domain]
	domains map[string]uint16
	names   []string // domain id → domain; id 0 means the domain is stored inline
}

// chunkSize bounds one arena chunk; a ref addresses 2^12 chunks of 2^20
// bytes, enough for tens of millions of addresses.
const chunkSize = 1 << 20

// maxDomains caps the domain dictionary: in a list of a million
// addresses at a million domains, numbering them would cost more than
// storing each domain inline.
const maxDomains = 1<<16 - 1

func newEmailSet() *emailSet {
	return &emailSet{
		seed:    maphash.MakeSeed(),
		slots:   make([]uint64, 1024),
		domains: make(map[string]uint16),
		names:   []string{""},
	}
}

// add records email as seen on line, or, if it was seen before, reports
// the line it was first seen on. The parts before and after the last @
// must each be at most 255 bytes, which account.NormalizeEmail guarantees.
func (s *emailSet) add(email string, line int) (first int, dup bool) {
	return s.probe(email, line, true)
}

// find reports the line email was first seen on, if it was.
func (s *emailSet) find(email string) (first int, ok bool) {
	return s.probe(email, 0, false)
}

// probe looks email up, and when it is absent and insert is set, records
// it as seen on line.
func (s *emailSet) probe(email string, line int, insert bool) (first int, found bool) {
	local, domain := email, ""
	if at := strings.LastIndexByte(email, '@'); at >= 0 {
		local, domain = email[:at], email[at+1:]
	}
	h := s.hash(local, domain)
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		v := s.slots[i]
		if v == 0 {
			if !insert {
				return 0, false
			}
			s.slots[i] = h>>32<<32 | uint64(s.store(local, domain, line)+1)
			s.n++
			if s.n*4 > len(s.slots)*3 {
				s.grow()
			}
			return 0, false
		}
		if v>>32 == h>>32 {
			if l, lp, dp := s.load(uint32(v) - 1); string(lp) == local && dp == domain {
				return l, true
			}
		}
	}
}

func (s *emailSet) hash(local, domain string) uint64 {
	return maphash.String(s.seed, local) ^ bits.RotateLeft64(maphash.String(s.seed, domain), 31)
}

// grow doubles the table, rehashing the stored addresses.
func (s *emailSet) grow() {
	old := s.slots
	s.slots = make([]uint64, 2*len(old))
	mask := uint64(len(s.slots) - 1)
	for _, v := range old {
		if v == 0 {
			continue
		}
		_, local, domain := s.load(uint32(v) - 1)
		i := s.hash(string(local), domain) & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = v
	}
}

func (s *emailSet) store(local, domain string, line int) uint32 {
	id, ok := s.domains[domain]
	if !ok && len(s.names) <= maxDomains {
		id = uint16(len(s.names))
		s.domains[domain] = id
		s.names = append(s.names, domain)
	}
	size := 4 + 2 + 1 + len(local)
	if id == 0 {
		size += 1 + len(domain)
	}
	n := len(s.chunks)
	if n == 0 || len(s.chunks[n-1])+size > chunkSize {
		s.chunks = append(s.chunks, make([]byte, 0, chunkSize))
		n++
	}
	c := s.chunks[n-1]
	ref := uint32(n-1)<<20 | uint32(len(c))
	c = binary.LittleEndian.AppendUint32(c, uint32(line))
	c = binary.LittleEndian.AppendUint16(c, id)
	c = append(append(c, byte(len(local))), local...)
	if id == 0 {
		c = append(append(c, byte(len(domain))), domain...)
	}
	s.chunks[n-1] = c
	return ref
}

// load returns the line and address stored at ref. Only a domain stored
// inline (past the first 65,535 domains) is copied.
func (s *emailSet) load(ref uint32) (line int, local []byte, domain string) {
	c := s.chunks[ref>>20][ref&(chunkSize-1):]
	line = int(binary.LittleEndian.Uint32(c))
	id := binary.LittleEndian.Uint16(c[4:])
	n := int(c[6])
	local = c[7 : 7+n]
	if id != 0 {
		return line, local, s.names[id]
	}
	c = c[7+n:]
	return line, local, string(c[1 : 1+int(c[0])])
}

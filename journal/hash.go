// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"encoding/binary"
	"math/bits"

	"github.com/dchest/siphash"
)

// hash is the hash of the file's hash tables: siphash24 keyed by the file
// ID for files with the keyed-hash flag, Jenkins lookup3 otherwise.
func (f *File) hash(p []byte) uint64 {
	if f.hdr.incompat&incompatKeyedHash != 0 {
		k0 := binary.LittleEndian.Uint64(f.hdr.fileID[0:8])
		k1 := binary.LittleEndian.Uint64(f.hdr.fileID[8:16])
		return siphash.Hash(k0, k1, p)
	}
	return jenkinsHash64(p)
}

// jenkinsHash64 is Bob Jenkins' lookup3 hashlittle2 with both seeds 0, the
// first result (c) as the high 32 bits and the second (b) as the low ones,
// as the format's unkeyed hash and every entry's xor_hash use it.
func jenkinsHash64(k []byte) uint64 {
	a := 0xdeadbeef + uint32(len(k))
	b, c := a, a
	for len(k) > 12 {
		a += binary.LittleEndian.Uint32(k[0:])
		b += binary.LittleEndian.Uint32(k[4:])
		c += binary.LittleEndian.Uint32(k[8:])
		a, b, c = jenkinsMix(a, b, c)
		k = k[12:]
	}
	if len(k) == 0 {
		return uint64(c)<<32 | uint64(b)
	}
	// The last 1 to 12 bytes, zero padded, as little-endian words.
	var tail [12]byte
	copy(tail[:], k)
	a += binary.LittleEndian.Uint32(tail[0:])
	b += binary.LittleEndian.Uint32(tail[4:])
	c += binary.LittleEndian.Uint32(tail[8:])
	_, b, c = jenkinsFinal(a, b, c)
	return uint64(c)<<32 | uint64(b)
}

func jenkinsMix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= c
	a ^= bits.RotateLeft32(c, 4)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 6)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 8)
	b += a
	a -= c
	a ^= bits.RotateLeft32(c, 16)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 19)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 4)
	b += a
	return a, b, c
}

func jenkinsFinal(a, b, c uint32) (uint32, uint32, uint32) {
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return a, b, c
}

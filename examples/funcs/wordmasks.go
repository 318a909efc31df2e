package funcs

import "encoding/binary"

// blockMasks are the masks of the 64 bytes of text from at: a bit a
// byte, the first the lowest; bytes past the end of text are in none.
func blockMasks(text string, at int) (in, mixed uint64) {
	if len(text)-at < 64 {
		var pad [64]byte
		copy(pad[:], text[at:])
		for k := range 8 {
			i, m := groupMasks(binary.LittleEndian.Uint64(pad[8*k:]))
			in, mixed = in|i<<(8*k), mixed|m<<(8*k)
		}
		return in, mixed
	}
	block := text[at : at+64]
	for k := range 8 {
		i, m := groupMasks(load8(block[8*k:]))
		in, mixed = in|i<<(8*k), mixed|m<<(8*k)
	}
	return in, mixed
}

// groupMasks are the masks of the 8 bytes of x (see load8), 8 bits each.
func groupMasks(x uint64) (in, mixed uint64) {
	word := wordBytes(x)
	return packHighBits(word), packHighBits(word &^ lowerBytes(x))
}

// packHighBits gathers the high bit of each byte of m, which has no other
// bit set, into its low 8 bits, the first byte's lowest: the multiply
// moves each byte's bit into the top byte at its own place. Byte k's bit,
// shifted to 8k, times the magic's bit 7j+7 lands at 56+k for j = 7-k;
// no two of the 64 products land on one bit (8k+7j = 8k'+7j' only for
// k = k', j = j'), so nothing carries.
func packHighBits(m uint64) uint64 {
	return (m >> 7) * 0x0102040810204080 >> 56
}

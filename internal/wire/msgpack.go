package wire

import "fmt"

// maxNesting bounds how deep arrays and maps nest in a message (as
// encoding/json does): far deeper than any data, far shallower than what
// overflows a goroutine's stack.
const maxNesting = 10000

// fixedSize is the size of a msgpack value that starts with each code and
// has a fixed size with no length field (0: any other code).
var fixedSize = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
			t[c] = 1
		case c == 0xcc || c == 0xd0:
			t[c] = 2
		case c == 0xcd || c == 0xd1:
			t[c] = 3
		case c == 0xca || c == 0xce || c == 0xd2:
			t[c] = 5
		case c == 0xcb || c == 0xcf || c == 0xd3:
			t[c] = 9
		}
	}
	return t
}()

// walkMsgpack checks that data is exactly one msgpack value whose lengths
// fit in data and whose containers nest at most maxNesting deep. It keeps
// its own stack, so nesting costs no recursion.
//
// It is one long function on purpose: it runs on every message before it
// is decoded, and each split tried (a walker type whose method reads one
// value's header; the same as a function passing the position by value)
// made the walk 1.3-1.5x slower on chunks of ints, strings and structs, a
// call per value in so tight a loop. The switch is a flat table of
// msgpack's codes, and all the state (pos, the stack of open containers)
// stays in this loop. Runs of fixed-size values skip the switch (a table
// lookup each): 2-3x faster on a chunk of int64s.
func walkMsgpack(data []byte) error {
	var open []uint64 // per open container: values still to come
	pos := 0
	need := func(n uint64) ([]byte, error) {
		if n > uint64(len(data)-pos) {
			return nil, fmt.Errorf("at byte %d: a %d-byte field runs past the %d-byte message", pos, n, len(data))
		}
		b := data[pos : pos+int(n)]
		pos += int(n)
		return b, nil
	}
	length := func(size int) (uint64, error) {
		b, err := need(uint64(size))
		if err != nil {
			return 0, err
		}
		var n uint64
		for _, c := range b {
			n = n<<8 | uint64(c)
		}
		return n, nil
	}
	for {
		// A run of fixed-size values (numbers, nil, bools: a trivial map's
		// items) in the innermost container, skipped by table. The last
		// value of the container takes the general path, which closes it.
		if k := len(open) - 1; k >= 0 {
			left := open[k]
			for left > 1 && pos < len(data) {
				n := int(fixedSize[data[pos]])
				if n == 0 || n > len(data)-pos {
					break
				}
				pos += n
				left--
			}
			open[k] = left
		}
		if pos == len(data) {
			return fmt.Errorf("message ends inside a value at byte %d", pos)
		}
		at := pos
		c := data[pos]
		pos++
		var skip, values uint64 // bytes of payload; values of a container
		container := false
		var err error
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3: // fixints, nil, bools
		case c >= 0x80 && c <= 0x8f:
			values, container = 2*uint64(c&0x0f), true
		case c >= 0x90 && c <= 0x9f:
			values, container = uint64(c&0x0f), true
		case c >= 0xa0 && c <= 0xbf:
			skip = uint64(c & 0x1f)
		case c == 0xc4 || c == 0xd9: // bin8, str8
			skip, err = length(1)
		case c == 0xc5 || c == 0xda: // bin16, str16
			skip, err = length(2)
		case c == 0xc6 || c == 0xdb: // bin32, str32
			skip, err = length(4)
		case c >= 0xc7 && c <= 0xc9: // ext8, ext16, ext32: length, then a type byte
			skip, err = length(1 << (c - 0xc7))
			skip++
		case c == 0xca || c == 0xce || c == 0xd2: // 32-bit numbers
			skip = 4
		case c == 0xcb || c == 0xcf || c == 0xd3: // 64-bit numbers
			skip = 8
		case c == 0xcc || c == 0xd0:
			skip = 1
		case c == 0xcd || c == 0xd1:
			skip = 2
		case c >= 0xd4 && c <= 0xd8: // fixext 1, 2, 4, 8, 16, after a type byte
			skip = 1 + 1<<(c-0xd4)
		case c == 0xdc || c == 0xdd: // array16, array32
			values, err = length(2 << (c - 0xdc))
			container = true
		case c == 0xde || c == 0xdf: // map16, map32
			values, err = length(2 << (c - 0xde))
			values *= 2
			container = true
		default: // 0xc1 is never used
			return fmt.Errorf("at byte %d: unknown msgpack code %#x", at, c)
		}
		if err != nil {
			return err
		}
		if _, err := need(skip); err != nil {
			return err
		}
		if container && values > 0 {
			// Every value takes at least a byte: a count the rest of the
			// message cannot hold is a lie, refused before it is used.
			if values > uint64(len(data)-pos) {
				return fmt.Errorf("at byte %d: a container of %d values in the %d bytes left", at, values, len(data)-pos)
			}
			if len(open) == maxNesting {
				return fmt.Errorf("at byte %d: nested deeper than %d levels", at, maxNesting)
			}
			open = append(open, values)
			continue
		}
		// A value ended: it may end the containers it completes.
		for len(open) > 0 {
			open[len(open)-1]--
			if open[len(open)-1] > 0 {
				break
			}
			open = open[:len(open)-1]
		}
		if len(open) == 0 {
			if pos != len(data) {
				return fmt.Errorf("%d bytes after its end", len(data)-pos)
			}
			return nil
		}
	}
}

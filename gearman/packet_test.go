package gearman

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

func encode(t testing.TB, m Magic, pt PacketType, args ...string) []byte {
	t.Helper()
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	b, err := AppendPacket(nil, m, pt, bs...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPacketRoundTrip(t *testing.T) {
	for pt := PacketType(1); pt <= maxPacketType; pt++ {
		s, ok := pt.spec()
		if !ok {
			continue
		}
		args := make([]string, s.args)
		for i := range args {
			args[i] = strings.Repeat(string(rune('a'+i)), i+1)
		}
		if s.args > 0 {
			args[s.args-1] = "data\x00with\x00nuls"
		}
		m := MagicReq
		if !s.req {
			m = MagicRes
		}
		b := encode(t, m, pt, args...)
		p, err := NewPacketReader(bytes.NewReader(b), 0).ReadPacket()
		if err != nil {
			t.Fatalf("%s: %v", pt, err)
		}
		if p.Type != pt || p.Magic != m || len(p.Args) != s.args {
			t.Fatalf("%s: got %v with %d args", pt, p, len(p.Args))
		}
		for i := range args {
			if p.Arg(i) != args[i] {
				t.Fatalf("%s arg %d: got %q, want %q", pt, i, p.Arg(i), args[i])
			}
		}
	}
}

func TestPacketReaderStream(t *testing.T) {
	var b []byte
	b = append(b, encode(t, MagicRes, JobCreated, "H:1")...)
	b = append(b, encode(t, MagicRes, WorkComplete, "H:1", "")...)
	b = append(b, encode(t, MagicRes, Noop)...)
	// One byte at a time: ReadPacket must assemble whole packets.
	pr := NewPacketReader(io.MultiReader(oneByteReaders(b)...), 0)
	want := []PacketType{JobCreated, WorkComplete, Noop}
	for _, w := range want {
		p, err := pr.ReadPacket()
		if err != nil || p.Type != w {
			t.Fatalf("got %v, %v; want %s", p, err, w)
		}
	}
	if _, err := pr.ReadPacket(); err != io.EOF {
		t.Fatalf("at end: %v, want io.EOF", err)
	}
}

func oneByteReaders(b []byte) []io.Reader {
	rs := make([]io.Reader, len(b))
	for i := range b {
		rs[i] = bytes.NewReader(b[i : i+1])
	}
	return rs
}

func header(m Magic, pt PacketType, size uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(m))
	b = binary.BigEndian.AppendUint32(b, uint32(pt))
	return binary.BigEndian.AppendUint32(b, size)
}

func TestPacketReaderRejects(t *testing.T) {
	tests := []struct {
		name  string
		input []byte
		max   int
		want  string
	}{
		{"text", []byte("status\n\n\n\n\n\n"), 0, "bad magic"},
		{"unknown type", header(MagicRes, 99, 0), 0, "unknown packet type 99"},
		{"type zero", header(MagicRes, 0, 0), 0, "unknown packet type 0"},
		{"wrong direction", header(MagicRes, SubmitJob, 0), 0, "SUBMIT_JOB is not a valid RES packet"},
		{"too large", header(MagicRes, WorkComplete, 1<<20), 1000, "over the 1000-byte limit"},
		{"missing args", append(header(MagicRes, JobAssignUniq, 3), "H:1"...), 0, "needs 4 arguments, found 1"},
		{"body on empty packet", append(header(MagicRes, Noop, 1), 'x'), 0, "takes no arguments"},
		{"short header", header(MagicRes, Noop, 0)[:7], 0, "inside a packet header"},
		{"short body", append(header(MagicRes, JobCreated, 10), "H:1"...), 0, "inside a 10-byte JOB_CREATED body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPacketReader(bytes.NewReader(tt.input), tt.max).ReadPacket()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("%v does not wrap ErrProtocol", err)
			}
		})
	}
	var tooLarge *PacketTooLargeError
	_, err := NewPacketReader(bytes.NewReader(header(MagicRes, WorkData, 5000)), 10).ReadPacket()
	if !errors.As(err, &tooLarge) || tooLarge.Size != 5000 || tooLarge.Type != WorkData {
		t.Fatalf("got %v, want *PacketTooLargeError for 5000 bytes", err)
	}
}

func TestAppendPacketRejects(t *testing.T) {
	if _, err := AppendPacket(nil, MagicReq, SubmitJob, []byte("f")); err == nil {
		t.Fatal("wrong argument count accepted")
	}
	if _, err := AppendPacket(nil, MagicReq, SubmitJob, []byte("f\x00"), nil, nil); err == nil {
		t.Fatal("NUL in a non-final argument accepted")
	}
	if _, err := AppendPacket(nil, MagicReq, 77); err == nil {
		t.Fatal("unknown type accepted")
	}
}

// FuzzPacketReader feeds arbitrary bytes to the decoder, with a large and
// a tiny size limit: it must never panic, whatever it accepts must encode
// back to the same bytes, and after an oversize job packet it skips, the
// next packet must start right after it.
func FuzzPacketReader(f *testing.F) {
	f.Add(encode(f, MagicRes, JobAssignUniq, "H:1", "fn", "u", "data"))
	f.Add(encode(f, MagicReq, SubmitJobEpoch, "fn", "u", "123", "x\x00y"))
	f.Add(encode(f, MagicRes, Noop))
	f.Add([]byte("workers\n"))
	f.Add(header(MagicRes, WorkComplete, 0xFFFFFFFF))
	f.Add(append(encode(f, MagicRes, WorkComplete, "H:1", strings.Repeat("d", 40)), encode(f, MagicRes, WorkData, "H:1", "x")...))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, max := range []int{1 << 16, 16} {
			pr := NewPacketReader(bytes.NewReader(b), max)
			offset := 0 // where the next packet starts in b
			for {
				p, err := pr.ReadPacket()
				var tooLarge *PacketTooLargeError
				if errors.As(err, &tooLarge) && tooLarge.Skipped {
					head := b[offset+headerSize:]
					for _, a := range tooLarge.Head {
						if !bytes.HasPrefix(head, append(a, 0)) {
							t.Fatalf("skipped %s at byte %d: head %q does not match the input", tooLarge.Type, offset, tooLarge.Head)
						}
						head = head[len(a)+1:]
					}
					if len(tooLarge.Head) != tooLarge.Type.NumArgs()-1 || tooLarge.Size <= uint64(max) || errors.Is(err, ErrProtocol) {
						t.Fatalf("bad skip: %+v", tooLarge)
					}
					offset += headerSize + int(tooLarge.Size)
					continue
				}
				if err != nil {
					break
				}
				enc, encErr := AppendPacket(nil, p.Magic, p.Type, p.Args...)
				if encErr != nil {
					t.Fatalf("decoded %v does not encode: %v", p, encErr)
				}
				if !bytes.HasPrefix(b[offset:], enc) {
					t.Fatalf("%v at byte %d re-encodes differently from the input", p, offset)
				}
				offset += len(enc)
			}
		}
	})
}

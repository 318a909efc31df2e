package auth

import (
	"bytes"
	"encoding/json"
	"testing"
)

// fuzzKey is fixed so that the corpus holds envelopes it really sealed.
var fuzzKey = func() *Key {
	k, err := ParseKey([]byte(keyFileHeader + "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="))
	if err != nil {
		panic(err)
	}
	return k
}()

// FuzzOpenJSON: whatever arrives, OpenJSON does not panic, and it accepts
// nothing but an envelope the key sealed, returning exactly its body.
func FuzzOpenJSON(f *testing.F) {
	good, _ := fuzzKey.SealJSON(PurposeCommand, []byte(`{"name":"quit"}`))
	f.Add(good)
	f.Add([]byte(`{"name":"quit"}`))
	f.Add([]byte(`{"glimpse_sealed":"v1","key":"","body":"","mac":""}`))
	f.Add(bytes.Replace(good, []byte("quit"), []byte("ping"), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		body, err := fuzzKey.OpenJSON(PurposeCommand, data)
		if err != nil {
			return
		}
		resealed, _ := fuzzKey.SealJSON(PurposeCommand, body)
		again, err := fuzzKey.OpenJSON(PurposeCommand, resealed)
		if err != nil || !bytes.Equal(again, body) {
			t.Fatalf("accepted %q, whose body does not survive a reseal", data)
		}
		if !fuzzKey.Verify(PurposeCommand, macOf(t, data), body) {
			t.Fatalf("accepted %q without a valid MAC", data)
		}
	})
}

func macOf(t *testing.T, data []byte) []byte {
	var env sealedJSON
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatalf("accepted an envelope that does not parse: %v", err)
	}
	return env.MAC
}

// FuzzOpen: a binary frame opens only with the tag the key made for it:
// whatever is accepted, changing any one byte of it is refused.
func FuzzOpen(f *testing.F) {
	f.Add(fuzzKey.Seal(PurposeChunk, []byte("\x02payload"), []byte("fn"), []byte("u")))
	f.Add([]byte{frameMagic})
	f.Add([]byte("\x02payload"))
	f.Fuzz(func(t *testing.T, frame []byte) {
		payload, err := fuzzKey.Open(PurposeChunk, frame, []byte("fn"), []byte("u"))
		if err != nil {
			return
		}
		if !bytes.Equal(payload, frame[FrameOverhead:]) {
			t.Fatalf("accepted %x with payload %x", frame, payload)
		}
		for i := range frame {
			bad := bytes.Clone(frame)
			bad[i] ^= 0x01
			if _, err := fuzzKey.Open(PurposeChunk, bad, []byte("fn"), []byte("u")); err == nil {
				t.Fatalf("accepted %x and also %x, one byte (%d) changed", frame, bad, i)
			}
		}
	})
}

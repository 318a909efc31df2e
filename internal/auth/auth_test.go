package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func newKey(t testing.TB) *Key {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyFileRoundTripIsPrivate(t *testing.T) {
	k := newKey(t)
	path := filepath.Join(t.TempDir(), "cluster.key")
	if err := k.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	got, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID() != k.ID() || got.secret != k.secret {
		t.Errorf("loaded key %s differs from written key %s", got.ID(), k.ID())
	}
	if err := k.WriteFile(path); err == nil {
		t.Error("WriteFile overwrote an existing key file")
	}
}

func TestLoadKeyRefusesFilesOthersCanReach(t *testing.T) {
	dir := t.TempDir()
	k := newKey(t)
	good := filepath.Join(dir, "good.key")
	if err := k.WriteFile(good); err != nil {
		t.Fatal(err)
	}
	readable := filepath.Join(dir, "readable.key")
	text, _ := k.MarshalText()
	if err := os.WriteFile(readable, text, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(readable, 0o644) // whatever the umask
	link := filepath.Join(dir, "link.key")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{readable, link} {
		_, err := LoadKey(path)
		var pe *PermissionError
		if !errors.As(err, &pe) || pe.Path != path {
			t.Errorf("LoadKey(%s) = %v, want a *PermissionError naming the file", filepath.Base(path), err)
		}
	}
	notKey := filepath.Join(dir, "config.ini")
	os.WriteFile(notKey, []byte("[client]\n"), 0o600)
	if _, err := LoadKey(notKey); !errors.Is(err, ErrBadKeyFile) {
		t.Errorf("LoadKey(config.ini) = %v, want ErrBadKeyFile", err)
	}
	if k, err := LoadKeyFile(""); k != nil || err != nil {
		t.Errorf("LoadKeyFile(\"\") = %v, %v; want no key and no error", k, err)
	}
}

func TestWriteFileDoesNotFollowSymlinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	link := filepath.Join(dir, "cluster.key")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := newKey(t).WriteFile(link); err == nil {
		t.Fatal("WriteFile wrote through a planted symbolic link")
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the link's target was created: %v", err)
	}
}

func TestSealJSONRefusesWhatTheKeyDidNotSeal(t *testing.T) {
	k, other := newKey(t), newKey(t)
	body := []byte(`{"name":"quit","id":"1"}`)
	sealed, err := k.SealJSON(PurposeCommand, body)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.OpenJSON(PurposeCommand, sealed); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("OpenJSON = %q, %v; want the body", got, err)
	}
	var env sealedJSON
	json.Unmarshal(sealed, &env)
	env.Body = []byte(`{"name":"quit","id":"2"}`)
	tampered, _ := json.Marshal(env)
	otherSealed, _ := other.SealJSON(PurposeCommand, body)
	for _, tc := range []struct {
		name string
		key  *Key
		p    Purpose
		data []byte
		want error
	}{
		{"unsigned", k, PurposeCommand, body, ErrUnsigned},
		{"tampered", k, PurposeCommand, tampered, ErrForged},
		{"another purpose", k, PurposeReply, sealed, ErrForged},
		{"another key", k, PurposeCommand, otherSealed, ErrWrongKey},
		{"no key here", nil, PurposeCommand, sealed, ErrNoKey},
		{"not JSON", k, PurposeCommand, []byte(`{"glimpse_sealed": [`), ErrMalformed},
	} {
		_, err := tc.key.OpenJSON(tc.p, tc.data)
		var re *RefusedError
		if !errors.Is(err, tc.want) || !errors.As(err, &re) || re.Purpose != tc.p {
			t.Errorf("%s: OpenJSON = %v, want a *RefusedError for %s wrapping %v", tc.name, err, tc.p, tc.want)
		}
	}
	var none *Key
	if got, err := none.OpenJSON(PurposeCommand, body); err != nil || !bytes.Equal(got, body) {
		t.Errorf("without a key OpenJSON = %q, %v; want the data unchanged", got, err)
	}
}

func TestSealBindsThePayloadToItsJob(t *testing.T) {
	k := newKey(t)
	payload := []byte("\x02items")
	frame := k.Seal(PurposeChunk, payload, []byte("glimpse.square"), []byte("map-1"))
	if len(frame) != len(payload)+FrameOverhead {
		t.Fatalf("frame is %d bytes, want %d", len(frame), len(payload)+FrameOverhead)
	}
	got, err := k.Open(PurposeChunk, frame, []byte("glimpse.square"), []byte("map-1"))
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	for name, open := range map[string]func() error{
		"another job": func() error {
			_, err := k.Open(PurposeChunk, frame, []byte("glimpse.square"), []byte("map-2"))
			return err
		},
		"another function": func() error {
			_, err := k.Open(PurposeChunk, frame, []byte("glimpse.cube"), []byte("map-1"))
			return err
		},
		"as a result": func() error {
			_, err := k.Open(PurposeResult, frame, []byte("glimpse.square"), []byte("map-1"))
			return err
		},
		"bit flipped": func() error {
			bad := bytes.Clone(frame)
			bad[len(bad)-1] ^= 1
			_, err := k.Open(PurposeChunk, bad, []byte("glimpse.square"), []byte("map-1"))
			return err
		},
	} {
		if err := open(); !errors.Is(err, ErrForged) {
			t.Errorf("%s: Open = %v, want ErrForged", name, err)
		}
	}
	if _, err := k.Open(PurposeChunk, payload); !errors.Is(err, ErrUnsigned) {
		t.Errorf("Open(unsigned) = %v, want ErrUnsigned", err)
	}
	var none *Key
	if _, err := none.Open(PurposeChunk, frame); !errors.Is(err, ErrNoKey) {
		t.Errorf("Open without a key = %v, want ErrNoKey", err)
	}
}

func TestReplayGuardLetsEachCommandThroughOnce(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	g := &ReplayGuard{MaxTTL: time.Hour, Skew: time.Minute, MaxEntries: 3}
	if err := g.Admit("a", now, now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		id            string
		sent, expires time.Time
		at            time.Time
		want          error
	}{
		{"replay", "a", now, now.Add(time.Minute), now.Add(time.Second), ErrReplayed},
		{"expired", "b", now, now.Add(time.Minute), now.Add(2 * time.Minute), ErrExpired},
		{"sent in the future", "c", now.Add(time.Hour), now.Add(2 * time.Hour), now, ErrTooFresh},
		{"valid for too long", "d", now, now.Add(48 * time.Hour), now, ErrLongLived},
	} {
		if err := g.Admit(tc.id, tc.sent, tc.expires, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: Admit = %v, want %v", tc.name, err, tc.want)
		}
	}
	g.Admit("e", now, now.Add(time.Minute), now)
	g.Admit("f", now, now.Add(time.Minute), now)
	if err := g.Admit("g", now, now.Add(time.Minute), now); !errors.Is(err, ErrGuardFull) {
		t.Errorf("Admit past MaxEntries = %v, want ErrGuardFull", err)
	}
	later := now.Add(2 * time.Minute)
	if err := g.Admit("g", later, later.Add(time.Minute), later); err != nil {
		t.Errorf("Admit after the others expired = %v; expired ids must be forgotten", err)
	}
	if g.Seen("a", later) || !g.Seen("g", later) {
		t.Error("Seen does not match what was admitted and is still valid")
	}
}

func TestDeriveSeparatesLabelsAndKeys(t *testing.T) {
	k, other := newKey(t), newKey(t)
	if k.Derive("server") == k.Derive("client") || k.Derive("server") != k.Derive("server") ||
		k.Derive("server") == other.Derive("server") {
		t.Error("Derive is not a function of (key, label) only")
	}
}

func TestRefusalsPaceTheLog(t *testing.T) {
	r := Refusals{Every: time.Second}
	now := time.Now()
	var logged []int64
	for i := range 10 {
		if log, skipped, _ := r.Add(now.Add(time.Duration(i) * 300 * time.Millisecond)); log {
			logged = append(logged, skipped)
		}
	}
	// At 0, 1.2 s (3 skipped), 2.4 s (3 skipped): 10 refusals, 3 logs.
	if want := []int64{0, 3, 3}; !slices.Equal(logged, want) || r.Total() != 10 {
		t.Errorf("logged with skipped counts %v (total %d), want %v (total 10)", logged, r.Total(), want)
	}
}

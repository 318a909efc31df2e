package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a delivery.
const (
	HeaderSignature = "X-Glimpse-Signature"
	HeaderTaskID    = "X-Glimpse-Task-Id"
	HeaderQueue     = "X-Glimpse-Queue"
	HeaderAttempt   = "X-Glimpse-Attempt"
	// HeaderMiyamotoTaskID is the task id header of Miyamoto's README,
	// sent too, so that its receivers work unchanged.
	HeaderMiyamotoTaskID = "X-Task-Id"
)

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock: older (or newer) signed calls are refused as replays.
const DefaultTolerance = 5 * time.Minute

// MaxVerifyBody is the largest body VerifyRequest reads.
const MaxVerifyBody = 10 << 20

// The reasons Verify refuses a call; each error it returns wraps one.
var (
	ErrNoSignature  = errors.New("webhook: no " + HeaderSignature + " header, or no t= or v1= in it")
	ErrBadSignature = errors.New("webhook: the signature does not match the secret and the body")
	ErrTimestamp    = errors.New("webhook: the signature's timestamp is outside the tolerance (a replay, or a clock off)")
)

// Sign returns the X-Glimpse-Signature header value for payload sent at
// t: "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<unix seconds>." + payload>".
// The payload is a POST's body, or a GET's raw query string (without
// the '?').
func Sign(secret []byte, t time.Time, payload []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, payload))
}

func mac(secret []byte, ts string, payload []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(payload)
	return m.Sum(nil)
}

// Verify checks header (an X-Glimpse-Signature value) against secret
// and payload, and that its timestamp is within tolerance of now (0:
// DefaultTolerance). Any of several v1= values may match, so a sender
// may sign with an old and a new secret while they are rotated.
func Verify(secret []byte, header string, payload []byte, tolerance time.Duration) error {
	ts, sigs := parseSignature(header)
	if ts == "" || len(sigs) == 0 {
		return ErrNoSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: t=%q", ErrNoSignature, ts)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if skew := time.Since(time.Unix(sec, 0)); skew > tolerance || skew < -tolerance {
		return fmt.Errorf("%w: signed at %s, %s from now, tolerance %s", ErrTimestamp,
			time.Unix(sec, 0).UTC().Format(time.RFC3339), skew.Round(time.Second), tolerance)
	}
	want := mac(secret, ts, payload)
	for _, s := range sigs {
		if got, err := hex.DecodeString(s); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrBadSignature
}

// parseSignature splits "t=...,v1=...,v1=..." into the timestamp and the
// v1 signatures; unknown schemes are skipped, as Stripe's are.
func parseSignature(header string) (ts string, v1 []string) {
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = append(v1, v)
		}
	}
	return ts, v1
}

// VerifyRequest checks r's X-Glimpse-Signature with Verify and returns
// the signed payload: the body of a POST (read, at most MaxVerifyBody
// bytes, and put back, so that r.ParseForm or a JSON decoder still sees
// it), the raw query of a GET.
func VerifyRequest(r *http.Request, secret []byte, tolerance time.Duration) ([]byte, error) {
	var payload []byte
	if r.Method == http.MethodGet || r.Body == nil || r.Body == http.NoBody {
		payload = []byte(r.URL.RawQuery)
	} else {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxVerifyBody+1))
		r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("webhook: read the body: %w", err)
		}
		if len(body) > MaxVerifyBody {
			return nil, fmt.Errorf("webhook: the body is over %d bytes", MaxVerifyBody)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		payload = body
	}
	return payload, Verify(secret, r.Header.Get(HeaderSignature), payload, tolerance)
}

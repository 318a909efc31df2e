package gearman

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/glimpse-go/glimpse/internal/nozero"
)

// Magic says which way a packet travels: requests go to the job server,
// responses come from it.
type Magic uint32

// The two magic codes of the binary protocol ("\0REQ" and "\0RES").
const (
	MagicReq Magic = 0x00524551
	MagicRes Magic = 0x00524553
)

func (m Magic) String() string {
	switch m {
	case MagicReq:
		return "REQ"
	case MagicRes:
		return "RES"
	}
	return fmt.Sprintf("Magic(%#08x)", uint32(m))
}

// PacketType is the command code of a binary packet.
type PacketType uint32

// Packet types of the Gearman binary protocol (gearman.org/protocol).
const (
	CanDo             PacketType = 1
	CantDo            PacketType = 2
	ResetAbilities    PacketType = 3
	PreSleep          PacketType = 4
	Noop              PacketType = 6
	SubmitJob         PacketType = 7
	JobCreated        PacketType = 8
	GrabJob           PacketType = 9
	NoJob             PacketType = 10
	JobAssign         PacketType = 11
	WorkStatus        PacketType = 12
	WorkComplete      PacketType = 13
	WorkFail          PacketType = 14
	GetStatus         PacketType = 15
	EchoReq           PacketType = 16
	EchoRes           PacketType = 17
	SubmitJobBg       PacketType = 18
	Error             PacketType = 19
	StatusRes         PacketType = 20
	SubmitJobHigh     PacketType = 21
	SetClientID       PacketType = 22
	CanDoTimeout      PacketType = 23
	AllYours          PacketType = 24
	WorkException     PacketType = 25
	OptionReq         PacketType = 26
	OptionRes         PacketType = 27
	WorkData          PacketType = 28
	WorkWarning       PacketType = 29
	GrabJobUniq       PacketType = 30
	JobAssignUniq     PacketType = 31
	SubmitJobHighBg   PacketType = 32
	SubmitJobLow      PacketType = 33
	SubmitJobLowBg    PacketType = 34
	SubmitJobSched    PacketType = 35
	SubmitJobEpoch    PacketType = 36
	SubmitReduceJob   PacketType = 37
	SubmitReduceJobBg PacketType = 38
	GrabJobAll        PacketType = 39
	JobAssignAll      PacketType = 40
	GetStatusUnique   PacketType = 41
	StatusResUnique   PacketType = 42
	maxPacketType     PacketType = 42
)

// DefaultMaxPacketSize bounds a packet body when no other limit is set. It is
// above gearmand's own 64 MiB job limit so that any job gearmand accepts can
// be read.
const DefaultMaxPacketSize = 128 << 20

const headerSize = 12

// packetSpec is what the protocol says about one packet type: its name,
// how many NUL-separated arguments it has (the last one may itself contain
// NULs: it is the opaque data), and which directions may carry it.
type packetSpec struct {
	name     string
	args     int
	req, res bool
}

var packetSpecs = [maxPacketType + 1]packetSpec{
	CanDo:             {"CAN_DO", 1, true, false},
	CantDo:            {"CANT_DO", 1, true, false},
	ResetAbilities:    {"RESET_ABILITIES", 0, true, false},
	PreSleep:          {"PRE_SLEEP", 0, true, false},
	Noop:              {"NOOP", 0, false, true},
	SubmitJob:         {"SUBMIT_JOB", 3, true, false},
	JobCreated:        {"JOB_CREATED", 1, false, true},
	GrabJob:           {"GRAB_JOB", 0, true, false},
	NoJob:             {"NO_JOB", 0, false, true},
	JobAssign:         {"JOB_ASSIGN", 3, false, true},
	WorkStatus:        {"WORK_STATUS", 3, true, true},
	WorkComplete:      {"WORK_COMPLETE", 2, true, true},
	WorkFail:          {"WORK_FAIL", 1, true, true},
	GetStatus:         {"GET_STATUS", 1, true, false},
	EchoReq:           {"ECHO_REQ", 1, true, false},
	EchoRes:           {"ECHO_RES", 1, false, true},
	SubmitJobBg:       {"SUBMIT_JOB_BG", 3, true, false},
	Error:             {"ERROR", 2, false, true},
	StatusRes:         {"STATUS_RES", 5, false, true},
	SubmitJobHigh:     {"SUBMIT_JOB_HIGH", 3, true, false},
	SetClientID:       {"SET_CLIENT_ID", 1, true, false},
	CanDoTimeout:      {"CAN_DO_TIMEOUT", 2, true, false},
	AllYours:          {"ALL_YOURS", 0, true, false},
	WorkException:     {"WORK_EXCEPTION", 2, true, true},
	OptionReq:         {"OPTION_REQ", 1, true, false},
	OptionRes:         {"OPTION_RES", 1, false, true},
	WorkData:          {"WORK_DATA", 2, true, true},
	WorkWarning:       {"WORK_WARNING", 2, true, true},
	GrabJobUniq:       {"GRAB_JOB_UNIQ", 0, true, false},
	JobAssignUniq:     {"JOB_ASSIGN_UNIQ", 4, false, true},
	SubmitJobHighBg:   {"SUBMIT_JOB_HIGH_BG", 3, true, false},
	SubmitJobLow:      {"SUBMIT_JOB_LOW", 3, true, false},
	SubmitJobLowBg:    {"SUBMIT_JOB_LOW_BG", 3, true, false},
	SubmitJobSched:    {"SUBMIT_JOB_SCHED", 8, true, false},
	SubmitJobEpoch:    {"SUBMIT_JOB_EPOCH", 4, true, false},
	SubmitReduceJob:   {"SUBMIT_REDUCE_JOB", 4, true, false},
	SubmitReduceJobBg: {"SUBMIT_REDUCE_JOB_BACKGROUND", 4, true, false},
	GrabJobAll:        {"GRAB_JOB_ALL", 0, true, false},
	JobAssignAll:      {"JOB_ASSIGN_ALL", 5, false, true},
	GetStatusUnique:   {"GET_STATUS_UNIQUE", 1, true, false},
	StatusResUnique:   {"STATUS_RES_UNIQUE", 6, false, true},
}

func (t PacketType) spec() (packetSpec, bool) {
	if t == 0 || t > maxPacketType || packetSpecs[t].name == "" {
		return packetSpec{}, false
	}
	return packetSpecs[t], true
}

func (t PacketType) String() string {
	if s, ok := t.spec(); ok {
		return s.name
	}
	return "PacketType(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// NumArgs is how many arguments a packet of this type has, or -1 for an
// unknown type.
func (t PacketType) NumArgs() int {
	if s, ok := t.spec(); ok {
		return s.args
	}
	return -1
}

// Packet is one binary protocol packet. Args holds exactly NumArgs
// arguments; the last may contain NUL bytes.
type Packet struct {
	Magic Magic
	Type  PacketType
	Args  [][]byte
}

// Arg returns argument i as a string ("" if absent).
func (p *Packet) Arg(i int) string {
	if i < len(p.Args) {
		return string(p.Args[i])
	}
	return ""
}

func (p *Packet) String() string {
	return p.Magic.String() + " " + p.Type.String()
}

// ErrProtocol is wrapped by every error about a malformed packet.
var ErrProtocol = errors.New("gearman: protocol error")

// PacketTooLargeError reports a packet whose size is over a limit: one
// declared in a header the reader read, or one a Client refused to send.
//
// A job packet (JOB_ASSIGN*, WORK_COMPLETE, WORK_EXCEPTION, WORK_DATA,
// WORK_WARNING, SUBMIT_JOB*) over the reader's limit is skipped: its body
// is read and dropped, Skipped is set and Head holds its arguments before
// the data (the job handle, or the function name, first). The stream is
// still in step, so the one job can be failed and the connection kept.
// Any other oversize packet, or one whose head cannot be read, leaves the
// stream unusable; only such an error wraps ErrProtocol.
type PacketTooLargeError struct {
	Type      PacketType
	Size, Max uint64
	Skipped   bool
	Head      [][]byte

	broken string // why the stream is unusable (a skip that failed)
	fatal  bool   // the stream is unusable
}

func (e *PacketTooLargeError) Error() string {
	s := fmt.Sprintf("%s packet of %d bytes is over the %d-byte limit", e.Type, e.Size, e.Max)
	if e.broken != "" {
		s += ": " + e.broken
	}
	return s
}

// Unwrap returns ErrProtocol when the stream the packet came from cannot
// be used any more.
func (e *PacketTooLargeError) Unwrap() error {
	if e.fatal {
		return ErrProtocol
	}
	return nil
}

// AppendPacket appends the encoding of a packet to dst. It returns an error
// if the argument count is wrong for the type or a non-final argument holds
// a NUL byte, since either would make the packet mean something else.
func AppendPacket(dst []byte, m Magic, t PacketType, args ...[]byte) ([]byte, error) {
	out, err := appendPacketHead(dst, m, t, args...)
	if err != nil {
		return dst, err
	}
	if len(args) > 0 {
		out = append(out, args[len(args)-1]...)
	}
	return out, nil
}

// appendPacketHead is AppendPacket but for the last argument's bytes: the
// header (whose size counts them) and the arguments before them, so that
// a large last argument can be written from where it is.
func appendPacketHead(dst []byte, m Magic, t PacketType, args ...[]byte) ([]byte, error) {
	return appendPacketHeadMore(dst, m, t, 0, args...)
}

// appendPacketHeadMore is appendPacketHead for a packet whose data, the
// last argument, goes on for more bytes beyond args (written from where
// they are: WithMoreData, Job.SetMoreResult).
func appendPacketHeadMore(dst []byte, m Magic, t PacketType, more int, args ...[]byte) ([]byte, error) {
	s, ok := t.spec()
	if !ok {
		return dst, fmt.Errorf("%w: cannot encode unknown packet type %d", ErrProtocol, uint32(t))
	}
	if len(args) != s.args {
		return dst, fmt.Errorf("%w: %s takes %d arguments, got %d", ErrProtocol, s.name, s.args, len(args))
	}
	size := more
	for i, a := range args {
		if i < len(args)-1 && bytes.IndexByte(a, 0) >= 0 {
			return dst, fmt.Errorf("%w: %s argument %d contains a NUL byte", ErrProtocol, s.name, i)
		}
		size += len(a)
	}
	if len(args) > 1 {
		size += len(args) - 1
	}
	if uint64(size) > 0xFFFFFFFF {
		return dst, &PacketTooLargeError{Type: t, Size: uint64(size), Max: 0xFFFFFFFF}
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(m))
	dst = binary.BigEndian.AppendUint32(dst, uint32(t))
	dst = binary.BigEndian.AppendUint32(dst, uint32(size))
	for i, a := range args[:max(len(args)-1, 0)] {
		if i > 0 {
			dst = append(dst, 0)
		}
		dst = append(dst, a...)
	}
	if len(args) > 1 {
		dst = append(dst, 0)
	}
	return dst, nil
}

// PacketReader reads whole packets from a stream.
type PacketReader struct {
	r   *bufio.Reader
	max uint64
	hdr [headerSize]byte
}

// NewPacketReader returns a reader that rejects packets whose body is over
// max bytes (DefaultMaxPacketSize if max <= 0).
func NewPacketReader(r io.Reader, max int) *PacketReader {
	if max <= 0 {
		max = DefaultMaxPacketSize
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &PacketReader{r: br, max: uint64(max)}
}

// ReadPacket reads the next packet. The returned arguments are owned by the
// caller. An error leaves the stream unusable, and the caller must close
// the connection, except io.EOF at a packet boundary and a
// *PacketTooLargeError whose Skipped is set.
func (pr *PacketReader) ReadPacket() (*Packet, error) {
	// The magic is checked before the rest of the header is waited for: a
	// peer that is no Gearman server (a ZeroMQ port sends a 10-byte
	// greeting, then waits) is found at once.
	if _, err := io.ReadFull(pr.r, pr.hdr[:4]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: stream ended inside a packet header", ErrProtocol)
		}
		return nil, err
	}
	m := Magic(binary.BigEndian.Uint32(pr.hdr[0:4]))
	if m != MagicReq && m != MagicRes && looksLikeTLS(pr.hdr[:4]) {
		return nil, fmt.Errorf("%w: bad magic %q: %w", ErrProtocol, pr.hdr[0:4], ErrTLSRequired)
	}
	if m != MagicReq && m != MagicRes {
		return nil, fmt.Errorf("%w: bad magic %q (not a Gearman binary packet)", ErrProtocol, pr.hdr[0:4])
	}
	if _, err := io.ReadFull(pr.r, pr.hdr[4:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: stream ended inside a packet header", ErrProtocol)
		}
		return nil, err
	}
	t := PacketType(binary.BigEndian.Uint32(pr.hdr[4:8]))
	size := uint64(binary.BigEndian.Uint32(pr.hdr[8:12]))
	s, ok := t.spec()
	if !ok {
		return nil, fmt.Errorf("%w: unknown packet type %d", ErrProtocol, uint32(t))
	}
	if (m == MagicReq && !s.req) || (m == MagicRes && !s.res) {
		return nil, fmt.Errorf("%w: %s is not a valid %s packet", ErrProtocol, s.name, m)
	}
	if size > pr.max {
		return nil, pr.skip(t, s, size)
	}
	body := nozero.Bytes(int(size)) // ReadFull fills it, or it is dropped
	if _, err := io.ReadFull(pr.r, body); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: stream ended inside a %d-byte %s body", ErrProtocol, size, s.name)
		}
		return nil, err
	}
	args, err := splitArgs(body, s)
	if err != nil {
		return nil, err
	}
	return &Packet{Magic: m, Type: t, Args: args}, nil
}

// maxHead bounds the arguments before the data of a packet being skipped:
// handles, function names and unique ids are far shorter.
const maxHead = 64 << 10

// skippable says whether an oversize packet of type t can be dropped while
// the stream stays in step: a job's packets, whose last argument is the
// opaque data and whose first names the job.
func skippable(t PacketType) bool {
	switch t {
	case JobAssign, JobAssignUniq, JobAssignAll, WorkComplete, WorkException, WorkData, WorkWarning,
		SubmitJob, SubmitJobBg, SubmitJobHigh, SubmitJobHighBg, SubmitJobLow, SubmitJobLowBg,
		SubmitJobEpoch, SubmitJobSched, SubmitReduceJob, SubmitReduceJobBg:
		return true
	}
	return false
}

// skip reads the head of an oversize packet and drops the rest of its
// body, so that only one job is lost. It returns the error describing the
// packet: Skipped if the stream is still in step.
func (pr *PacketReader) skip(t PacketType, s packetSpec, size uint64) *PacketTooLargeError {
	e := &PacketTooLargeError{Type: t, Size: size, Max: pr.max, fatal: true}
	if !skippable(t) {
		return e
	}
	var head []byte
	left := size
	for len(e.Head) < s.args-1 {
		if len(head) >= maxHead || left == 0 {
			e.broken = fmt.Sprintf("its first %d arguments are not within its first %d bytes", s.args-1, min(uint64(maxHead), size))
			return e
		}
		b, err := pr.r.ReadByte()
		if err != nil {
			e.broken = "the stream ended inside it"
			return e
		}
		left--
		if b == 0 {
			e.Head = append(e.Head, head)
			head = nil
			continue
		}
		head = append(head, b)
	}
	if n, err := io.CopyN(io.Discard, pr.r, int64(left)); err != nil {
		e.broken = fmt.Sprintf("the stream ended %d bytes into it", size-left+uint64(n))
		return e
	}
	e.Skipped, e.fatal = true, false
	return e
}

func splitArgs(body []byte, s packetSpec) ([][]byte, error) {
	if s.args == 0 {
		if len(body) != 0 {
			return nil, fmt.Errorf("%w: %s takes no arguments but has a %d-byte body", ErrProtocol, s.name, len(body))
		}
		return nil, nil
	}
	args := make([][]byte, s.args)
	for i := 0; i < s.args-1; i++ {
		j := bytes.IndexByte(body, 0)
		if j < 0 {
			return nil, fmt.Errorf("%w: %s needs %d arguments, found %d", ErrProtocol, s.name, s.args, i+1)
		}
		args[i] = body[:j:j]
		body = body[j+1:]
	}
	args[s.args-1] = body
	return args, nil
}

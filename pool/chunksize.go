package pool

import (
	"reflect"
	"sync/atomic"

	"github.com/glimpse-go/glimpse/internal/wire"
)

// Automatic chunks (Chunksize(0)) are bounded by bytes as well as by
// item count: a chunk ends once its items' encoded size reaches
// targetChunkBytes, so 1 MB items travel a few at a time and 8-byte items
// in chunks of the count bound.
//
// targetChunkBytes: on two cores, 100 x 1 MB identity maps ran fastest
// with chunks of 2-4 MiB; much bigger chunks leave slots idle while one
// chunk crosses the job server, and hold more memory per chunk in flight.
// It also keeps an automatic chunk far under gearmand's packet limit
// (a 64 MiB job is accepted, not much more).
const targetChunkBytes = 4 << 20

// sampleStride: items of a type whose encoded size varies and cannot be
// read cheaply (structs, maps, slices of those) are measured by encoding
// them; after the first sampleAll items of a map only every sampleStride-th
// is, and stands for those in between.
const (
	sampleAll    = 64
	sampleStride = 16
)

// chunkSizer counts the encoded bytes of the items buffered for the next
// automatic chunk, and keeps the map's running bytes per item, which the
// chunk goroutines read to size their encoding buffers.
type chunkSizer[In any] struct {
	fixed int // > 0: every item encodes in at most this many bytes
	// countOnly: chunks are cut by count (Chunksize(n)); the sizes only
	// size encoding buffers, and the first sampleAll items tell enough.
	countOnly bool
	bytes     int // of the items buffered
	last      int // the size of the last item measured
	seen      int // items added
	sum       int64
	perItem   atomic.Int64 // running mean of an item's encoded size
}

// newChunkSizer measures items of type In: scalars by their largest
// msgpack size, strings and byte slices by their length, others by
// encoding (sampled).
func newChunkSizer[In any]() *chunkSizer[In] {
	s := &chunkSizer[In]{fixed: fixedSize(reflect.TypeFor[In]())}
	if s.fixed > 0 {
		s.perItem.Store(int64(s.fixed))
	}
	return s
}

// fixedSize is the largest msgpack size of a value of scalar type t; 0
// for other types.
func fixedSize(t reflect.Type) int {
	switch t.Kind() {
	case reflect.Bool:
		return 1
	case reflect.Int8, reflect.Uint8:
		return 2
	case reflect.Int16, reflect.Uint16:
		return 3
	case reflect.Int32, reflect.Uint32, reflect.Float32:
		return 5
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64, reflect.Uintptr, reflect.Float64:
		return 9
	}
	return 0
}

// resultBufferSize is the encoding buffer for a chunk's n results: their
// largest size for scalars (squares outgrow their inputs), else the
// chunk's own size.
func resultBufferSize[Out any](n, payload int) int {
	if f := fixedSize(reflect.TypeFor[Out]()); f > 0 {
		return n*f + 64
	}
	return payload
}

// maxPrealloc bounds the items a chunk's buffer is allocated for up front.
const maxPrealloc = 1 << 17

// size returns item's encoded size, measured or estimated.
func (s *chunkSizer[In]) size(item In) int {
	if s.fixed > 0 {
		return s.fixed
	}
	switch v := any(item).(type) {
	case []byte:
		return len(v) + 5
	case string:
		return len(v) + 5
	}
	if s.seen >= sampleAll && (s.countOnly || s.seen%sampleStride != 0) && s.last > 0 {
		return s.last
	}
	// An item that cannot be encoded fails its chunk's encoding, with its
	// error; here it only counts as small.
	data, err := wire.Encode(item)
	if err != nil {
		return 1
	}
	s.last = len(data) - 1
	return s.last
}

// add counts item into the buffered bytes and returns its size. A scalar
// type's size is known, and its running mean is fixed from the start.
func (s *chunkSizer[In]) add(item In) int {
	if s.fixed > 0 {
		s.bytes += s.fixed
		return s.fixed
	}
	n := s.size(item)
	s.bytes += n
	s.seen++
	s.sum += int64(n)
	s.perItem.Store(s.sum / int64(s.seen))
	return n
}

// itemsUpTo is about how many items take bytes, by the running mean.
func (s *chunkSizer[In]) itemsUpTo(bytes int) int {
	return bytes/max(int(s.perItem.Load()), 1) + 1
}

// encodedSize is the buffer to allocate for a chunk of n items: their
// running mean size, and room for the chunk's header.
func (s *chunkSizer[In]) encodedSize(n int) int {
	return n*int(s.perItem.Load()) + 256
}

// push buffers the next input item and launches the buffered items as a
// chunk once they reach the chunk size: for automatic chunks, the item
// count bound or targetChunkBytes, whichever comes first. An item that
// would take a non-empty buffer past targetChunkBytes launches the buffer
// before it, so an item larger than the target goes alone.
func (m *mapRun[In, Out]) push(item In) error {
	if m.sizer == nil {
		m.sizer = newChunkSizer[In]()
		m.sizer.countOnly = m.o.chunksize > 0
	}
	n := m.sizer.add(item)
	auto := m.o.chunksize == 0
	target := m.targetBytes()
	if auto && len(m.buf) > 0 && m.sizer.bytes > target {
		m.sizer.bytes = n
		if err := m.launchBuffered(); err != nil {
			return err
		}
	}
	if m.buf == nil { // allocated for the chunk's items, not grown to them
		m.buf = make([]In, 0, min(m.chunk, maxPrealloc, m.sizer.itemsUpTo(target)))
	}
	m.buf = append(m.buf, item)
	m.next++
	if len(m.buf) >= m.chunk || auto && m.sizer.bytes >= target {
		m.sizer.bytes = 0
		return m.launchBuffered()
	}
	return nil
}

// targetFoldedBytes is targetChunkBytes for a reduce's items of varying
// size (texts, records): folding them costs far more per byte than
// sending them (a word count tokenizes ~50 MB/s a core), so 4 MiB chunks
// left one slot folding the last of them alone while the others idled,
// and a reduce's result is one accumulator per chunk whatever its length.
const targetFoldedBytes = 1 << 20

// targetBytes is where push cuts an automatic chunk by bytes.
func (m *mapRun[In, Out]) targetBytes() int {
	if m.o.folded && m.sizer.fixed == 0 {
		return foldedTargetBytes(m.total, m.sizer.perItem.Load(), m.slots)
	}
	return targetChunkBytes
}

// foldedChunksPerSlot is how many chunks a reduce of items of varying
// size over an input of known length aims at per worker slot, and
// minFoldedChunkBytes the smallest chunk it cuts for that. With 1 MiB
// chunks a word count of 14.6 MB was 14 chunks on 2 slots, and the last
// one to start left the other slot idle for a tenth of the run; a
// chunk's table is small beside its text, so more, shorter chunks cost
// the client little.
const (
	foldedChunksPerSlot = 8
	minFoldedChunkBytes = 64 << 10
)

// foldedTargetBytes is a reduce's chunk size in bytes for total items
// (-1: unknown) of about perItem bytes each on slots worker slots: the
// input spread over foldedChunksPerSlot chunks per slot, within
// minFoldedChunkBytes and targetFoldedBytes.
func foldedTargetBytes(total int, perItem int64, slots int) int {
	if total <= 0 || slots <= 0 {
		return targetFoldedBytes
	}
	spread := int64(total) * perItem / int64(foldedChunksPerSlot*slots)
	return int(min(max(spread, minFoldedChunkBytes), targetFoldedBytes))
}

// chunkBufferSize is the encoding buffer for a chunk of items: for
// strings and byte slices their exact encoded size (cheap to add up),
// else their running mean size. The mean alone came up short for chunks
// of larger items than the map's average (whole files range from a few
// bytes to hundreds of KB), and regrowing the buffer was half of the
// client's cost of encoding a word count's chunks.
func (m *mapRun[In, Out]) chunkBufferSize(items []In) int {
	if n, ok := wire.ItemsSize(items); ok {
		return n + wire.ChunkHeaderSize(m.f.shapes.wireIn, m.f.shapes.wireOut)
	}
	return m.sizer.encodedSize(len(items))
}

// feedSlice launches a non-empty slice of scalar items as chunks of
// subslices, cut where push would cut them: at the chunk size and, for
// automatic chunks, at targetChunkBytes. The chunks share the caller's
// slice, which Map does not return before every chunk has ended.
func (m *mapRun[In, Out]) feedSlice(items []In) error {
	if err := m.start(); err != nil {
		return err
	}
	m.sizer = newChunkSizer[In]()
	per := m.chunk
	if m.o.chunksize == 0 {
		per = min(per, (targetChunkBytes+m.sizer.fixed-1)/m.sizer.fixed)
	}
	for len(items) > 0 {
		n := min(per, len(items))
		m.buf, items = items[:n:n], items[n:]
		m.next += n
		if err := m.launchBuffered(); err != nil {
			return err
		}
	}
	m.inputEnd = true
	return nil
}

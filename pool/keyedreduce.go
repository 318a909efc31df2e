package pool

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/glimpse-go/glimpse/internal/wire"
)

// A keyed reduce (word count, group-by) is a reduce whose accumulator is
// a table: each worker combines its chunk's pairs per key (map-side
// combine) and sends one table per chunk; the client merges the tables
// per key, in input order.

// KeyedReducer is a map function that emits key/value pairs and a
// combine of two values of a key, registered with RegisterKeyed.
type KeyedReducer[In any, K comparable, V any] struct {
	red *reduction[In, table[K, V]]
}

// Name is the name the reducer was registered under.
func (r KeyedReducer[In, K, V]) Name() string { return r.red.name() }

// Shapes returns the shapes that a client and a worker must agree on for
// the reducer's chunks: In's, and the fold's (its pairs' and its table's).
func (r KeyedReducer[In, K, V]) Shapes() (in, fold string) {
	if r.red == nil {
		return "", ""
	}
	return r.red.f.Shapes()
}

// pair is a key and its value, as a keyed reduce's function emits them.
type pair[K comparable, V any] struct {
	_msgpack struct{} `msgpack:",as_array"`
	Key      K
	Value    V
}

// RegisterKeyed makes a keyed map/reduce callable by name on the cluster
// (see ReduceByKey): fn is called on each item with an emit function for
// its key/value pairs, which it may call until it returns; combine joins
// two values of one key, a's before b's in input order (it must be
// associative, not commutative). Like Register it panics on an invalid or
// taken name, nil functions, and types msgpack cannot carry whole (K must
// also be a valid map key).
func RegisterKeyed[In any, K comparable, V any](name string, fn func(ctx context.Context, in In, emit func(K, V)) error,
	combine func(a, b V) V) KeyedReducer[In, K, V] {
	if combine == nil {
		panic(fmt.Sprintf("pool.RegisterKeyed(%q): nil combine", name))
	}
	k := &keyedFolder[In, K, V]{fn: fn, combine: combine}
	red := registerReduction(name, fn != nil, reflect.TypeFor[pair[K, V]](), reflect.TypeFor[map[K]V](), k.fold, k.merge)
	return KeyedReducer[In, K, V]{red: red}
}

// ReduceByKey runs the keyed reduce over items and returns each key's
// value, combined over every pair emitted for it. Errors, retries,
// cancellation, Progress and backup tasks are as for Reduce.
func ReduceByKey[In any, K comparable, V any](ctx context.Context, p *Pool, r KeyedReducer[In, K, V], items []In, opts ...MapOption) (map[K]V, error) {
	if r.red == nil {
		return nil, errZeroReducer
	}
	m, err := r.red.run(ctx, p, input[In]{seq: slices.Values(items), slice: items}, len(items), opts)
	return orEmpty(m, err)
}

// ReduceByKeySeq is ReduceByKey over a lazily read input, with memory
// bounded as ReduceSeq's (and by the number of distinct keys).
func ReduceByKeySeq[In any, K comparable, V any](ctx context.Context, p *Pool, r KeyedReducer[In, K, V], items iter.Seq[In], opts ...MapOption) (map[K]V, error) {
	if r.red == nil {
		return nil, errZeroReducer
	}
	m, err := r.red.run(ctx, p, input[In]{seq: items}, -1, opts)
	return orEmpty(m, err)
}

// orEmpty is a reduce's table; for a successful reduce of no items an
// empty map, not nil.
func orEmpty[K comparable, V any](t table[K, V], err error) (map[K]V, error) {
	if err != nil {
		return nil, err
	}
	t = t.mapped()
	if t.m == nil {
		t.m = map[K]V{}
	}
	return t.m, nil
}

// SortedByKey yields a keyed reduce's result in key order.
func SortedByKey[K cmp.Ordered, V any](m map[K]V) iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !yield(k, m[k]) {
				return
			}
		}
	}
}

// keyedFolder is a KeyedReducer's worker and client sides.
type keyedFolder[In any, K comparable, V any] struct {
	fn      func(ctx context.Context, in In, emit func(K, V)) error
	combine func(a, b V) V
	// keysSeen is how many keys the last chunk folded here had: the next
	// chunk's index is made that big, not grown to it.
	keysSeen atomic.Int64
	// indexes keeps the string indexes of chunks folded (see adder).
	indexes sync.Pool
}

// maxKeysHint bounds the index allocated ahead for a chunk's keys.
const maxKeysHint = 1 << 16

// fold runs fn on a chunk's items into one table (see reduction.fold): a
// panic of fn is the item's TaskError, and one of combine (which runs
// within fn's emit) the item's naming the chunk too. With a per-item
// deadline, an item's pairs are collected apart and added once it
// returned in time, so that a call left running adds nothing.
func (k *keyedFolder[In, K, V]) fold(ctx context.Context, items []In, first int, timeout time.Duration) (table[K, V], int, *TaskError) {
	var t table[K, V]
	add, release := t.adder(k.combine, int(k.keysSeen.Load()), &k.indexes)
	defer release()
	timed := registered[In, []pair[K, V]]{Func[In, []pair[K, V]]{fn: k.collect}}
	for i, item := range items {
		if i%ctxCheckItems == 0 && ctx.Err() != nil {
			return table[K, V]{}, i, &TaskError{Message: fmt.Sprintf("cancelled: %v", context.Cause(ctx))}
		}
		if timeout <= 0 {
			if te := k.call(ctx, item, add, &t, first, len(items)); te != nil {
				return table[K, V]{}, i, te
			}
			continue
		}
		pairs, te := timed.call(ctx, item, timeout)
		if te != nil {
			return table[K, V]{}, i, te
		}
		if te := addPairs(pairs, add); te != nil {
			return table[K, V]{}, i, combineFailed(te, first, len(items))
		}
	}
	if len(t.keys) == 0 {
		t = table[K, V]{m: map[K]V{}} // no pairs: an empty table, as before
	}
	k.keysSeen.Store(int64(min(len(t.keys), maxKeysHint)))
	return t, len(items), nil
}

// adder returns the function that adds a pair to t, a worker's table
// being built: its keys and values in slices, found by an index, so a
// key already in costs one lookup, not a lookup and an assignment. The
// index and the slices are made for sizeHint keys (the last chunk's
// count), not grown to them. A string key is copied into the table's
// arena when it is added (once per distinct key of a chunk): the keys a
// function emits are often substrings of its item (a word of a text),
// which the table would otherwise keep alive whole. release ends the
// adds: a string index goes back to indexes for the next chunk.
func (t *table[K, V]) adder(combine func(a, b V) V, sizeHint int, indexes *sync.Pool) (add func(K, V), release func()) {
	n := max(sizeHint, 256)
	t.keys, t.vals = make([]K, 0, n), make([]V, 0, n)
	t.arena = &keyArena{}
	if stringKind[K]() {
		return t.stringAdder(combine, takeStringIndex(indexes, n))
	}
	index := make(map[K]int, n)
	return func(key K, v V) {
		if i, ok := index[key]; ok {
			t.combine(combine, i, v)
			return
		}
		index[key] = len(t.keys)
		t.keys, t.vals = append(t.keys, key), append(t.vals, v)
	}, func() {}
}

// stringAdder is adder for string keys, found by index.
func (t *table[K, V]) stringAdder(combine func(a, b V) V, index *stringIndex) (add func(K, V), release func()) {
	keyAt := func(i int) string { return asString(t.keys[i]) }
	add = func(key K, v V) {
		i, added := index.place(asString(key), keyAt)
		if !added {
			t.combine(combine, i, v)
			return
		}
		key = cloneKey(t.arena, key, true)
		t.keys, t.vals = append(t.keys, key), append(t.vals, v)
	}
	return add, index.release
}

// combine combines v into the value at i, marked as combining (a panic
// there is combine's).
func (t *table[K, V]) combine(combine func(a, b V) V, i int, v V) {
	t.combining = true
	t.vals[i] = combine(t.vals[i], v)
	t.combining = false
}

// call runs fn on one item, its pairs going straight to add, which
// builds t; an error or a panic (of fn, or of combine in add) is a
// TaskError, a combine's naming the chunk of items first..first+n-1.
func (k *keyedFolder[In, K, V]) call(ctx context.Context, item In, add func(K, V), t *table[K, V], first, n int) (te *TaskError) {
	defer func() {
		if v := recover(); v != nil {
			te = panicError(v)
			if t.combining {
				t.combining = false
				te = combineFailed(te, first, n)
			}
		}
	}()
	if err := k.fn(ctx, item, add); err != nil {
		return &TaskError{Message: err.Error(), Code: declaredName(err)}
	}
	return nil
}

// collect runs fn on one item and returns its pairs.
func (k *keyedFolder[In, K, V]) collect(ctx context.Context, item In) ([]pair[K, V], error) {
	var pairs []pair[K, V]
	err := k.fn(ctx, item, func(key K, v V) { pairs = append(pairs, pair[K, V]{Key: key, Value: v}) })
	return pairs, err
}

// addPairs adds an item's pairs; a panicking combine is a TaskError.
func addPairs[K comparable, V any](pairs []pair[K, V], add func(K, V)) (te *TaskError) {
	defer func() {
		if v := recover(); v != nil {
			te = panicError(v)
		}
	}()
	for _, p := range pairs {
		add(p.Key, p.Value)
	}
	return nil
}

// merge adds table b, of a later chunk, into a: one lookup in a's index
// per key of b, whose table came as slices (see DecodeMsgpack), not a
// map made of it, then a lookup and an assignment in a's map. A string
// key new to a is copied into a's arena: b's keys are read in place from
// the message b came in, which a, kept to the end, must not keep alive.
func (k *keyedFolder[In, K, V]) merge(a, b table[K, V]) table[K, V] {
	a = a.indexed()
	if a.arena == nil {
		a.arena = &keyArena{}
	}
	inPlace := b.m == nil && stringKind[K]() // see decodeStringInts
	add := func(key K, v V) {
		if i, ok := a.index[key]; ok {
			a.vals[i] = k.combine(a.vals[i], v)
			return
		}
		key = cloneKey(a.arena, key, inPlace)
		a.index[key] = len(a.keys)
		a.keys, a.vals = append(a.keys, key), append(a.vals, v)
	}
	if b.m != nil {
		for key, v := range b.m {
			add(key, v)
		}
		return a
	}
	for i, key := range b.keys {
		add(key, b.vals[i])
	}
	return a
}

// table is a keyed reduce's accumulator, as a chunk sends it: a map,
// written and read by hand for string keys and integer values (word
// counts), since msgpack looks up a decoder for every value of a map by
// reflection, which was a third of a client's CPU adding word counts up.
//
// A worker builds its table as keys and values in slices (see adder),
// m nil, and sends them as the same msgpack map; the client reads such a
// map into slices too, and merges tables into slices with an index
// (merge), m nil until the result is handed out (mapped).
type table[K comparable, V any] struct {
	m    map[K]V
	keys []K
	vals []V
	// index finds a key in keys, in a client's merged table (merge).
	index map[K]int
	// combining: the worker's combine runs (adder), so that a panic
	// there is told from one of the map function's.
	combining bool
	// arena holds the copies of the string keys added by adder and merge
	// (a pointer: copies of a table append to the same blocks).
	arena *keyArena
}

// encodedSize is about the bytes of t's encoding, for its buffer: a
// string key's own and a header, an integer value of up to 9 bytes (a
// word count's of 1); other types grow the buffer as they come.
func (t table[K, V]) encodedSize() int {
	keyBytes := 0
	if t.arena != nil {
		keyBytes = t.arena.bytes
	}
	return 16 + keyBytes + 5*len(t.keys) + 9*len(t.vals)
}

// indexed is t as slices with an index, made from its map or slices.
func (t table[K, V]) indexed() table[K, V] {
	if t.index != nil {
		return t
	}
	if t.m != nil {
		keys, vals := make([]K, 0, len(t.m)), make([]V, 0, len(t.m))
		for k, v := range t.m {
			keys, vals = append(keys, k), append(vals, v)
		}
		t = table[K, V]{keys: keys, vals: vals}
	}
	t.index = make(map[K]int, len(t.keys))
	for i, k := range t.keys {
		t.index[k] = i // a key sent twice: its last value, as in a map
	}
	return t
}

// mapped is t with its map, made from its slices if it has none.
func (t table[K, V]) mapped() table[K, V] {
	if t.m != nil || t.keys == nil {
		return t
	}
	m := make(map[K]V, len(t.keys))
	for i, k := range t.keys {
		m[k] = t.vals[i]
	}
	return table[K, V]{m: m}
}

func (t table[K, V]) EncodeMsgpack(enc *msgpack.Encoder) error {
	if t.m == nil && t.keys != nil {
		return t.encodeSlices(enc)
	}
	switch m := any(t.m).(type) {
	case map[string]int:
		return encodeStringInts(enc, m)
	case map[string]int64:
		return encodeStringInts(enc, m)
	}
	return enc.Encode(t.m)
}

// encodeSlices writes a worker's table as the map it stands for.
func (t table[K, V]) encodeSlices(enc *msgpack.Encoder) error {
	switch keys := any(t.keys).(type) {
	case []string:
		switch vals := any(t.vals).(type) {
		case []int:
			return encodeStringIntSlices(enc, keys, vals)
		case []int64:
			return encodeStringIntSlices(enc, keys, vals)
		}
	}
	return enc.Encode(t.mapped().m)
}

// encodeStringIntSlices writes keys and vals as msgpack's map of them.
func encodeStringIntSlices[I int | int64](enc *msgpack.Encoder, keys []string, vals []I) error {
	if err := enc.EncodeMapLen(len(keys)); err != nil {
		return err
	}
	for i, k := range keys {
		if err := enc.EncodeString(k); err != nil {
			return err
		}
		if err := enc.EncodeInt(int64(vals[i])); err != nil {
			return err
		}
	}
	return nil
}

// DecodeMsgpack reads a table that EncodeMsgpack wrote; string keys and
// integer values as slices (the client merges them into its table, which
// a map of them would only slow down), others as a map.
func (t *table[K, V]) DecodeMsgpack(dec *msgpack.Decoder) error {
	switch keys := any(&t.keys).(type) {
	case *[]string:
		switch vals := any(&t.vals).(type) {
		case *[]int:
			return decodeStringInts(dec, keys, vals)
		case *[]int64:
			return decodeStringInts(dec, keys, vals)
		}
	}
	return dec.Decode(&t.m)
}

// encodeStringInts writes m as msgpack's map of it would be.
func encodeStringInts[I int | int64](enc *msgpack.Encoder, m map[string]I) error {
	if m == nil {
		return enc.EncodeNil()
	}
	if err := enc.EncodeMapLen(len(m)); err != nil {
		return err
	}
	for k, v := range m {
		if err := enc.EncodeString(k); err != nil {
			return err
		}
		if err := enc.EncodeInt(int64(v)); err != nil {
			return err
		}
	}
	return nil
}

// maxTablePrealloc bounds the entries a decoded table is allocated for
// before they come, so a hostile count allocates little, when the bytes
// left in the message do not bound them (wire.BytesLeft).
const maxTablePrealloc = 1 << 12

// decodeStringInts reads a map that encodeStringInts (or msgpack) wrote
// into keys and vals (nil for a nil map, empty for an empty one). The keys
// are read in place, strings over the message's bytes (a result's, which
// nothing writes to), not an allocation each: merge copies those it keeps.
func decodeStringInts[I int | int64](dec *msgpack.Decoder, keys *[]string, vals *[]I) error {
	n, err := dec.DecodeMapLen()
	if err != nil || n < 0 {
		*keys, *vals = nil, nil
		return err
	}
	prealloc := min(n, maxTablePrealloc)
	if left := wire.BytesLeft(dec); left >= 0 {
		prealloc = min(n, left/2) // a key and a value take a byte each at least
	}
	ks, vs := make([]string, 0, prealloc), make([]I, 0, prealloc)
	for range n {
		k, err := wire.DecodeStringInPlace(dec)
		if err != nil {
			return err
		}
		v, err := wire.DecodeInt64(dec)
		if err != nil {
			return err
		}
		ks, vs = append(ks, k), append(vs, I(v))
	}
	*keys, *vals = ks, vs
	return nil
}

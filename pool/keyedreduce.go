package pool

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"maps"
	"reflect"
	"slices"
	"time"
)

// A keyed reduce (word count, group-by) is a reduce whose accumulator is
// a table: each worker combines its chunk's pairs per key (map-side
// combine) and sends one table per chunk; the client merges the tables
// per key, in input order.

// KeyedReducer is a map function that emits key/value pairs and a
// combine of two values of a key, registered with RegisterKeyed.
type KeyedReducer[In any, K comparable, V any] struct {
	red *reduction[In, map[K]V]
}

// Name is the name the reducer was registered under.
func (r KeyedReducer[In, K, V]) Name() string { return r.red.name() }

// pair is a key and its value, as a keyed reduce's function emits them.
type pair[K comparable, V any] struct {
	_msgpack struct{} `msgpack:",as_array"`
	Key      K
	Value    V
}

// RegisterKeyed makes a keyed map/reduce callable by name on the cluster
// (see ReduceByKey): fn is called on each item with an emit function for
// its key/value pairs; combine joins two values of one key, a's before
// b's in input order (it must be associative, not commutative). Like
// Register it panics on an invalid or taken name, nil functions, and
// types msgpack cannot carry whole (K must also be a valid map key).
func RegisterKeyed[In any, K comparable, V any](name string, fn func(ctx context.Context, in In, emit func(K, V)) error,
	combine func(a, b V) V) KeyedReducer[In, K, V] {
	if combine == nil {
		panic(fmt.Sprintf("pool.RegisterKeyed(%q): nil combine", name))
	}
	k := &keyedFolder[In, K, V]{fn: fn, combine: combine}
	red := registerReduction(name, fn != nil, reflect.TypeFor[pair[K, V]](), k.fold, k.merge)
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

// orEmpty gives a successful reduce of no items an empty map, not nil.
func orEmpty[K comparable, V any](m map[K]V, err error) (map[K]V, error) {
	if err == nil && m == nil {
		m = map[K]V{}
	}
	return m, err
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
}

// fold runs fn on a chunk's items into one table (see reduction.fold): a
// panic of fn or of combine without a deadline, which share a call, is
// the item's TaskError as the panic left it. With a per-item
// deadline, an item's pairs are collected apart and added once it
// returned in time, so that a call left running adds nothing.
func (k *keyedFolder[In, K, V]) fold(ctx context.Context, items []In, first int, timeout time.Duration) (map[K]V, int, *TaskError) {
	table := map[K]V{}
	add := func(key K, v V) {
		if old, ok := table[key]; ok {
			v = k.combine(old, v)
		}
		table[key] = v
	}
	timed := registered[In, []pair[K, V]]{Func[In, []pair[K, V]]{fn: k.collect}}
	for i, item := range items {
		if i%ctxCheckItems == 0 && ctx.Err() != nil {
			return nil, i, &TaskError{Message: fmt.Sprintf("cancelled: %v", context.Cause(ctx))}
		}
		if timeout <= 0 {
			if te := k.call(ctx, item, add); te != nil {
				return nil, i, te
			}
			continue
		}
		pairs, te := timed.call(ctx, item, timeout)
		if te != nil {
			return nil, i, te
		}
		if te := addPairs(pairs, add); te != nil {
			return nil, i, combineFailed(te, first, len(items))
		}
	}
	return table, len(items), nil
}

// call runs fn on one item, its pairs going straight to add; an error or
// a panic (of fn, or of combine in add) is a TaskError.
func (k *keyedFolder[In, K, V]) call(ctx context.Context, item In, add func(K, V)) (te *TaskError) {
	defer func() {
		if v := recover(); v != nil {
			te = panicError(v)
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

// merge adds table b, of a later chunk, into a.
func (k *keyedFolder[In, K, V]) merge(a, b map[K]V) map[K]V {
	if a == nil { // a table that came back empty may decode as nil
		a = make(map[K]V, len(b))
	}
	for key, v := range b {
		if old, ok := a[key]; ok {
			v = k.combine(old, v)
		}
		a[key] = v
	}
	return a
}

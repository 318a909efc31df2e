package pool

import "github.com/glimpse-go/glimpse/internal/direct"

// TargetChunkBytes is what automatic chunks aim at, for the tests.
const TargetChunkBytes = targetChunkBytes

// For the direct path's tests (direct.go).

// WithDirectAdvertise makes the pool's data server advertise addr, not
// the address it bound: a worker dials addr.
func WithDirectAdvertise(addr string) Option {
	return func(o *poolOptions) { o.directAdvertise = addr }
}

// WithDirectPause calls f halfway through each payload sent and each
// result read by the pool's data server.
func WithDirectPause(f func(direct.Stage)) Option {
	return func(o *poolOptions) { o.directPause = f }
}

// WithDirectRefs calls f with each reference a chunk's job carries.
func WithDirectRefs(f func(direct.Ref)) Option {
	return func(o *poolOptions) { o.directRefs = f }
}

// DirectOffers is how many payloads the pool's data server holds.
func DirectOffers(p *Pool) int {
	p.direct.mu.Lock()
	defer p.direct.mu.Unlock()
	if p.direct.srv == nil {
		return 0
	}
	return p.direct.srv.Offers()
}

// DirectDisabled says whether the pool stopped using the direct path.
func DirectDisabled(p *Pool) bool { return p.direct.disabled.Load() }

package direct

import "context"

// Serve answers a job whose data may be a Ref, for a worker that runs
// payloads with run (whose result is the concatenation of its parts):
// data that is no Ref is run as it is; a Ref's payload is fetched (up to
// maxLen bytes), run, and its result delivered, and the job's answer is
// ResultSent. A fetch that fails answers Failed; a result that cannot be
// delivered goes back as the job's answer after all.
func Serve(ctx context.Context, data []byte, maxLen int64, run func(payload []byte) ([][]byte, error)) ([][]byte, error) {
	if !IsRef(data) {
		return run(data)
	}
	ref, err := ParseRef(data)
	if err != nil {
		return [][]byte{Failed(ReasonRefused)}, nil
	}
	f, err := Open(ctx, ref, maxLen)
	if err != nil {
		return [][]byte{Failed(ReasonOf(err))}, nil
	}
	defer f.Close()
	parts, err := run(f.Payload)
	if err != nil || f.Deliver(parts) != nil {
		return parts, err
	}
	return [][]byte{ResultSent}, nil
}

package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// Limits of a delivery.
const (
	// MaxResponseBody is how much of a 2xx answer's body Response keeps.
	MaxResponseBody = 64 << 10
	// maxDrain is how much more of a body is read and dropped so that the
	// connection can carry the next call; a longer body closes it.
	maxDrain = 256 << 10
	// MaxRedirects is how many redirects a call follows.
	MaxRedirects = 3
	// DefaultTimeout bounds a call whose Request and Config give none.
	DefaultTimeout = 30 * time.Second
	// errorBody is how much of a non-2xx answer a *StatusError quotes.
	errorBody = 512
)

// Config is what a worker process gives its Client.
type Config struct {
	// Secret signs every call (X-Glimpse-Signature); empty: calls go
	// unsigned.
	Secret []byte
	// Timeout is the default bound of a call (0: DefaultTimeout).
	Timeout time.Duration
	// TaskInfo, when set, fills a Request's empty TaskID, Queue and
	// Attempt from the context the task service runs the call with: the
	// attempt is known only then, not when the task was enqueued.
	TaskInfo func(context.Context) (id, queue string, attempt int, ok bool)
}

// Client sends webhook calls over one http.Client, so that calls to the
// same receiver reuse their connections. It is safe for concurrent use.
type Client struct {
	http      *http.Client
	cfg       Config
	userAgent string
}

// NewClient returns a Client with cfg.
func NewClient(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Client{http: &http.Client{Transport: newTransport(), CheckRedirect: checkRedirect}, cfg: cfg, userAgent: UserAgent()}
}

// newTransport is tuned for many calls to few receivers: thousands of
// calls a second to one receiver keep their connections instead of
// dialling (Go's default keeps 2 idle per host).
func newTransport() *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2048,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // bodies are read raw, with a size limit
	}
}

// checkRedirect follows at most MaxRedirects redirects, to http and
// https URLs only. A redirect to another host gets no signature: that
// host could replay it to the receiver within the tolerance.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects {
		return fmt.Errorf("webhook: more than %d redirects", MaxRedirects)
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return fmt.Errorf("webhook: a redirect to a %s: URL", s)
	}
	if req.URL.Host != via[0].URL.Host {
		req.Header.Del(HeaderSignature)
	}
	return nil
}

// UserAgent is the User-Agent of every call: glimpse-go and its module
// version.
func UserAgent() string { return userAgent() }

var userAgent = sync.OnceValue(func() string {
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path == modulePath && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, m := range bi.Deps {
			if m.Path == modulePath && m.Version != "" {
				v = m.Version
			}
		}
	}
	return "glimpse-go/" + v + " (+https://" + modulePath + ")"
})

const modulePath = "github.com/glimpse-go/glimpse"

// CloseIdleConnections closes the connections kept for later calls.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// Deliver sends r and returns the receiver's 2xx answer; see the package
// doc for the errors.
func (c *Client) Deliver(ctx context.Context, r Request) (Response, error) {
	c.fillTask(ctx, &r)
	hr, payload, err := r.build()
	if err != nil {
		return Response{}, err
	}
	timeout := c.cfg.Timeout
	if r.Timeout > 0 {
		timeout = r.Timeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c.setHeaders(hr, &r, payload)
	start := time.Now()
	resp, err := c.http.Do(hr.WithContext(cctx))
	if err == nil {
		latency.Observe(time.Since(start).Seconds())
	}
	if err != nil {
		return Response{}, c.failed(ctx, cctx, hr, timeout, err)
	}
	out, err := readAnswer(resp)
	if err != nil {
		return Response{}, c.failed(ctx, cctx, hr, timeout, err)
	}
	if out.Status < 200 || out.Status > 299 {
		return Response{}, &StatusError{Method: hr.Method, URL: hr.URL.Redacted(), Status: out.Status, Body: quote(out.Body)}
	}
	return out, nil
}

func (c *Client) fillTask(ctx context.Context, r *Request) {
	if c.cfg.TaskInfo == nil {
		return
	}
	id, queue, attempt, ok := c.cfg.TaskInfo(ctx)
	if !ok {
		return
	}
	if r.TaskID == "" {
		r.TaskID = id
	}
	if r.Queue == "" {
		r.Queue = queue
	}
	if r.Attempt == 0 {
		r.Attempt = attempt
	}
}

func (c *Client) setHeaders(hr *http.Request, r *Request, payload []byte) {
	h := hr.Header
	h.Set("User-Agent", c.userAgent)
	if r.TaskID != "" {
		h.Set(HeaderTaskID, r.TaskID)
		h.Set(HeaderMiyamotoTaskID, r.TaskID)
	}
	if r.Queue != "" {
		h.Set(HeaderQueue, r.Queue)
	}
	if r.Attempt > 0 {
		h.Set(HeaderAttempt, strconv.Itoa(r.Attempt))
	}
	if len(c.cfg.Secret) > 0 {
		h.Set(HeaderSignature, Sign(c.cfg.Secret, time.Now(), payload))
	}
}

// readAnswer keeps the first MaxResponseBody bytes of the body and
// drains a little more, so that the connection is reused.
func readAnswer(resp *http.Response) (Response, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	if err != nil {
		return Response{}, err
	}
	out := Response{Status: resp.StatusCode, Body: body}
	if len(body) > MaxResponseBody {
		out.Body, out.Truncated = body[:MaxResponseBody], true
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	}
	return out, nil
}

// failed names a call that got no answer: ErrTimeout when its own
// timeout ran out, the caller's context error when that ended first.
func (c *Client) failed(ctx, cctx context.Context, hr *http.Request, timeout time.Duration, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // it repeats the URL, password included
	}
	where := hr.Method + " " + hr.URL.Redacted()
	if ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return &timeoutError{where: where, timeout: timeout, err: err}
	}
	return fmt.Errorf("webhook: %s: %w", where, err)
}

// timeoutError is a call that its own timeout cut short.
type timeoutError struct {
	where   string
	timeout time.Duration
	err     error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("webhook: %s: no answer within %s: %v", e.where, e.timeout, e.err)
}

func (e *timeoutError) Unwrap() []error { return []error{ErrTimeout, e.err} }

// quote is the start of a non-2xx answer's body, for its error.
func quote(body []byte) string {
	if len(body) > errorBody {
		return string(body[:errorBody]) + "..."
	}
	return string(body)
}

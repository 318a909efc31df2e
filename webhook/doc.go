// Package webhook delivers tasks to web daemons: a built-in registered
// function, Deliver ("glimpse.webhook"), that sends one HTTP request per
// call, so that any web server can be a glimpse-go worker and a webhook
// task is just another task of a registered function.
//
// Every `glimpse-cluster worker` serves Deliver unless its config says
// [worker] webhooks = false. A call sends Request.Params to Request.URL:
// POST (the default) with the params form-encoded or as JSON, as they
// were enqueued, or GET with the params in the query string. The request
// carries the task's id (X-Glimpse-Task-Id, and X-Task-Id as Miyamoto
// sends it), its queue (X-Glimpse-Queue), the attempt (X-Glimpse-Attempt,
// from 1), a User-Agent naming glimpse-go and its version, and, when the
// worker has a secret ([http] webhook_secret_file or webhook_secret), an
// HMAC-SHA256 signature of the timestamp and the body:
//
//	X-Glimpse-Signature: t=1700000000,v1=eb536b828926106f38e6ea69c51f9050d871c8ca341685038514d8cbe160a10e
//
// Receivers check it with Verify or VerifyRequest (docs/WEBHOOKS.md shows
// the same check in Python).
//
// A 2xx answer is success: the Response holds the status and at most
// MaxResponseBody bytes of the body. Anything else is an error for the
// task service to retry with the task's backoff: another status
// (*StatusError, errors.Is ErrStatus), no answer within the timeout
// (ErrTimeout), a refused connection. Two errors are permanent, and say
// so with a Permanent() bool method that returns true (IsPermanent): 410
// Gone (ErrGone: the receiver asks for no more calls) and a request that
// can never be sent (ErrInvalid: a bad URL, method or encoding, with the
// field named). These sentinels are declared with pool.RegisterError, so
// errors.Is and IsPermanent still hold on the error a client gets back
// from a worker process.
//
// A worker process has one Client (one http.Client whose Transport keeps
// up to 512 idle connections per host), so deliveries to one receiver
// reuse their connections. Redirects are followed at most MaxRedirects
// times, to http and https URLs only; every request is bounded by its
// timeout (Request.Timeout, else [http] webhook_timeout, default 30s).
package webhook

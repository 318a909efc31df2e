// Package broker is the ZeroMQ forwarder of glimpse-go's two channels, and
// the Publisher and Subscriber that the cluster's programs use on them.
//
// # Channels
//
// The command channel carries commands from clients to workers: clients
// publish to the broker's command_frontend_url and workers subscribe at
// its command_backend_url. The log channel carries log records, heartbeats
// and command replies from workers to clients: workers publish to
// log_frontend_url and clients subscribe at log_backend_url. The broker
// binds the four URLs of the [server] section; peers connect to those of
// [client].
//
// Each channel is an XSUB socket (the frontend) forwarded to an XPUB
// socket (the backend) and back: messages flow down from publishers to
// subscribers, whole (every part, in order), and subscriptions flow up
// from subscribers to publishers, which therefore send only what someone
// wants.
//
// # No broker
//
// A cluster may run without a broker, as glimpse allows: each [client]
// frontend URL equals its backend, the client binds them with
// BindPublisher (commands) and BindSubscriber (logs and replies), and the
// workers connect to it with NewSubscriber and NewPublisher as they would
// to a broker. Only one client can bind a URL at a time; the next gets an
// error wrapping ErrAddrInUse. Workers reconnect by themselves to each new
// client. Publisher.Subscriptions counts the workers that joined, so that
// the client can repeat a command for those that joined after it sent it.
//
// # Messages
//
// A message is a topic frame followed by any number of parts. Subscribers
// match topics by prefix: "log." receives "log.w1" and "log.w2", "" receives
// everything. Choose topics so that no prefix matches by accident ("w1."
// rather than "w1", which matches "w10" too).
//
// # What is lost
//
// Publish-subscribe never waits, it drops:
//   - what is published before a subscription reaches the publisher (the
//     "slow joiner"): a subscription takes a few milliseconds to travel
//     through the broker, and a new publisher receives the existing ones a
//     few milliseconds after it connects. Publisher.WaitSubscribed waits
//     for it: call it before sending a message that must arrive, such as
//     a command or the reply to one. Periodic messages (heartbeats) need
//     not wait.
//   - what a slow subscriber does not read: messages queue up to the
//     high-water mark (DefaultHWM messages) in the subscriber and again in
//     the broker, and beyond that the broker drops that subscriber's
//     messages, without slowing the others.
//   - what is queued in the broker when it stops.
//
// # Errors
//
// New reports a bad [server] section as a *config.Error naming the key,
// and a URL it cannot bind as a *BindError (as do BindPublisher and
// BindSubscriber), which matches ErrAddrInUse when another socket holds
// the port. Serve reports a channel whose forwarding failed as a
// *ChannelError. ErrClosed, what a stopped Broker and a closed Publisher
// or Subscriber return, matches the lifecycle.ErrClosed of every glimpse
// service.
//
// # Concurrency
//
// A Broker is safe for concurrent use. Publisher and Subscriber are not,
// because ZeroMQ sockets are not: use each from one goroutine at a time.
package broker

package wire

import "time"

// Topics on the broker's channels (the command and log channels of
// config.Client). Subscribers filter by prefix, so a worker id after the
// kind lets a client subscribe to one worker's logs.
const (
	TopicCommand   = "cmd"        // command channel: a JSON pool.Command
	TopicLog       = "log."       // + worker id: a JSON slog record
	TopicHeartbeat = "heartbeat." // + worker id: JSON pool.WorkerStats
	TopicReply     = "reply."     // + command id: JSON pool.Reply
	TopicMap       = "map."       // + map id: JSON pool.MapAnnouncement (a client's map in progress)
)

// ReplyWait bounds how long a worker holds a reply until the asking
// client's subscription has reached it. Through a broker the client
// subscribes before it sends, so this is normally no wait at all; with no
// broker the client has just bound the log channel, and the worker's
// connection to it may still be one reconnect interval (100-200ms) away.
const ReplyWait = time.Second

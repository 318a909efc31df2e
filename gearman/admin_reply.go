package gearman

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// FunctionStatus is one line of the "status" reply.
type FunctionStatus struct {
	Name    string // function name
	Queued  int    // jobs the server holds for the function, including running ones
	Running int    // jobs currently assigned to a worker
	Workers int    // connected workers that registered the function
}

// FunctionPriorityStatus is one line of the "prioritystatus" reply.
type FunctionPriorityStatus struct {
	Name    string // function name
	High    int    // jobs waiting for a worker at high priority
	Normal  int    // jobs waiting for a worker at normal priority
	Low     int    // jobs waiting for a worker at low priority
	Workers int    // connected workers that registered the function
}

// WorkerInfo is one line of the "workers" reply. The server lists every
// connection, so clients and admin connections appear with no Functions.
type WorkerInfo struct {
	FD        int    // file descriptor of the connection in the server
	Addr      string // peer IP address, without port
	ClientID  string // id set with SET_CLIENT_ID; "" if none (the server shows "-")
	Functions []string
}

// AdminJob is one line of the "show jobs" reply.
type AdminJob struct {
	Handle  string
	Retries int // times the job was handed out again after its worker went away
	// Ignored means the server will drop the job instead of running it:
	// it was cancelled, or it was a foreground job whose client left.
	Ignored bool
	// Persistent means the job is recorded in the server's persistent
	// queue: true for background jobs until they are cancelled or done.
	Persistent bool
}

// AdminUniqueJob is one line of the "show unique jobs" reply.
type AdminUniqueJob struct {
	Unique string
	// Handle is empty with gearmand 1.1.20, which lists unique ids only;
	// later versions add the job handle.
	Handle string
}

// AdminError is an "ERR" reply from the job server. Codes sent by gearmand
// 1.1.20 include UNKNOWN_COMMAND, INVALID_ARGUMENTS, UNKNOWN_JOB,
// UNKNOWN_SHOW_ARGUMENTS, CREATE_FUNCTION and UNKNOWN_ERROR.
type AdminError struct {
	Command string // the command line that was sent, without its line end
	// Code is the word after "ERR", or "" when the server sent free text
	// (as gearmand's "ERR function not found" does).
	Code string
	// Message is the rest of the line, URL-decoded when it came with a Code
	// ("Unknown+server+command" becomes "Unknown server command").
	Message string
}

// Error formats the reply with the command it answered.
func (e *AdminError) Error() string {
	switch {
	case e.Code == "":
		return fmt.Sprintf("gearman: admin %q: %s", e.Command, e.Message)
	case e.Message == "":
		return fmt.Sprintf("gearman: admin %q: %s", e.Command, e.Code)
	default:
		return fmt.Sprintf("gearman: admin %q: %s: %s", e.Command, e.Code, e.Message)
	}
}

// adminCheckArg rejects what would split or end the command line. gearmand
// separates arguments with spaces only, so a tab is allowed.
func adminCheckArg(cmd, what, s string) error {
	if s == "" {
		return fmt.Errorf("gearman: admin %s: empty %s", cmd, what)
	}
	if strings.ContainsAny(s, " \r\n\x00") {
		return fmt.Errorf("gearman: admin %s: %s %q contains a space, line break or NUL", cmd, what, s)
	}
	return nil
}

func adminMalformed(cmd, line string) error {
	return fmt.Errorf("gearman: admin %q: malformed reply line %q", cmd, line)
}

// adminParseErr turns "ERR CODE Url+encoded+text" into an *AdminError.
func adminParseErr(cmd, line string) *AdminError {
	rest := strings.TrimSpace(strings.TrimPrefix(line, "ERR"))
	word, msg, _ := strings.Cut(rest, " ")
	if !adminIsCode(word) {
		return &AdminError{Command: cmd, Message: rest}
	}
	if m, err := url.QueryUnescape(msg); err == nil {
		msg = m
	}
	return &AdminError{Command: cmd, Code: word, Message: msg}
}

// adminIsCode reports whether s looks like an error code: UPPER_CASE_1.
func adminIsCode(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// adminSplitCounts splits "NAME\tN1\t...\tNn" into NAME and n counts. The
// counts are taken from the right so that NAME may itself hold tabs.
func adminSplitCounts(line string, n int) (string, []int, bool) {
	f := strings.Split(line, "\t")
	if len(f) < n+1 {
		return "", nil, false
	}
	counts := make([]int, n)
	for i, s := range f[len(f)-n:] {
		v, err := strconv.Atoi(s)
		if err != nil || !adminIsDigits(s) {
			return "", nil, false
		}
		counts[i] = v
	}
	return strings.Join(f[:len(f)-n], "\t"), counts, true
}

func adminIsDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// adminParseWorker parses "FD ADDR CLIENT-ID : FUNC FUNC ...". gearmand
// prints a single space before each function, and an empty client id
// as nothing at all ("12 127.0.0.1  : f").
func adminParseWorker(line string) (WorkerInfo, bool) {
	fdStr, rest, ok := strings.Cut(line, " ")
	if !ok {
		return WorkerInfo{}, false
	}
	// gearmand shows -1 for a connection it is tearing down; no other
	// negative number is a file descriptor.
	fd, err := strconv.Atoi(fdStr)
	if err != nil || !adminIsDigits(strings.TrimPrefix(fdStr, "-")) || fd < -1 {
		return WorkerInfo{}, false
	}
	addr, rest, ok := strings.Cut(rest, " ")
	if !ok || addr == "" {
		return WorkerInfo{}, false
	}
	// The client id ends at the first " :" that ends the line or is
	// followed by a space.
	i := 0
	for {
		j := strings.Index(rest[i:], " :")
		if j < 0 {
			return WorkerInfo{}, false
		}
		i += j
		if i+2 == len(rest) || rest[i+2] == ' ' {
			break
		}
		i++
	}
	id := rest[:i]
	if id == "-" {
		id = ""
	}
	return WorkerInfo{FD: fd, Addr: addr, ClientID: id, Functions: strings.Fields(rest[i+2:])}, true
}

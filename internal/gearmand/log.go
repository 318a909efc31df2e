package gearmand

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// Log returns the path of the log file. It survives Stop and Restart
// (gearmand appends to it).
func (p *Process) Log() string { return p.logPath }

// LogTail returns the last n lines of the log, or a note saying why it could
// not be read.
func (p *Process) LogTail(n int) string {
	s, err := tailFile(p.logPath, n)
	if err != nil {
		return fmt.Sprintf("(cannot read gearmand log: %v)", err)
	}
	return s
}

// tailFile returns the last n lines of a file, reading it from the end so
// that big logs (INFO logs every connection) stay cheap.
func tailFile(path string, n int) (string, error) {
	if n <= 0 {
		return "", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return "", err
	}
	const block = 64 << 10
	var buf []byte
	off := size
	for off > 0 {
		step := min(int64(block), off)
		off -= step
		chunk := make([]byte, step)
		if _, err := f.ReadAt(chunk, off); err != nil {
			return "", err
		}
		buf = append(chunk, buf...)
		// n+1 newlines guarantee n complete lines (the last may lack one).
		if bytes.Count(buf, []byte("\n")) > n {
			break
		}
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n"), nil
}

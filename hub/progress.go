package hub

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// barSet draws one progress bar per file on a terminal, each on its own
// line: bar i's writes are wrapped in cursor moves up to its line and back
// below the last bar. A nil barSet draws nothing.
type barSet struct {
	mu    sync.Mutex
	w     io.Writer
	lines int
}

func newBarSet(w io.Writer) *barSet {
	if w == nil {
		return nil
	}
	return &barSet{w: w}
}

// bar is one file's progress bar; a nil bar ignores updates.
type bar struct {
	pb *progressbar.ProgressBar
}

// add reserves a line for a new bar and returns it.
func (s *barSet) add(name string, total int64) *bar {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	line := s.lines
	s.lines++
	fmt.Fprint(s.w, "\n")
	s.mu.Unlock()
	if total < 0 {
		total = -1
	}
	pb := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(&lineWriter{set: s, line: line}),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
	)
	return &bar{pb: pb}
}

func (b *bar) set(done int64, finished bool) {
	if b == nil {
		return
	}
	b.pb.Set64(done)
	if finished {
		b.pb.Finish()
	}
}

// lineWriter sends one bar's output to its line.
type lineWriter struct {
	set  *barSet
	line int
}

func (l *lineWriter) Write(p []byte) (int, error) {
	s := strings.NewReplacer("\r", "", "\n", "").Replace(string(p))
	if s == "" || strings.TrimSpace(s) == "" {
		return len(p), nil
	}
	l.set.mu.Lock()
	defer l.set.mu.Unlock()
	up := l.set.lines - l.line
	_, err := fmt.Fprintf(l.set.w, "\x1b[%dA\r\x1b[K%s\x1b[%dB\r", up, s, up)
	return len(p), err
}

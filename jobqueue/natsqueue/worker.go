package natsqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/imagegen/imagegen/jobqueue"
)

// Worker takes jobs from the stream and runs them.
type Worker struct {
	*resources
	run jobqueue.Runner
	log *slog.Logger
}

// NewWorker returns a worker that runs jobs with run. It uses the
// JetStream resources as the server configured them; opts only matter for
// what does not exist yet (a worker started before any server) and for
// Timeout.
func NewWorker(ctx context.Context, nc *nats.Conn, run jobqueue.Runner, log *slog.Logger, opts Options) (*Worker, error) {
	r, err := setup(ctx, nc, opts, false)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &Worker{resources: r, run: run, log: log}, nil
}

// Run processes jobs one at a time until ctx ends. A job running when ctx
// ends is stopped and handed back (nak) for another worker.
func (w *Worker) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		batch, err := w.consumer.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			w.log.Warn("fetch", "err", err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for msg := range batch.Messages() {
			w.handle(ctx, msg)
		}
	}
	return nil
}

func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	var j job
	if err := json.Unmarshal(msg.Data(), &j); err != nil || !validID(j.ID) {
		w.log.Warn("dropping a malformed job message", "err", err)
		msg.Term()
		return
	}
	log := w.log.With("job", j.ID)
	e, err := w.getEvent(ctx, j.ID)
	if err == nil && (e.Status.State == jobqueue.Succeeded || e.Status.State == jobqueue.Cancelled) {
		// Finished by a worker that died before acking, or cancelled
		// while queued.
		msg.Ack()
		return
	}
	st := e.Status
	if err != nil {
		st = jobqueue.Status{ID: j.ID, Created: time.Now()}
	}
	st.State, st.Started, st.Step, st.Total = jobqueue.Running, time.Now(), 0, 0
	if err := w.putEvent(ctx, jobqueue.Event{Type: "status", Status: st}); err != nil {
		log.Warn("status", "err", err)
	}

	timeout := j.Spec.Timeout
	if timeout <= 0 {
		timeout = w.opts.Timeout
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var cancelled atomic.Bool
	sub, err := w.nc.Subscribe(cancelSubject+j.ID, func(*nats.Msg) { cancelled.Store(true); cancel() })
	if err == nil {
		defer sub.Unsubscribe()
	}
	start := time.Now()
	out, runErr := w.run(runCtx, j.Spec, func(s jobqueue.Step) {
		msg.InProgress() // still alive: restart the ack timer
		st.Step, st.Total = s.Step, s.Total
		w.putEvent(ctx, jobqueue.Event{Type: "step", Status: st, Preview: s.Preview})
	})
	if ctx.Err() != nil {
		// This worker is stopping: hand the job to another.
		msg.Nak()
		return
	}
	st.Ended = time.Now()
	switch {
	case runErr == nil:
		for i, img := range out.Images {
			key := j.ID + "-" + strconv.Itoa(i)
			if _, err := w.results.Put(ctx, jetstream.ObjectMeta{Name: key, Description: img.ContentType}, bytes.NewReader(img.Data)); err != nil {
				log.Warn("store result", "err", err)
				msg.Nak() // try again, here or elsewhere
				return
			}
			st.Results = append(st.Results, key)
		}
		st.State, st.Info = jobqueue.Succeeded, &out.Info
	case cancelled.Load() || errors.Is(runErr, context.Canceled):
		st.State = jobqueue.Cancelled
	default:
		st.State, st.Error = jobqueue.Failed, runErr.Error()
		var re *jobqueue.RunError
		switch {
		case errors.As(runErr, &re):
			st.ErrorKind = re.Kind
		case errors.Is(runErr, context.DeadlineExceeded):
			st.ErrorKind = "timeout"
		default:
			st.ErrorKind = "internal"
		}
	}
	if err := w.putEvent(ctx, jobqueue.Event{Type: "status", Status: st}); err != nil {
		log.Warn("final status", "err", err)
		msg.Nak()
		return
	}
	if err := msg.Ack(); err != nil {
		log.Warn("ack", "err", err)
	}
	log.Info("job done", "state", st.State, "seconds", time.Since(start).Seconds())
}

// readAll reads an object of a known size.
func readAll(r io.Reader, size uint64) ([]byte, error) {
	if size > 1<<30 {
		return nil, fmt.Errorf("object of %d bytes is too large", size)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	_, err := io.Copy(buf, r)
	return buf.Bytes(), err
}

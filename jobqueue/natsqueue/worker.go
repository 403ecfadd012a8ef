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
	"sync"
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
// what does not exist yet (a worker started before any server), for
// Timeout and for Batch. run may be nil when opts.Batch is enabled: every
// job then runs through Batch.Run, a lone job as a batch of one.
func NewWorker(ctx context.Context, nc *nats.Conn, run jobqueue.Runner, log *slog.Logger, opts Options) (*Worker, error) {
	if run == nil && !opts.Batch.Enabled() {
		return nil, errors.New("natsqueue: a worker needs a runner, or Options.Batch to run every job through")
	}
	r, err := setup(ctx, nc, opts, false)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &Worker{resources: r, run: run, log: log}, nil
}

// Run processes jobs until ctx ends: one at a time, or with Options.Batch
// up to Batch.Max at a time, those sharing a key in one run. A job running
// when ctx ends is stopped and handed back (nak) for another worker.
func (w *Worker) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		msgs, err := w.fetch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			w.log.Warn("fetch", "err", err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		var jobs []*workerJob
		for _, msg := range msgs {
			if wj := w.accept(ctx, msg); wj != nil {
				jobs = append(jobs, wj)
			}
		}
		w.process(ctx, jobs)
	}
	return nil
}

// fetch waits up to a second for a job; with batching it then takes the
// jobs already waiting, up to Batch.Max in all, after Batch.Wait.
func (w *Worker) fetch(ctx context.Context) ([]jetstream.Msg, error) {
	batch, err := w.consumer.Fetch(1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for msg := range batch.Messages() {
		msgs = append(msgs, msg)
	}
	b := w.opts.Batch
	if len(msgs) == 0 || !b.Enabled() {
		return msgs, nil
	}
	if b.Wait > 0 {
		select {
		case <-time.After(b.Wait):
		case <-ctx.Done():
			return msgs, nil
		}
	}
	more, err := w.consumer.FetchNoWait(b.Max - len(msgs))
	if err != nil {
		return msgs, nil // the first job still runs
	}
	for msg := range more.Messages() {
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// workerJob is a job this worker has taken.
type workerJob struct {
	msg jetstream.Msg
	job job
	log *slog.Logger

	ctx       context.Context
	cancel    context.CancelFunc
	cancelled atomic.Bool
	sub       *nats.Subscription
	start     time.Time

	mu    sync.Mutex
	st    jobqueue.Status
	ended bool // the final status is written: no more events
}

// accept reads a message and returns its job, or nil for one that needs
// no run (malformed, or already finished).
func (w *Worker) accept(ctx context.Context, msg jetstream.Msg) *workerJob {
	var j job
	if err := json.Unmarshal(msg.Data(), &j); err != nil || !validID(j.ID) {
		w.log.Warn("dropping a malformed job message", "err", err)
		msg.Term()
		return nil
	}
	e, err := w.getEvent(ctx, j.ID)
	if err == nil && (e.Status.State == jobqueue.Succeeded || e.Status.State == jobqueue.Cancelled) {
		// Finished by a worker that died before acking, or cancelled
		// while queued.
		msg.Ack()
		return nil
	}
	st := e.Status
	if err != nil {
		st = jobqueue.Status{ID: j.ID, Created: time.Now()}
	}
	return &workerJob{msg: msg, job: j, st: st, log: w.log.With("job", j.ID)}
}

// process runs the jobs of one fetch: alone, or grouped by batch key in
// the order they came. Jobs waiting for their turn keep their messages
// alive.
func (w *Worker) process(ctx context.Context, jobs []*workerJob) {
	if len(jobs) > 1 {
		done := make(chan struct{})
		defer close(done)
		go func() {
			tick := time.NewTicker(max(w.opts.AckWait/3, 100*time.Millisecond))
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					for _, wj := range jobs {
						wj.mu.Lock()
						if !wj.ended {
							wj.msg.InProgress()
						}
						wj.mu.Unlock()
					}
				}
			}
		}()
	}
	b := w.opts.Batch
	var keys []string
	groups := map[string][]*workerJob{}
	for i, wj := range jobs {
		key := ""
		if b.Enabled() {
			key = b.Key(wj.job.Spec)
		}
		if key == "" {
			key = "\x00alone" + strconv.Itoa(i)
		}
		if groups[key] == nil {
			keys = append(keys, key)
		}
		groups[key] = append(groups[key], wj)
	}
	for _, key := range keys {
		if ctx.Err() != nil {
			for _, wj := range groups[key] {
				wj.msg.Nak()
			}
			continue
		}
		// A worker without a single-job runner runs a job alone as a
		// batch of one (a fetch may hand over one job of a key even when
		// more are queued).
		if g := groups[key]; len(g) == 1 && w.run != nil {
			w.runOne(ctx, g[0])
		} else {
			w.runBatch(ctx, g)
		}
	}
}

// begin marks a job running under its own timeout and cancel subscription.
func (w *Worker) begin(ctx context.Context, wj *workerJob) {
	wj.mu.Lock()
	wj.st.State, wj.st.Started, wj.st.Step, wj.st.Total = jobqueue.Running, time.Now(), 0, 0
	if err := w.putEvent(ctx, jobqueue.Event{Type: "status", Status: wj.st}); err != nil {
		wj.log.Warn("status", "err", err)
	}
	wj.mu.Unlock()
	timeout := wj.job.Spec.Timeout
	if timeout <= 0 {
		timeout = w.opts.Timeout
	}
	wj.ctx, wj.cancel = context.WithTimeout(ctx, timeout)
	var err error
	wj.sub, err = w.nc.Subscribe(cancelSubject+wj.job.ID, func(*nats.Msg) { wj.cancelled.Store(true); wj.cancel() })
	if err != nil {
		wj.sub = nil
	}
	wj.start = time.Now()
}

// step records one progress report, unless the job has ended.
func (w *Worker) step(ctx context.Context, wj *workerJob, s jobqueue.Step) {
	wj.mu.Lock()
	defer wj.mu.Unlock()
	if wj.ended {
		return
	}
	wj.msg.InProgress() // still alive: restart the ack timer
	wj.st.Step, wj.st.Total = s.Step, s.Total
	w.putEvent(ctx, jobqueue.Event{Type: "step", Status: wj.st, Preview: s.Preview})
}

func (w *Worker) runOne(ctx context.Context, wj *workerJob) {
	w.begin(ctx, wj)
	out, err := w.run(wj.ctx, wj.job.Spec, func(s jobqueue.Step) { w.step(ctx, wj, s) })
	w.end(ctx, wj, out, err)
}

// runBatch runs jobs sharing a batch key in one run, with the semantics of
// jobqueue.Batching: a job cancelled or timed out ends at once, and the
// run stops when all have ended.
func (w *Worker) runBatch(ctx context.Context, jobs []*workerJob) {
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var mu sync.Mutex
	live := len(jobs)
	stops := make([]func() bool, len(jobs))
	specs := make([]jobqueue.Spec, len(jobs))
	for i, wj := range jobs {
		w.begin(ctx, wj)
		specs[i] = wj.job.Spec
		stops[i] = context.AfterFunc(wj.ctx, func() {
			mu.Lock()
			live--
			if live == 0 {
				stopRun()
			}
			mu.Unlock()
			w.end(ctx, wj, nil, wj.ctx.Err())
		})
	}
	outs, errs := w.opts.Batch.Run(runCtx, specs, func(i int, s jobqueue.Step) { w.step(ctx, jobs[i], s) })
	for i, wj := range jobs {
		if stops[i]() {
			w.end(ctx, wj, outs[i], errs[i])
		}
	}
}

// end stores a job's pictures, writes its final status and acks it; when
// this worker is stopping it hands the job back instead.
func (w *Worker) end(ctx context.Context, wj *workerJob, out *jobqueue.Output, runErr error) {
	defer func() {
		wj.cancel()
		if wj.sub != nil {
			wj.sub.Unsubscribe()
		}
	}()
	wj.mu.Lock()
	defer wj.mu.Unlock()
	if wj.ended {
		return
	}
	wj.ended = true
	msg, st, log := wj.msg, &wj.st, wj.log
	if ctx.Err() != nil {
		// This worker is stopping: hand the job to another.
		msg.Nak()
		return
	}
	st.Ended = time.Now()
	switch {
	case runErr == nil:
		for i, img := range out.Images {
			key := wj.job.ID + "-" + strconv.Itoa(i)
			if _, err := w.results.Put(ctx, jetstream.ObjectMeta{Name: key, Description: img.ContentType}, bytes.NewReader(img.Data)); err != nil {
				log.Warn("store result", "err", err)
				msg.Nak() // try again, here or elsewhere
				return
			}
			st.Results = append(st.Results, key)
		}
		st.State, st.Info = jobqueue.Succeeded, &out.Info
	case wj.cancelled.Load() || errors.Is(runErr, context.Canceled):
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
	if err := w.putEvent(ctx, jobqueue.Event{Type: "status", Status: *st}); err != nil {
		log.Warn("final status", "err", err)
		msg.Nak()
		return
	}
	if err := msg.Ack(); err != nil {
		log.Warn("ack", "err", err)
	}
	log.Info("job done", "state", st.State, "seconds", time.Since(wj.start).Seconds())
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

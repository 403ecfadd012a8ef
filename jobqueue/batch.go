package jobqueue

import (
	"context"
	"time"
)

// BatchRunner runs several jobs in one go, calling progress with the index
// of the job a step belongs to. It returns each job's output or error, in
// the order of specs. It must return soon after ctx is cancelled.
type BatchRunner func(ctx context.Context, specs []Spec, progress func(job int, s Step)) ([]*Output, []error)

// Batching lets a queue run waiting jobs that share a key together, for a
// model that makes several pictures in one run faster than one by one.
//
// A job in a batch keeps its own progress events, timeout and
// cancellation: cancelling it (or its timeout) ends it at once, as
// Cancelled (or Failed with kind "timeout"), and the run goes on for the
// others, the pictures it made for the ended job being dropped; the run
// itself stops only when every job in it has ended.
type Batching struct {
	// Max is the most jobs one run takes (0 or 1: no batching).
	Max int
	// Wait is how long a job that could take companions waits for them
	// when fewer than Max are waiting (0: it takes those already waiting,
	// which under load, when batching pays, are many). The wait counts as
	// the job's run time.
	Wait time.Duration
	// Key says which jobs may run together: those with the same non-empty
	// key. A job whose key is "" runs alone.
	Key func(Spec) string
	// Run runs a batch of two or more jobs; a job alone goes to the
	// queue's Runner.
	Run BatchRunner
}

// Enabled reports whether b batches at all.
func (b *Batching) Enabled() bool { return b.Max > 1 && b.Key != nil && b.Run != nil }

// takeBatchLocked removes from the waiting list up to max-1 jobs whose key
// is key, in queue order.
func (q *Memory) takeBatchLocked(key string, limit int) []*memJob {
	var taken []*memJob
	rest := q.waiting[:0]
	for _, w := range q.waiting {
		if len(taken) < limit && q.opts.Batch.Key(w.spec) == key {
			taken = append(taken, w)
			continue
		}
		rest = append(rest, w)
	}
	clear(q.waiting[len(rest):])
	q.waiting = rest
	return taken
}

// countKeyLocked counts the waiting jobs whose key is key.
func (q *Memory) countKeyLocked(key string) int {
	n := 0
	for _, w := range q.waiting {
		if q.opts.Batch.Key(w.spec) == key {
			n++
		}
	}
	return n
}

// startLocked marks j running under its own timeout and returns its
// context.
func (q *Memory) startLocked(j *memJob) (context.Context, context.CancelFunc) {
	timeout := j.spec.Timeout
	if timeout <= 0 {
		timeout = q.opts.Timeout
	}
	ctx, cancel := context.WithTimeout(q.base, timeout)
	j.cancel = cancel
	j.status.State = Running
	j.status.Started = q.opts.Now()
	q.running++
	q.emitLocked(j, "status", nil)
	return ctx, cancel
}

// runBatch runs first, already started with ctx, together with the waiting
// jobs that share its key. It is called without q.mu held.
func (q *Memory) runBatch(first *memJob, ctx context.Context, cancel context.CancelFunc, key string) {
	b := q.opts.Batch
	if b.Wait > 0 {
		q.mu.Lock()
		short := q.countKeyLocked(key) < b.Max-1
		q.mu.Unlock()
		if short {
			select {
			case <-time.After(b.Wait):
			case <-ctx.Done():
			}
		}
	}
	jobs, ctxs, cancels := []*memJob{first}, []context.Context{ctx}, []context.CancelFunc{cancel}
	q.mu.Lock()
	for _, j := range q.takeBatchLocked(key, b.Max-1) {
		c, cf := q.startLocked(j)
		jobs, ctxs, cancels = append(jobs, j), append(ctxs, c), append(cancels, cf)
	}
	if len(q.waiting) > 0 {
		q.signal()
	}
	q.mu.Unlock()

	if len(jobs) == 1 {
		q.runOne(first, ctx, cancel)
		return
	}
	// The run stops when every job in it has ended; a job that ends early
	// is finished at once by its AfterFunc.
	runCtx, stopRun := context.WithCancel(q.base)
	defer stopRun()
	live := len(jobs)
	stops := make([]func() bool, len(jobs))
	for i, j := range jobs {
		c := ctxs[i]
		stops[i] = context.AfterFunc(c, func() {
			q.mu.Lock()
			live--
			if live == 0 {
				stopRun()
			}
			q.mu.Unlock()
			q.finish(j, nil, c.Err(), c.Err() == context.Canceled)
		})
	}
	specs := make([]Spec, len(jobs))
	for i, j := range jobs {
		specs[i] = j.spec
	}
	outs, errs := b.Run(runCtx, specs, func(i int, s Step) { q.step(jobs[i], s) })
	for i, j := range jobs {
		if stops[i]() { // not ended early
			cancels[i]()
			q.finish(j, outs[i], errs[i], false)
		}
	}
}

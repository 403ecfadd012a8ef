package natsqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/imagegen/imagegen/jobqueue"
)

// Names of the JetStream resources.
const (
	StreamName   = "IMAGEGEN_JOBS"
	JobsSubject  = "imagegen.jobs"
	ConsumerName = "workers"
	StatusBucket = "imagegen_jobs"
	ResultBucket = "imagegen_results"
	// cancelSubject prefixes the core NATS subject on which a job's
	// cancellation is announced to the worker running it.
	cancelSubject = "imagegen.cancel."
)

// Options configure the JetStream resources. Zero values mean the
// defaults.
type Options struct {
	// MaxJobs bounds the jobs not yet finished, waiting or running
	// (default 16).
	MaxJobs int
	// AckWait is how long a worker may go without a sign of life before
	// its job is given to another (default 30s; a running job signals at
	// every step).
	AckWait time.Duration
	// MaxDeliver bounds how often a job is tried (default 5).
	MaxDeliver int
	// Retain is how long statuses and results are kept (default 1h).
	Retain time.Duration
	// Timeout bounds a job's run when its Spec sets none (default 10m).
	Timeout time.Duration
	// Batch, for workers, runs jobs that share a key together (default:
	// off); see jobqueue.Batching.
	Batch jobqueue.Batching
}

func (o *Options) fill() {
	if o.MaxJobs <= 0 {
		o.MaxJobs = 16
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxDeliver <= 0 {
		o.MaxDeliver = 5
	}
	if o.Retain <= 0 {
		o.Retain = time.Hour
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
}

// resources are the handles both sides use.
type resources struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	stream   jetstream.Stream
	consumer jetstream.Consumer
	status   jetstream.KeyValue
	results  jetstream.ObjectStore
	opts     Options
}

// setup creates or updates the stream, consumer and buckets (the
// server's side, which owns their configuration), or, for a worker
// (update false), uses them as they are and creates only what is missing.
func setup(ctx context.Context, nc *nats.Conn, opts Options, update bool) (*resources, error) {
	opts.fill()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("natsqueue: %w", err)
	}
	r := &resources{nc: nc, js: js, opts: opts}
	streamCfg := jetstream.StreamConfig{
		Name: StreamName, Subjects: []string{JobsSubject}, Retention: jetstream.WorkQueuePolicy,
		MaxMsgs: int64(opts.MaxJobs), Discard: jetstream.DiscardNew, MaxAge: opts.Retain,
	}
	consumerCfg := jetstream.ConsumerConfig{
		Durable: ConsumerName, AckPolicy: jetstream.AckExplicitPolicy, AckWait: opts.AckWait, MaxDeliver: opts.MaxDeliver,
	}
	statusCfg := jetstream.KeyValueConfig{Bucket: StatusBucket, TTL: opts.Retain}
	resultCfg := jetstream.ObjectStoreConfig{Bucket: ResultBucket, TTL: opts.Retain}
	if update {
		r.stream, err = js.CreateOrUpdateStream(ctx, streamCfg)
	} else if r.stream, err = js.Stream(ctx, StreamName); errors.Is(err, jetstream.ErrStreamNotFound) {
		r.stream, err = js.CreateStream(ctx, streamCfg)
	}
	if err != nil {
		return nil, fmt.Errorf("natsqueue: stream %s: %w", StreamName, err)
	}
	if update {
		r.consumer, err = r.stream.CreateOrUpdateConsumer(ctx, consumerCfg)
	} else if r.consumer, err = r.stream.Consumer(ctx, ConsumerName); errors.Is(err, jetstream.ErrConsumerNotFound) {
		r.consumer, err = r.stream.CreateConsumer(ctx, consumerCfg)
	}
	if err != nil {
		return nil, fmt.Errorf("natsqueue: consumer %s: %w", ConsumerName, err)
	}
	if update {
		r.status, err = js.CreateOrUpdateKeyValue(ctx, statusCfg)
	} else if r.status, err = js.KeyValue(ctx, StatusBucket); errors.Is(err, jetstream.ErrBucketNotFound) {
		r.status, err = js.CreateKeyValue(ctx, statusCfg)
	}
	if err != nil {
		return nil, fmt.Errorf("natsqueue: bucket %s: %w", StatusBucket, err)
	}
	if update {
		r.results, err = js.CreateOrUpdateObjectStore(ctx, resultCfg)
	} else if r.results, err = js.ObjectStore(ctx, ResultBucket); errors.Is(err, jetstream.ErrBucketNotFound) {
		r.results, err = js.CreateObjectStore(ctx, resultCfg)
	}
	if err != nil {
		return nil, fmt.Errorf("natsqueue: object store %s: %w", ResultBucket, err)
	}
	return r, nil
}

// record is a job's latest event as stored in the status bucket. The
// result keys travel beside the status, which leaves them out of its JSON.
type record struct {
	jobqueue.Event
	Results []string `json:"results,omitempty"`
}

func decodeRecord(b []byte) (jobqueue.Event, error) {
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return jobqueue.Event{}, err
	}
	rec.Event.Status.Results = rec.Results
	return rec.Event, nil
}

// putEvent records a job's latest event.
func (r *resources) putEvent(ctx context.Context, e jobqueue.Event) error {
	b, err := json.Marshal(record{Event: e, Results: e.Status.Results})
	if err != nil {
		return err
	}
	_, err = r.status.Put(ctx, e.Status.ID, b)
	return err
}

func (r *resources) getEvent(ctx context.Context, id string) (jobqueue.Event, error) {
	var e jobqueue.Event
	if !validID(id) {
		return e, jobqueue.ErrNotFound
	}
	entry, err := r.status.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return e, jobqueue.ErrNotFound
	}
	if err != nil {
		return e, fmt.Errorf("natsqueue: status %s: %w", id, err)
	}
	return decodeRecord(entry.Value())
}

// validID keeps client-supplied ids to what NewID makes, so that they are
// safe as NATS subjects and keys.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Queue is the server's side: it submits jobs and reads their state.
type Queue struct {
	*resources

	mu        sync.Mutex
	stats     jobqueue.Stats
	statsTime time.Time
}

// NewQueue sets up the JetStream resources on nc and returns the
// server's side of the queue. The connection stays the caller's.
func NewQueue(ctx context.Context, nc *nats.Conn, opts Options) (*Queue, error) {
	r, err := setup(ctx, nc, opts, true)
	if err != nil {
		return nil, err
	}
	return &Queue{resources: r}, nil
}

// Submit implements jobqueue.Queue.
func (q *Queue) Submit(ctx context.Context, spec jobqueue.Spec) (string, error) {
	if spec.Timeout <= 0 {
		spec.Timeout = q.opts.Timeout
	}
	id := jobqueue.NewID()
	st := jobqueue.Status{ID: id, State: jobqueue.Queued, Created: time.Now()}
	if err := q.putEvent(ctx, jobqueue.Event{Type: "status", Status: st}); err != nil {
		return "", fmt.Errorf("natsqueue: submit: %w", err)
	}
	body, err := json.Marshal(job{ID: id, Spec: spec})
	if err != nil {
		return "", err
	}
	if _, err := q.js.Publish(ctx, JobsSubject, body, jetstream.WithMsgID(id)); err != nil {
		q.status.Delete(context.WithoutCancel(ctx), id)
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && strings.Contains(strings.ToLower(apiErr.Description), "maximum messages") {
			return "", jobqueue.ErrFull
		}
		if strings.Contains(strings.ToLower(err.Error()), "maximum messages") {
			return "", jobqueue.ErrFull
		}
		return "", fmt.Errorf("natsqueue: submit: %w", err)
	}
	return id, nil
}

// job is a message on the jobs stream.
type job struct {
	ID   string        `json:"id"`
	Spec jobqueue.Spec `json:"spec"`
}

// Status implements jobqueue.Queue.
func (q *Queue) Status(ctx context.Context, id string) (jobqueue.Status, error) {
	e, err := q.getEvent(ctx, id)
	return e.Status, err
}

// Cancel implements jobqueue.Queue: a queued job is marked cancelled (the
// worker that receives it skips it); a running one is told to stop.
func (q *Queue) Cancel(ctx context.Context, id string) error {
	e, err := q.getEvent(ctx, id)
	if err != nil {
		return err
	}
	switch e.Status.State {
	case jobqueue.Queued:
		e.Type = "status"
		e.Status.State, e.Status.Ended = jobqueue.Cancelled, time.Now()
		if err := q.putEvent(ctx, e); err != nil {
			return err
		}
		return q.nc.Publish(cancelSubject+id, nil) // in case a worker took it meanwhile
	case jobqueue.Running:
		return q.nc.Publish(cancelSubject+id, nil)
	}
	return nil
}

// Events implements jobqueue.Queue by watching the job's status key. A
// slow reader may miss intermediate steps, never the final status.
func (q *Queue) Events(ctx context.Context, id string) (<-chan jobqueue.Event, error) {
	if _, err := q.getEvent(ctx, id); err != nil {
		return nil, err
	}
	w, err := q.status.Watch(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("natsqueue: watch %s: %w", id, err)
	}
	ch := make(chan jobqueue.Event)
	go func() {
		defer close(ch)
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case entry, ok := <-w.Updates():
				if !ok {
					return
				}
				if entry == nil || entry.Operation() != jetstream.KeyValuePut {
					continue // the end of the initial values, or a deletion
				}
				e, err := decodeRecord(entry.Value())
				if err != nil {
					continue
				}
				select {
				case ch <- e:
				case <-ctx.Done():
					return
				}
				if e.Type == "status" && e.Status.State.Final() {
					return
				}
			}
		}
	}()
	return ch, nil
}

// Result implements jobqueue.Queue.
func (q *Queue) Result(ctx context.Context, key string) (jobqueue.Image, error) {
	if !validID(key) {
		return jobqueue.Image{}, jobqueue.ErrNotFound
	}
	res, err := q.results.Get(ctx, key)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return jobqueue.Image{}, jobqueue.ErrNotFound
	}
	if err != nil {
		return jobqueue.Image{}, fmt.Errorf("natsqueue: result %s: %w", key, err)
	}
	defer res.Close()
	info, err := res.Info()
	if err != nil {
		return jobqueue.Image{}, err
	}
	data, err := readAll(res, info.Size)
	if err != nil {
		return jobqueue.Image{}, fmt.Errorf("natsqueue: result %s: %w", key, err)
	}
	return jobqueue.Image{ContentType: info.Description, Data: data}, nil
}

// Stats implements jobqueue.Queue from the consumer's counts, cached for
// a second.
func (q *Queue) Stats() jobqueue.Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	if time.Since(q.statsTime) < time.Second {
		return q.stats
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	q.stats.MaxWaiting = q.opts.MaxJobs
	if info, err := q.consumer.Info(ctx); err == nil {
		q.stats.Waiting, q.stats.Running = int(info.NumPending), info.NumAckPending
	}
	q.statsTime = time.Now()
	return q.stats
}

// Close implements jobqueue.Queue. Jobs stay on the stream for the
// workers; the connection is the caller's to close.
func (q *Queue) Close(context.Context) error { return nil }

var _ jobqueue.Queue = (*Queue)(nil)

package jobqueue

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stepRunner runs steps of d each, stopping when ctx ends.
func stepRunner(steps int, d time.Duration, ran *atomic.Int32) Runner {
	return func(ctx context.Context, s Spec, progress func(Step)) (*Output, error) {
		if ran != nil {
			ran.Add(1)
		}
		for i := 1; i <= steps; i++ {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(d):
			}
			progress(Step{Step: i, Total: steps})
		}
		return &Output{Images: []Image{{ContentType: "image/png", Data: []byte(s.Prompt)}}, Info: Info{Seed: s.Seed}}, nil
	}
}

func TestMemoryEvents(t *testing.T) {
	q := NewMemory(stepRunner(3, time.Millisecond, nil), MemoryOptions{})
	defer q.Close(context.Background())
	id, err := q.Submit(context.Background(), Spec{Prompt: "p", Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	events, err := q.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for e := range events {
		s := e.Type + ":" + string(e.Status.State)
		if e.Type == "step" {
			s = e.Type + ":" + string(rune('0'+e.Status.Step))
		}
		got = append(got, s)
	}
	want := []string{"status:queued", "status:running", "step:1", "step:2", "step:3", "status:succeeded"}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
	st, err := q.Status(context.Background(), id)
	if err != nil || len(st.Results) != 1 || st.Info.Seed != 4 {
		t.Fatalf("status %+v, %v", st, err)
	}
	img, err := q.Result(context.Background(), st.Results[0])
	if err != nil || string(img.Data) != "p" {
		t.Fatalf("result %q, %v", img.Data, err)
	}
}

func TestMemoryFullAndCancel(t *testing.T) {
	var ran atomic.Int32
	q := NewMemory(stepRunner(1000, 5*time.Millisecond, &ran), MemoryOptions{MaxWaiting: 2})
	defer q.Close(context.Background())
	ctx := context.Background()
	running, _ := q.Submit(ctx, Spec{Prompt: "running"})
	for deadline := time.Now().Add(5 * time.Second); q.Stats().Running == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the first job never started")
		}
		time.Sleep(time.Millisecond)
	}
	queued, err := q.Submit(ctx, Spec{Prompt: "queued"})
	if err != nil {
		t.Fatal(err)
	}
	third, err := q.Submit(ctx, Spec{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Cancel(ctx, third)
	if _, err := q.Submit(ctx, Spec{}); !errors.Is(err, ErrFull) {
		t.Fatalf("got %v, want ErrFull", err)
	}
	if st, _ := q.Status(ctx, queued); st.State != Queued || st.Position != 0 {
		t.Fatalf("queued job: %+v", st)
	}
	if err := q.Cancel(ctx, queued); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := q.Cancel(ctx, running); err != nil {
		t.Fatal(err)
	}
	st, err := Wait(ctx, q, running)
	if err != nil || st.State != Cancelled {
		t.Fatalf("running job after cancel: %s, %v", st.State, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("cancel took %v", d)
	}
	if st, _ := q.Status(ctx, queued); st.State != Cancelled {
		t.Fatalf("queued job after cancel: %s", st.State)
	}
	if _, err := q.Status(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestMemoryRetention(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	q := NewMemory(stepRunner(1, 0, nil), MemoryOptions{Retain: time.Minute, Now: clock})
	defer q.Close(context.Background())
	ctx := context.Background()
	id, _ := q.Submit(ctx, Spec{Prompt: "p"})
	st, err := Wait(ctx, q, id)
	if err != nil || st.State != Succeeded {
		t.Fatal(st.State, err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if _, err := q.Status(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired job: %v, want ErrNotFound", err)
	}
	if _, err := q.Result(ctx, st.Results[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired result: %v, want ErrNotFound", err)
	}
}

// TestMemoryEphemeralRetention checks that jobs whose answer carried the
// pictures go after RetainEphemeral while the others stay for Retain,
// whatever order they ended in.
func TestMemoryEphemeralRetention(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	q := NewMemory(stepRunner(1, 0, nil), MemoryOptions{Retain: time.Hour, RetainEphemeral: time.Minute, Now: clock})
	defer q.Close(context.Background())
	ctx := context.Background()
	run := func(ephemeral bool) Status {
		t.Helper()
		id, err := q.Submit(ctx, Spec{Prompt: "p", Ephemeral: ephemeral})
		if err != nil {
			t.Fatal(err)
		}
		st, err := Wait(ctx, q, id)
		if err != nil || st.State != Succeeded {
			t.Fatal(st.State, err)
		}
		return st
	}
	kept := run(false)
	gone := run(true)
	advance(2 * time.Minute)
	last := run(true) // ends now; its sweep drops the expired ephemeral job
	if _, err := q.Status(ctx, gone.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("ephemeral job after 2 min: %v, want ErrNotFound", err)
	}
	if _, err := q.Result(ctx, gone.Results[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("ephemeral result after 2 min: %v, want ErrNotFound", err)
	}
	for _, st := range []Status{kept, last} {
		if _, err := q.Result(ctx, st.Results[0]); err != nil {
			t.Errorf("job %s: %v, want its result kept", st.ID, err)
		}
	}
}

func TestMemoryCloseCancelsLeftovers(t *testing.T) {
	q := NewMemory(stepRunner(100000, time.Millisecond, nil), MemoryOptions{})
	ctx := context.Background()
	a, _ := q.Submit(ctx, Spec{})
	b, _ := q.Submit(ctx, Spec{})
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := q.Close(cctx); err == nil {
		t.Fatal("Close with jobs left: got nil, want the context's error")
	}
	for _, id := range []string{a, b} {
		if st, _ := q.Status(ctx, id); st.State != Cancelled {
			t.Fatalf("job left at close: %s, want cancelled", st.State)
		}
	}
	if _, err := q.Submit(ctx, Spec{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close: %v", err)
	}
}

// TestMemorySubmitCancelChurn submits and cancels many queued jobs while
// the only worker is busy: Submit must never block.
func TestMemorySubmitCancelChurn(t *testing.T) {
	q := NewMemory(stepRunner(100000, time.Millisecond, nil), MemoryOptions{MaxWaiting: 4})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		q.Close(ctx)
	}()
	ctx := context.Background()
	busy, _ := q.Submit(ctx, Spec{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20000 {
			id, err := q.Submit(ctx, Spec{})
			if err != nil {
				t.Error(err)
				return
			}
			q.Cancel(ctx, id)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Submit blocked under submit/cancel churn")
	}
	q.Cancel(ctx, busy)
	q.mu.Lock()
	kept := len(q.jobs)
	q.mu.Unlock()
	if kept > 10000+1 { // the busy job is still running
		t.Fatalf("%d jobs kept, want at most MaxRetained (10000) and the busy one", kept)
	}
}

// TestMemoryWorkersRunInParallel checks that jobs submitted together reach
// every idle worker.
func TestMemoryWorkersRunInParallel(t *testing.T) {
	var mu sync.Mutex
	running, peak := 0, 0
	run := func(ctx context.Context, s Spec, progress func(Step)) (*Output, error) {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
		return &Output{}, nil
	}
	q := NewMemory(run, MemoryOptions{Workers: 3})
	defer q.Close(context.Background())
	var ids []string
	for range 3 {
		id, _ := q.Submit(context.Background(), Spec{})
		ids = append(ids, id)
	}
	for _, id := range ids {
		Wait(context.Background(), q, id)
	}
	if peak != 3 {
		t.Fatalf("at most %d jobs ran at once, want 3", peak)
	}
}

func TestMemoryResultBytesBound(t *testing.T) {
	q := NewMemory(stepRunner(1, 0, nil), MemoryOptions{MaxResultBytes: 10})
	defer q.Close(context.Background())
	ctx := context.Background()
	var ids []string
	for range 3 {
		id, _ := q.Submit(ctx, Spec{Prompt: "8 bytes!"})
		if st, err := Wait(ctx, q, id); err != nil || st.State != Succeeded {
			t.Fatal(st.State, err)
		}
		ids = append(ids, id)
	}
	if _, err := q.Status(ctx, ids[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("oldest job over the byte bound: %v, want ErrNotFound", err)
	}
	st, err := q.Status(ctx, ids[2])
	if err != nil {
		t.Fatalf("newest job: %v", err)
	}
	if _, err := q.Result(ctx, st.Results[0]); err != nil {
		t.Fatalf("newest job's result: %v", err)
	}
}

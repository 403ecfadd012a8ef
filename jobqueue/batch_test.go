package jobqueue

import (
	"context"
	"sync"
	"testing"
	"time"
)

// batchRecorder is a BatchRunner that records the batch sizes it saw and
// runs steps of d each until its context ends.
type batchRecorder struct {
	mu    sync.Mutex
	sizes []int
	steps int
	d     time.Duration
}

func (b *batchRecorder) run(ctx context.Context, specs []Spec, progress func(int, Step)) ([]*Output, []error) {
	b.mu.Lock()
	b.sizes = append(b.sizes, len(specs))
	b.mu.Unlock()
	outs, errs := make([]*Output, len(specs)), make([]error, len(specs))
	for i := 1; i <= b.steps; i++ {
		select {
		case <-ctx.Done():
			for k := range errs {
				errs[k] = ctx.Err()
			}
			return outs, errs
		case <-time.After(b.d):
		}
		for k := range specs {
			progress(k, Step{Step: i, Total: b.steps})
		}
	}
	for k, s := range specs {
		outs[k] = &Output{Images: []Image{{ContentType: "image/png", Data: []byte(s.Prompt)}}, Info: Info{Seed: s.Seed}}
	}
	return outs, errs
}

func TestMemoryBatching(t *testing.T) {
	rec := &batchRecorder{steps: 5, d: 20 * time.Millisecond}
	key := func(s Spec) string { return s.Model }
	q := NewMemory(stepRunner(5, 20*time.Millisecond, nil), MemoryOptions{
		Batch: Batching{Max: 3, Key: key, Run: rec.run},
	})
	defer q.Close(context.Background())
	ctx := context.Background()
	// The first job runs alone (nothing waits with it); the next five
	// queue behind it: "a" ×4 in batches of 3 and 1, "b" alone.
	var ids []string
	for _, m := range []string{"a", "a", "b", "a", "a", "a"} {
		id, err := q.Submit(ctx, Spec{Model: m, Prompt: m + "-prompt", Seed: uint64(len(ids))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		if len(ids) == 1 {
			waitState(t, q, id, Running)
		}
	}
	// Cancel one job of the batch of three once it runs; the other two
	// must still succeed.
	waitState(t, q, ids[4], Running)
	if err := q.Cancel(ctx, ids[3]); err != nil {
		t.Fatal(err)
	}
	waitState(t, q, ids[3], Cancelled) // before its batch ends
	if st, _ := q.Status(ctx, ids[4]); st.State != Running {
		t.Fatalf("the batch ended with its cancelled job: %s", st.State)
	}
	for i, id := range ids {
		st, err := Wait(ctx, q, id)
		want := Succeeded
		if i == 3 {
			want = Cancelled
		}
		if err != nil || st.State != want {
			t.Fatalf("job %d: %s, %v; want %s", i, st.State, err, want)
		}
		if want == Succeeded {
			img, err := q.Result(ctx, st.Results[0])
			if err != nil || string(img.Data) != q.jobs[id].spec.Prompt || st.Info.Seed != uint64(i) {
				t.Fatalf("job %d: result %q seed %d, %v", i, img.Data, st.Info.Seed, err)
			}
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.sizes) != 1 || rec.sizes[0] != 3 {
		t.Fatalf("batch runs of sizes %v, want one of 3 (the rest alone)", rec.sizes)
	}
}

func TestMemoryBatchAllCancelled(t *testing.T) {
	rec := &batchRecorder{steps: 1000, d: 10 * time.Millisecond}
	q := NewMemory(stepRunner(1, time.Millisecond, nil), MemoryOptions{
		Batch: Batching{Max: 4, Wait: 200 * time.Millisecond, Key: func(Spec) string { return "k" }, Run: rec.run},
	})
	ctx := context.Background()
	a, _ := q.Submit(ctx, Spec{Prompt: "a"})
	b, _ := q.Submit(ctx, Spec{Prompt: "b"})
	waitState(t, q, b, Running)
	start := time.Now()
	q.Cancel(ctx, a)
	q.Cancel(ctx, b)
	// With every job ended the run stops, and the queue closes at once.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := q.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("close took %v", d)
	}
	if st := q.Stats(); st.Running != 0 {
		t.Fatalf("running %d after close", st.Running)
	}
}

// waitState polls until job id reaches state, for at most 5 s.
func waitState(t *testing.T, q Queue, id string, state State) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := q.Status(context.Background(), id); err == nil && st.State == state {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("job %s never reached %s", id, state)
}

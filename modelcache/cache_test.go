package modelcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeModel struct {
	name   string
	closed atomic.Bool
}

func (m *fakeModel) Close() error { m.closed.Store(true); return nil }

func TestLoadOnceUnderConcurrentAcquire(t *testing.T) {
	var loads atomic.Int32
	c := New(func(ctx context.Context, name string) (*fakeModel, error) {
		loads.Add(1)
		time.Sleep(50 * time.Millisecond)
		return &fakeModel{name: name}, nil
	}, Options{MaxLoaded: 1})
	defer c.Close()
	var wg sync.WaitGroup
	models := make([]*fakeModel, 20)
	for i := range models {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, release, err := c.Acquire(context.Background(), "a")
			if err != nil {
				t.Error(err)
				return
			}
			models[i] = m
			release()
		}()
	}
	wg.Wait()
	if got := loads.Load(); got != 1 {
		t.Fatalf("got %d loads, want 1", got)
	}
	for i, m := range models {
		if m != models[0] {
			t.Fatalf("request %d got another model instance", i)
		}
	}
}

func TestLRUEviction(t *testing.T) {
	c := New(func(ctx context.Context, name string) (*fakeModel, error) {
		return &fakeModel{name: name}, nil
	}, Options{MaxLoaded: 2})
	defer c.Close()
	get := func(name string) (*fakeModel, func()) {
		m, release, err := c.Acquire(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		return m, release
	}
	a, ra := get("a")
	ra()
	b, rb := get("b")
	rb()
	_, ra2 := get("a") // a is now the most recent
	ra2()
	cm, rc := get("c")
	if !b.closed.Load() || a.closed.Load() || cm.closed.Load() {
		t.Fatalf("closed a=%v b=%v c=%v, want only b (least recently used)", a.closed.Load(), b.closed.Load(), cm.closed.Load())
	}
	// A held model is not closed even when it is the oldest.
	d, rd := get("d")
	if cm.closed.Load() {
		t.Fatal("held model c was closed")
	}
	rc()
	rd()
	if got := fmt.Sprint(c.Loaded()); got != "[c d]" && got != "[a d]" {
		t.Fatalf("loaded %s, want two models ending with d", got)
	}
	_ = d
}

func TestFailedLoadIsRetried(t *testing.T) {
	var calls atomic.Int32
	c := New(func(ctx context.Context, name string) (*fakeModel, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("disk on fire")
		}
		return &fakeModel{name: name}, nil
	}, Options{})
	defer c.Close()
	if _, _, err := c.Acquire(context.Background(), "a"); err == nil {
		t.Fatal("first Acquire: got no error, want the load error")
	}
	_, release, err := c.Acquire(context.Background(), "a")
	if err != nil {
		t.Fatalf("second Acquire: %v", err)
	}
	release()
}

func TestAcquireGivesUpWithContext(t *testing.T) {
	unblock := make(chan struct{})
	c := New(func(ctx context.Context, name string) (*fakeModel, error) {
		<-unblock
		return &fakeModel{name: name}, nil
	}, Options{})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := c.Acquire(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want deadline exceeded", err)
	}
	close(unblock)
	_, release, err := c.Acquire(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	release()
}

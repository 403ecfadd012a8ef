package modelcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// Loader loads the model called name. The cache calls it at most once at
// a time per name; its ctx is not cancelled when the request that caused
// the load gives up, since other requests may be waiting for the model.
type Loader[M io.Closer] func(ctx context.Context, name string) (M, error)

// Options configure a Cache.
type Options struct {
	// MaxLoaded is how many models stay loaded (default 1). A model in use
	// is never closed: the cache then holds more until it is released.
	MaxLoaded int
	// OnLoad, when set, is told of every finished load (for metrics and
	// logs).
	OnLoad func(name string, err error)
}

// ErrClosed is returned by Acquire after Close.
var ErrClosed = errors.New("modelcache: closed")

// Cache holds loaded models. It is safe for concurrent use.
type Cache[M io.Closer] struct {
	load Loader[M]
	opts Options

	mu      sync.Mutex
	entries map[string]*entry[M]
	clock   uint64
	closed  bool
	base    context.Context
	stop    context.CancelFunc
}

type entry[M io.Closer] struct {
	name    string
	model   M
	err     error
	ready   chan struct{} // closed when the load has finished
	refs    int
	used    uint64 // the cache clock at the last Acquire
	evicted bool
}

// New returns a cache that loads models with load.
func New[M io.Closer](load Loader[M], opts Options) *Cache[M] {
	if opts.MaxLoaded <= 0 {
		opts.MaxLoaded = 1
	}
	base, stop := context.WithCancel(context.Background())
	return &Cache[M]{load: load, opts: opts, entries: map[string]*entry[M]{}, base: base, stop: stop}
}

// Acquire returns the model called name, loading it if needed, and a
// release function to call when done with it. Waiting for a load ends
// with ctx.
func (c *Cache[M]) Acquire(ctx context.Context, name string) (M, func(), error) {
	var zero M
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return zero, nil, ErrClosed
	}
	e, ok := c.entries[name]
	if !ok {
		e = &entry[M]{name: name, ready: make(chan struct{})}
		c.entries[name] = e
		go c.loadEntry(e)
	}
	e.refs++
	c.clock++
	e.used = c.clock
	c.mu.Unlock()

	select {
	case <-e.ready:
	case <-ctx.Done():
		c.release(e)
		return zero, nil, ctx.Err()
	}
	c.mu.Lock()
	m, err := e.model, e.err
	c.mu.Unlock()
	if err != nil {
		c.release(e)
		return zero, nil, err
	}
	var once sync.Once
	return m, func() { once.Do(func() { c.release(e) }) }, nil
}

func (c *Cache[M]) loadEntry(e *entry[M]) {
	m, err := c.load(c.base, e.name)
	if c.opts.OnLoad != nil {
		c.opts.OnLoad(e.name, err)
	}
	c.mu.Lock()
	e.model, e.err = m, err
	if err != nil {
		// A failed load is not kept: the next request tries again.
		if c.entries[e.name] == e {
			delete(c.entries, e.name)
		}
		e.evicted = true
	}
	close(e.ready)
	toClose := c.evictLocked()
	c.mu.Unlock()
	closeAll(toClose)
}

func (c *Cache[M]) release(e *entry[M]) {
	c.mu.Lock()
	e.refs--
	var toClose []M
	if e.evicted && e.refs == 0 && e.err == nil && isReady(e) {
		toClose = append(toClose, e.model)
		e.err = ErrClosed
	}
	toClose = append(toClose, c.evictLocked()...)
	c.mu.Unlock()
	closeAll(toClose)
}

func isReady[M io.Closer](e *entry[M]) bool {
	select {
	case <-e.ready:
		return true
	default:
		return false
	}
}

// evictLocked drops least-recently-used loaded models nobody holds until
// at most MaxLoaded remain, returning the models to close.
func (c *Cache[M]) evictLocked() []M {
	var loaded []*entry[M]
	for _, e := range c.entries {
		if isReady(e) && e.err == nil {
			loaded = append(loaded, e)
		}
	}
	excess := len(loaded) - c.opts.MaxLoaded
	if excess <= 0 {
		return nil
	}
	sort.Slice(loaded, func(i, j int) bool { return loaded[i].used < loaded[j].used })
	var out []M
	for _, e := range loaded {
		if excess == 0 {
			break
		}
		if e.refs > 0 {
			continue
		}
		delete(c.entries, e.name)
		e.evicted = true
		e.err = ErrClosed
		out = append(out, e.model)
		excess--
	}
	return out
}

func closeAll[M io.Closer](ms []M) {
	for _, m := range ms {
		m.Close()
	}
}

// Loaded returns the names of the loaded models, sorted.
func (c *Cache[M]) Loaded() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	for n, e := range c.entries {
		if isReady(e) && e.err == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Close closes every loaded model nobody holds and refuses further
// Acquire calls; models still held are closed on release.
func (c *Cache[M]) Close() error {
	c.mu.Lock()
	c.closed = true
	c.stop()
	var toClose []M
	for n, e := range c.entries {
		if !isReady(e) || e.err != nil {
			continue
		}
		delete(c.entries, n)
		e.evicted = true
		if e.refs == 0 {
			e.err = ErrClosed
			toClose = append(toClose, e.model)
		}
	}
	c.mu.Unlock()
	var errs []error
	for _, m := range toClose {
		if err := m.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("modelcache: close: %w", err)
	}
	return nil
}

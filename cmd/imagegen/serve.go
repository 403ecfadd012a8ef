package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/builtin"
	"github.com/imagegen/imagegen/c2pa"
	"github.com/imagegen/imagegen/engine"
	"github.com/imagegen/imagegen/hub"
	"github.com/imagegen/imagegen/jobqueue"
	"github.com/imagegen/imagegen/modelcache"
	"github.com/imagegen/imagegen/modelreg"
	"github.com/imagegen/imagegen/ort"
	"github.com/imagegen/imagegen/pipeline"
	"github.com/imagegen/imagegen/server"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve models over HTTP: OpenAI Images API, jobs with progress events, AUTOMATIC1111 API, a web page",
		Description: "Models are named as in models.yaml (or builtin:NAME); clients cannot name paths.\n" +
			"A model is loaded on its first request and kept, at most --max-loaded at a time.\n" +
			"Listens on 127.0.0.1 unless --addr says otherwise. With --api-key (or IMAGEGEN_API_KEY) every\n" +
			"endpoint but /healthz, /readyz, the web page and result URLs needs \"Authorization: Bearer KEY\".\n\n" +
			"Examples:\n" +
			"   imagegen serve                                  # http://127.0.0.1:8080/, the built-in model\n" +
			"   imagegen serve --addr 127.0.0.1:9000 --max-queue 32 --max-loaded 2\n" +
			"   imagegen serve --queue nats://127.0.0.1:4222    # jobs run by `imagegen worker` processes",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "addr", Usage: "listen address", Value: "127.0.0.1:8080"},
			&cli.StringFlag{Name: "default-model", Usage: "model for requests that name none", Value: "default"},
			&cli.StringFlag{Name: "api-key", Usage: "require this Bearer token", EnvVars: []string{"IMAGEGEN_API_KEY"}},
			&cli.IntFlag{Name: "max-queue", Usage: "jobs waiting beyond the running ones (with NATS: unfinished jobs); more get 429", Value: 16},
			&cli.IntFlag{Name: "workers", Usage: "jobs run at once (in-process queue)", Value: 1},
			&cli.DurationFlag{Name: "request-timeout", Usage: "limit of a synchronous request, queueing included", Value: 5 * time.Minute},
			&cli.DurationFlag{Name: "job-timeout", Usage: "limit of one job's run", Value: 10 * time.Minute},
			&cli.DurationFlag{Name: "result-ttl", Usage: "how long finished jobs and result URLs stay readable", Value: time.Hour},
			&cli.Int64Flag{Name: "max-result-bytes", Usage: "memory for kept pictures (in-process queue); the oldest go first", Value: 1 << 30},
			&cli.Int64Flag{Name: "max-body", Usage: "request body limit in bytes", Value: 32 << 20},
			&cli.DurationFlag{Name: "body-timeout", Usage: "time a client has to send its request body", Value: time.Minute},
			&cli.DurationFlag{Name: "grace", Usage: "on SIGINT/SIGTERM, how long requests in flight may finish", Value: 30 * time.Second},
			&cli.StringFlag{Name: "public-url", Usage: "base of result URLs when clients reach the server through a proxy (default: the request's Host)"},
			&cli.StringFlag{Name: "log-format", Usage: "text or json", Value: "text"},
			&cli.StringFlag{Name: "queue", Usage: "job queue: memory, or nats://HOST:PORT for JetStream with separate workers", Value: "memory"},
			&cli.DurationFlag{Name: "ack-wait", Usage: "NATS: how long a silent worker keeps a job before it goes to another", Value: 30 * time.Second},
		}, runnerFlags()...),
		Action: runServe,
	}
}

// runnerFlags are the flags of the processes that run models (serve,
// worker).
func runnerFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "max-loaded", Usage: "models kept loaded (least recently used closed first)", Value: 1},
		&cli.StringFlag{Name: "device", Usage: "cpu, cuda, cuda:N or auto", Value: "cpu"},
		&cli.IntFlag{Name: "threads", Usage: "ONNX Runtime intra-op threads (0 = one per core)"},
		&cli.IntFlag{Name: "max-images", Usage: "images per request", Value: 10},
		&cli.IntFlag{Name: "max-pixels", Usage: "width×height limit of outputs and uploaded pictures", Value: 2048 * 2048},
		&cli.IntFlag{Name: "max-steps", Usage: "steps per request", Value: 150},
		&cli.IntFlag{Name: "batch-max", Usage: "run up to this many waiting text-to-image jobs of the same model, size, n, steps, scheduler, guidance and negative prompt in one model run (1 = off)", Value: 1},
		&cli.DurationFlag{Name: "batch-wait", Usage: "with --batch-max: how long a job waits for companions when fewer are waiting (0 = only those already waiting)"},
		&cli.StringFlag{Name: "c2pa-key", Usage: "sign every picture (PNG and JPEG) with a C2PA manifest using this ECDSA P-256 `KEY.pem`; needs --c2pa-cert"},
		&cli.StringFlag{Name: "c2pa-cert", Usage: "PEM certificate `CHAIN.pem` of --c2pa-key (signing certificate first)"},
	}
}

// batching is the jobqueue.Batching that --batch-max and --batch-wait ask
// for.
func batching(c *cli.Context, eng *engine.Engine) jobqueue.Batching {
	return jobqueue.Batching{Max: c.Int("batch-max"), Wait: c.Duration("batch-wait"), Key: eng.BatchKey, Run: eng.RunBatch}
}

// newLogger returns the structured logger of serve and worker; --quiet
// keeps warnings and errors only.
func newLogger(c *cli.Context) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{}
	if c.Bool("quiet") {
		opts.Level = slog.LevelWarn
	}
	switch format := c.String("log-format"); format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", c.String("log-format"))
}

// catalog lists the models a server offers: every models.yaml entry and
// every built-in model that generates pictures.
func catalog(reg *modelreg.Registry) []server.ModelInfo {
	var out []server.ModelInfo
	for _, m := range reg.Models() {
		out = append(out, server.ModelInfo{Name: m.Name, Family: m.Family, Description: m.Description, Width: m.Defaults.Width, Height: m.Defaults.Height})
	}
	for _, b := range builtin.All() {
		if b.Family == "vqvae" || b.Family == "upscale" {
			continue // a tokenizer or an upscaler; it makes no pictures from prompts
		}
		out = append(out, server.ModelInfo{Name: builtin.Scheme + b.Name, Family: b.Family, Description: b.Summary})
	}
	return out
}

// newEngine builds the model cache and engine of a serving process. Only
// registry names and builtin:NAME resolve; the Loader never sees a path
// from a client.
func newEngine(c *cli.Context, reg *modelreg.Registry, log *slog.Logger) (*engine.Engine, *modelcache.Cache[*engine.Model], error) {
	dev, err := ort.ParseDevice(c.String("device"))
	if err != nil {
		return nil, nil, err
	}
	signer, err := c2paSigner(c)
	if err != nil {
		return nil, nil, err
	}
	opts := pipeline.Options{Session: ort.Options{Device: dev, IntraOpThreads: c.Int("threads"), Cache: graphCache(c),
		Notice: func(m string) { log.Info("onnxruntime", "notice", m) }}}
	load := func(ctx context.Context, name string) (*engine.Model, error) {
		dir, defaults, err := modelDir(ctx, reg, name)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		p, err := pipeline.Load(ctx, dir, opts)
		if err != nil {
			return nil, err
		}
		log.Info("model loaded", "model", name, "family", p.Family(), "seconds", time.Since(start).Seconds())
		return &engine.Model{Name: name, Pipeline: p, Defaults: defaults}, nil
	}
	cache := modelcache.New(load, modelcache.Options{MaxLoaded: c.Int("max-loaded"), OnLoad: func(name string, err error) {
		if err != nil {
			log.Warn("model load failed", "model", name, "err", err)
		}
	}})
	eng := engine.New(cache, engine.Limits{MaxImages: c.Int("max-images"), MaxPixels: c.Int("max-pixels"), MaxSteps: c.Int("max-steps")})
	if signer != nil {
		eng = eng.WithC2PA(signer, c2pa.Agent{Name: "imagegen", Version: version})
	}
	return eng, cache, nil
}

// modelDir resolves a registry name or builtin:NAME to its checkpoint
// folder and registry defaults.
func modelDir(ctx context.Context, reg *modelreg.Registry, name string) (string, modelreg.Defaults, error) {
	m, err := reg.ByName(name)
	if err != nil {
		if !strings.HasPrefix(name, builtin.Scheme) {
			return "", modelreg.Defaults{}, err
		}
		m = modelreg.Model{Name: name, Source: name}
		for _, e := range reg.Models() {
			if e.Source == name {
				m = e
				break
			}
		}
	}
	switch {
	case m.IsBuiltin():
		dir, err := builtinDir(m)
		return dir, m.Defaults, err
	case m.IsHub():
		ref, err := hub.ParseRef(m.Source)
		if err != nil {
			return "", m.Defaults, err
		}
		cl := hub.NewClientFromEnv()
		cl.ResolvePull = hub.ONNXOnly()
		dir, err := cl.Resolve(ctx, ref)
		return dir, m.Defaults, err
	}
	dir := m.LocalPath()
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", m.Defaults, fmt.Errorf("model %q (from %s): source folder %s does not exist", m.Name, m.File, dir)
	}
	return dir, m.Defaults, nil
}

func runServe(c *cli.Context) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	reg, err := registry(c)
	if err != nil {
		return err
	}
	models := catalog(reg)
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var queue jobqueue.Queue
	var check func(*jobqueue.Spec) error
	loaded := func() []string { return nil }
	if q := c.String("queue"); q == "memory" {
		if err := initRuntime(c); err != nil {
			return err
		}
		eng, cache, err := newEngine(c, reg, log)
		if err != nil {
			return err
		}
		defer cache.Close()
		check, loaded = eng.Check, cache.Loaded
		queue = jobqueue.NewMemory(eng.Run, jobqueue.MemoryOptions{
			MaxWaiting: c.Int("max-queue"), Workers: c.Int("workers"), Timeout: c.Duration("job-timeout"), Retain: c.Duration("result-ttl"),
			MaxResultBytes: c.Int64("max-result-bytes"),
			Batch:          batching(c, eng),
		})
	} else {
		queue, err = openNATSQueue(ctx, q, c, log)
		if err != nil {
			return err
		}
		check = engine.New(nil, engine.Limits{MaxImages: c.Int("max-images"), MaxPixels: c.Int("max-pixels"), MaxSteps: c.Int("max-steps")}).Check
	}
	srv, err := server.New(server.Options{
		Queue: queue, Models: models, DefaultModel: c.String("default-model"), Check: check, Loaded: loaded,
		APIKey: c.String("api-key"), PublicURL: c.String("public-url"), MaxBodyBytes: c.Int64("max-body"), BodyReadTimeout: c.Duration("body-timeout"), RequestTimeout: c.Duration("request-timeout"), Logger: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return err
	}
	log.Info("serving", "addr", "http://"+ln.Addr().String(), "models", len(models), "queue", c.String("queue"), "auth", c.String("api-key") != "")
	err = srv.Serve(ctx, ln, c.Duration("grace"))
	qctx, cancel := context.WithTimeout(context.Background(), c.Duration("grace"))
	defer cancel()
	queue.Close(qctx)
	log.Info("stopped")
	return err
}

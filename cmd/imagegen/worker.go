package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/jobqueue"
	"github.com/imagegen/imagegen/jobqueue/natsqueue"
)

func workerCommand() *cli.Command {
	return &cli.Command{
		Name:  "worker",
		Usage: "run jobs from a NATS JetStream queue that `imagegen serve --queue nats://...` fills",
		Description: "Takes one job at a time from the work-queue stream, runs it, stores the pictures in the\n" +
			"JetStream object store and then acks it; a worker that dies mid-job leaves the job to another.\n" +
			"Start as many as there are machines (or GPUs); they share the stream.\n\n" +
			"Examples:\n" +
			"   imagegen worker --queue nats://127.0.0.1:4222\n" +
			"   imagegen worker --queue nats://queue.internal:4222 --device cuda --max-loaded 2",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "queue", Usage: "NATS server URL", Required: true},
			&cli.StringFlag{Name: "log-format", Usage: "text or json", Value: "text"},
			&cli.DurationFlag{Name: "job-timeout", Usage: "limit of one job's run when the job sets none", Value: 10 * time.Minute},
		}, runnerFlags()...),
		Action: runWorker,
	}
}

// natsOptions are the JetStream settings serve configures (workers use
// the stream as the server set it up).
func natsOptions(c *cli.Context) natsqueue.Options {
	return natsqueue.Options{MaxJobs: c.Int("max-queue"), AckWait: c.Duration("ack-wait"), Retain: c.Duration("result-ttl"), Timeout: c.Duration("job-timeout")}
}

func connectNATS(url string, log *slog.Logger) (*nats.Conn, error) {
	if !strings.HasPrefix(url, "nats://") && !strings.HasPrefix(url, "tls://") {
		return nil, fmt.Errorf("--queue %s: want memory or a nats:// URL", url)
	}
	nc, err := nats.Connect(url, nats.Name("imagegen"), nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("nats disconnected", "err", err) }),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("nats reconnected") }))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	return nc, nil
}

// openNATSQueue connects a server to a JetStream job queue.
func openNATSQueue(ctx context.Context, url string, c *cli.Context, log *slog.Logger) (jobqueue.Queue, error) {
	nc, err := connectNATS(url, log)
	if err != nil {
		return nil, err
	}
	q, err := natsqueue.NewQueue(ctx, nc, natsOptions(c))
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &closingQueue{Queue: q, nc: nc}, nil
}

// closingQueue closes the NATS connection with the queue.
type closingQueue struct {
	*natsqueue.Queue
	nc *nats.Conn
}

func (q *closingQueue) Close(ctx context.Context) error {
	err := q.Queue.Close(ctx)
	q.nc.Drain()
	return err
}

func runWorker(c *cli.Context) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	reg, err := registry(c)
	if err != nil {
		return err
	}
	if err := initRuntime(c); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	eng, cache, err := newEngine(c, reg, log)
	if err != nil {
		return err
	}
	defer cache.Close()
	nc, err := connectNATS(c.String("queue"), log)
	if err != nil {
		return err
	}
	defer nc.Drain()
	w, err := natsqueue.NewWorker(ctx, nc, eng.Run, log, natsqueue.Options{Timeout: c.Duration("job-timeout"), Batch: batching(c, eng)})
	if err != nil {
		return err
	}
	log.Info("worker ready", "queue", c.String("queue"))
	return w.Run(ctx)
}

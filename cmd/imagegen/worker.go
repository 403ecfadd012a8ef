package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/imagegen/imagegen/jobqueue"
)

// openNATSQueue connects a server to a JetStream job queue.
func openNATSQueue(ctx context.Context, url string, c *cli.Context, log *slog.Logger) (jobqueue.Queue, error) {
	return nil, fmt.Errorf("--queue %s: NATS queues are not built in yet", url)
}

// Package natsqueue is a jobqueue.Queue on NATS JetStream, for running
// jobs on other machines than the HTTP server: `imagegen serve --queue
// nats://...` submits, `imagegen worker --queue nats://...` processes run
// them.
//
// Layout on the NATS server (created by Setup, idempotently):
//
//   - stream IMAGEGEN_JOBS (work-queue retention, subject imagegen.jobs):
//     one message per job, removed when a worker acks it; its message
//     bound is the queue bound, so Submit fails with jobqueue.ErrFull
//     when it is reached;
//   - durable pull consumer "workers", shared by all workers: a message
//     is delivered to one worker at a time and redelivered when that
//     worker does not ack within AckWait (it crashed); a running worker
//     extends the deadline at every step, and a batching worker
//     (Options.Batch) also that of the jobs it holds for a later run;
//   - key-value bucket imagegen_jobs: each job's latest event (status and
//     step), which Status reads and Events watches;
//   - object store imagegen_results: the pictures, named JOBID-INDEX,
//     kept for the retention time.
//
// A worker stores the pictures, then writes the final status, then acks:
// a worker that dies at any point before the ack leaves the job to be run
// again, and a rerun overwrites the same object names, so each job has its
// results exactly once. A redelivered job whose status already says it
// succeeded is acked without running.
package natsqueue

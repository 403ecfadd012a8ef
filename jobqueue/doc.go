// Package jobqueue holds image-generation jobs between the HTTP server that
// accepts them and the workers that run them: a bounded queue, job status,
// per-step events and the stored results.
//
// Two implementations share the Queue interface: Memory runs jobs in the
// server's own process; package natsqueue puts them on a JetStream
// work-queue stream that `imagegen worker` processes consume, with results
// in a JetStream object store.
//
// Both can run waiting jobs that share a key together (Batching), for
// models that make several pictures in one run faster than one by one;
// each job keeps its own events, timeout and cancellation.
//
// The package knows nothing about HTTP or about pipelines: a job's Spec is
// plain data, and a Runner (package engine) turns it into pictures.
package jobqueue

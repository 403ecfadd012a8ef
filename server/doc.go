// Package server is imagegen's HTTP front end: an OpenAI-compatible Images
// API (/v1/images/generations, /v1/images/edits, /v1/models), an
// asynchronous jobs API with server-sent progress events (/v1/jobs), the
// AUTOMATIC1111 web UI's API (/sdapi/v1/...), a small web page at /, and
// health, readiness and Prometheus metrics endpoints.
//
// Handlers are thin: they decode a request into a jobqueue.Spec, submit it
// to the Queue the server was given and encode what comes back. Models,
// the queue and the result store are explicit values passed in Options;
// the server holds no global state, so two servers in one process do not
// interfere. Running the jobs is package engine's business, queueing them
// package jobqueue's.
package server

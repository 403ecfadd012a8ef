// Package engine runs image-generation jobs (jobqueue.Spec) on pipelines
// kept by a modelcache.Cache and encodes the pictures, for the server and
// for `imagegen worker` alike. It holds the checks that protect a
// long-running process from hostile input: a picture's declared size is
// read before it is decoded.
package engine

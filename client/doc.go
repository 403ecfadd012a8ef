// Package client is a small Go client for the jobs API of `imagegen
// serve`: submit a job, follow its progress events, cancel it, fetch its
// pictures. It speaks HTTP only and does not import the server.
package client

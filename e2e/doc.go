// Package e2e holds meso's end-to-end tests: they build the meso binary,
// start real master and agent processes on loopback, and drive them through
// the public Mesos v1 scheduler API (package scheduler) and the meso CLI, the
// way a user and a third-party framework would.
//
// The tests start everything they need and stop it by PID; they need only
// the Go toolchain and /bin/sh. Run them with `go test ./e2e` (part of
// `make test`).
package e2e

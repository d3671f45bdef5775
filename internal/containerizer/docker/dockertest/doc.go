// Package dockertest helps tests that need a real Docker daemon: it finds
// the daemon (saying why not, for a skip message) and builds a tiny image
// FROM scratch holding Debian's static busybox (apt-get install
// busybox-static), through the Engine API, from a tar context made in
// memory: no registry is needed.
//
// It is for tests only (the containerizer's own and the end-to-end ones).
package dockertest

// Package relay hands values from a goroutine that must never block (a
// scheduler backend's loop) to a consumer that may (the driver), in order.
// The Mesos backends of both rdd modes use it for what they report.
package relay

// Package authn holds the credentials meso's daemons authenticate
// against: Mesos' credentials file (--credentials on the master,
// --credential on the agent), HTTP Basic authentication of requests with
// a constant-time secret comparison, and the 401 challenge Mesos sends
// (WWW-Authenticate: Basic realm="mesos").
//
// A credentials file is JSON, {"credentials":[{"principal":"p","secret":"s"}]},
// or, as Mesos also reads, text with one "principal secret" pair a line.
// Flags name it by path or as file:///path.
//
// The authenticated principal travels in the request's context
// (Principal); handlers that need it (the scheduler API's principal
// checks) read it there.
package authn

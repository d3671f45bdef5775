// Package operator holds what the v1 operator API (POST /api/v1) of the
// master and of the agent share: reading and decoding a call under the
// daemon's HTTP bounds, writing a Response in the negotiated codec, the
// error answers (400 for a malformed call, 501 for a call meso does not
// implement), the logging level that SET_LOGGING_LEVEL toggles for a while
// (glog's verbosity mapped onto a slog.LevelVar), and the conversion of
// flags and metrics to their wire form.
//
// The calls themselves are the daemons': internal/master and
// internal/agent decode into mesos.v1.master.Call and mesos.v1.agent.Call
// and answer from their own state.
package operator

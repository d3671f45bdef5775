// Package health runs Mesos health checks (TaskInfo.health_check) and
// checks (TaskInfo.check) for meso's built-in executors.
//
// The package is a pure core with a thin shell:
//
//   - ParseHealthCheck and ParseCheck validate the protobufs as Mesos does
//     and apply Mesos' defaults (delay 15s, interval 10s, timeout 20s, 3
//     consecutive failures, grace period 10s); errors wrap ErrInvalid.
//   - Health and Check are the deciding state machines, with time as an
//     input: Due says when the next probe starts, Observe takes a probe's
//     Result and the time it ended and says what to report. Health follows
//     Mesos' health checker: failures before the first success and within
//     the grace period are ignored; every other failure is reported
//     (healthy=false) with the count of consecutive failures, and Kill once
//     the count reaches consecutive_failures; a success is reported when it
//     is the first or ends failures (healthy=true). Check reports a
//     CheckStatusInfo (exit code, HTTP status code, TCP outcome; only the
//     type when the probe gave no result) whenever it changes.
//   - Prober runs one probe: a COMMAND in the task's sandbox and
//     environment, in its own process group (killed on timeout); an HTTP
//     GET of scheme://127.0.0.1:port/path following redirects and
//     ignoring certificate errors (Mesos' `curl -L -k`); healthy when the
//     final status is 2xx or 3xx; a TCP connect to 127.0.0.1:port.
//   - Monitor drives the state machines for one task with timers, one
//     goroutine per check, and sends Updates on a channel until Stop.
//     Update.TaskStatus turns an update into the status Mesos' executors
//     send: a copy of the task's last status with
//     REASON_TASK_HEALTH_CHECK_STATUS_UPDATED and healthy, or
//     REASON_TASK_CHECK_STATUS_UPDATED and check_status.
//
// What the executor does with a Kill (kill the task, mark its terminal
// update healthy=false) is the executor's business; see commandexec and
// defaultexec.
package health

// Package execpolicy holds the Mesos rules that meso's built-in executors
// (the command executor and the default executor) share: the terminal state
// and message of a task from how its process ended, the grace period of a
// kill (the KILL's policy, else the task's, else a default), the shorter
// grace an executor uses when it must stop itself, and framework capability
// checks (TASK_KILLING_STATE). Keeping them in one place keeps the two
// executors' behaviour identical.
package execpolicy

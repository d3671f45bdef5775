package mesospb

// Small helpers on the wire types, written by hand (not generated), so
// that every package asks the same questions the same way.

// IsTerminal reports whether a task state is terminal: the task will not
// change state again (TASK_FINISHED, TASK_FAILED, TASK_KILLED, TASK_ERROR,
// TASK_LOST, TASK_DROPPED, TASK_GONE, TASK_GONE_BY_OPERATOR).
// TASK_UNREACHABLE and TASK_UNKNOWN are not: the task may come back.
func IsTerminal(s TaskState) bool {
	switch s {
	case TaskState_TASK_FINISHED, TaskState_TASK_FAILED, TaskState_TASK_KILLED,
		TaskState_TASK_ERROR, TaskState_TASK_LOST, TaskState_TASK_DROPPED,
		TaskState_TASK_GONE, TaskState_TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}

package mesospb

import "testing"

func TestIsTerminal(t *testing.T) {
	terminal := map[TaskState]bool{
		TaskState_TASK_FINISHED: true, TaskState_TASK_FAILED: true, TaskState_TASK_KILLED: true,
		TaskState_TASK_ERROR: true, TaskState_TASK_LOST: true, TaskState_TASK_DROPPED: true,
		TaskState_TASK_GONE: true, TaskState_TASK_GONE_BY_OPERATOR: true,
	}
	for n := range TaskState_name {
		s := TaskState(n)
		if got := IsTerminal(s); got != terminal[s] {
			t.Errorf("IsTerminal(%v) = %v, want %v", s, got, terminal[s])
		}
	}
}

func TestHasCapability(t *testing.T) {
	info := &FrameworkInfo{Capabilities: []*FrameworkInfo_Capability{{Type: FrameworkInfo_Capability_MULTI_ROLE.Enum()}}}
	if !HasCapability(info, FrameworkInfo_Capability_MULTI_ROLE) || HasCapability(info, FrameworkInfo_Capability_GPU_RESOURCES) ||
		HasCapability(nil, FrameworkInfo_Capability_MULTI_ROLE) {
		t.Error("HasCapability")
	}
}

func TestNewUUID(t *testing.T) {
	a, b := NewUUID(), NewUUID()
	if len(a) != 16 || string(a) == string(b) || a[6]>>4 != 4 || a[8]>>6 != 2 {
		t.Fatalf("NewUUID: %x %x", a, b)
	}
	if s := UUIDString(a); len(s) != 36 || s[8] != '-' || s[14] != '4' {
		t.Fatalf("UUIDString: %q", s)
	}
}

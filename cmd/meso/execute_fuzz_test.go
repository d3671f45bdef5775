package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
)

// isFileArg: a flag value naming a file (read, not parsed): not what these
// targets are about, and the fuzzer must not read the machine's files.
func isFileArg(s string) bool { return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "file:") }

// wireRoundTrip checks that m encodes in both codecs (so its required
// fields are set) and decodes back: to itself from protobuf, to a message
// that encodes the same from JSON (which fills in defaults, as Mesos does).
func wireRoundTrip(t *testing.T, what string, m proto.Message) {
	t.Helper()
	for _, c := range []codec.Codec{codec.Protobuf, codec.JSON} {
		b, err := c.Marshal(m)
		if err != nil {
			t.Fatalf("%s does not encode as %v: %v\n%v", what, c, err, m)
		}
		back := m.ProtoReflect().New().Interface()
		if err := c.Unmarshal(b, back); err != nil {
			t.Fatalf("%s does not decode back from %v: %v\n%v", what, c, err, m)
		}
		want := m
		if c == codec.JSON {
			want = back.ProtoReflect().New().Interface()
			b2, _ := c.Marshal(back)
			if err := c.Unmarshal(b2, want); err != nil {
				t.Fatalf("%s: JSON of its decoded form does not decode: %v", what, err)
			}
		}
		if !proto.Equal(back, want) {
			t.Fatalf("%s does not decode back from %v:\n%v\n%v", what, c, want, back)
		}
	}
}

// TestEnvFlagRefusesNUL: a value with a NUL byte cannot reach a process's
// environment; it is refused when the flag is read, not when the task
// fails on the agent.
func TestEnvFlagRefusesNUL(t *testing.T) {
	if _, err := parseEnvFlag(`{"A": "x\u0000y"}`); err == nil || !strings.Contains(err.Error(), `"A"`) {
		t.Fatalf("parseEnvFlag with a NUL in a value: %v, want an error naming the variable", err)
	}
}

// FuzzEnvFlag: --env is accepted exactly when it is a JSON object of
// strings whose names and values a process environment can hold, and gives
// those variables, sorted by name.
func FuzzEnvFlag(f *testing.F) {
	for _, s := range []string{`{"A": "1", "B": "two"}`, `{}`, `{"": "x"}`, `{"A=B": "x"}`, `{"A": 1}`, `[]`, `null`,
		`{"A": "x\u0000y"}`, `{"A\u0000": ""}`, `{"A": "1", "A": "2"}`, `{"\u00e9": "\ud800"}`, `{"A": "1"} x`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		if isFileArg(arg) {
			return
		}
		env, err := parseEnvFlag(arg)
		var vars map[string]string
		valid := json.Unmarshal([]byte(arg), &vars) == nil
		for name, v := range vars {
			if name == "" || strings.ContainsAny(name, "=\x00") || strings.ContainsRune(v, 0) {
				valid = false
			}
		}
		if valid != (err == nil) {
			t.Fatalf("parseEnvFlag(%q) = %v, %v; want valid=%v", arg, env, err, valid)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "--env") {
				t.Fatalf("parseEnvFlag(%q): error %q does not name the flag", arg, err)
			}
			return
		}
		var names []string
		for _, v := range env.GetVariables() {
			names = append(names, v.GetName())
			if v.GetType() != mesospb.Environment_Variable_VALUE || v.GetValue() != vars[v.GetName()] {
				t.Fatalf("parseEnvFlag(%q): variable %v, want value %q", arg, v, vars[v.GetName()])
			}
		}
		if len(names) != len(vars) || !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
			t.Fatalf("parseEnvFlag(%q): names %q, want the %d of the object, sorted", arg, names, len(vars))
		}
		wireRoundTrip(t, "--env", env)
	})
}

// FuzzTaskFlag: --task gives an error naming the flag, or a task that the
// launch completes (agent id, resources) into a TaskInfo the wire accepts.
func FuzzTaskFlag(f *testing.F) {
	for _, s := range []string{
		`{"name": "t", "task_id": {"value": "t"}, "command": {"value": "true"}, "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}]}`,
		`{"name": "t", "task_id": {"value": "t"}, "agent_id": {"value": "a9"}, "command": {"value": "true"}, "resources": [{"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}]}`,
		`{"name": "t", "task_id": {"value": ""}, "resources": []}`,
		`{"name": "t", "task_id": {"value": "t"}, "executor": {"executor_id": {"value": "e"}, "command": {"value": "x"}}, "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]}`,
		`{"name": "t", "task_id": {"value": "t"}, "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": -1}}]}`,
		`{"name": "t", "task_id": {"value": "t"}, "resources": [{"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 5, "end": 1}]}}]}`,
		`[]`, `{}`, `null`, `{"agent_id": null}`, `[null]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		if isFileArg(arg) {
			return
		}
		fl := &executeFlags{master: "127.0.0.1:5050", task: arg, contentType: "json", role: "*", frameworkName: "fuzz"}
		p, err := fl.plan("nobody")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "--") {
				t.Fatalf("--task %q: error %q does not name a flag", arg, err)
			}
			return
		}
		if p.task.GetTaskId().GetValue() == "" || p.task.AgentId != nil || len(p.task.Resources) != 0 || p.resources.IsEmpty() {
			t.Fatalf("--task %q gave an unusable plan: %v needing %v", arg, p.task, p.resources)
		}
		task := proto.CloneOf(p.task)
		task.AgentId = &mesospb.AgentID{Value: proto.String("a1")}
		task.Resources = p.resources.ToProto("*", false)
		if task.Executor != nil {
			task.Executor.Resources = p.executorResources.ToProto("*", false)
		}
		wireRoundTrip(t, "the task of --task", task)
	})
}

// FuzzVolumesFlag: --volumes gives an error naming the flag, or volumes
// with a container path each, in a ContainerInfo the wire accepts.
func FuzzVolumesFlag(f *testing.F) {
	for _, s := range []string{`[{"container_path": "/data", "host_path": "/srv/data", "mode": "RO"}]`,
		`[{"container_path": "tmp", "mode": "RW"}, {"container_path": "/b", "mode": "RO", "source": {"type": "SANDBOX_PATH", "sandbox_path": {"type": "SELF", "path": "x"}}}]`,
		`[{"container_path": " ", "mode": "RW"}]`, `[{"mode": "RW"}]`, `[{"container_path": "/x"}]`, `[]`, `{}`, `null`, `[null]`,
		`[{"container_path": "/x", "mode": "NOPE"}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		if isFileArg(arg) {
			return
		}
		for _, image := range []string{"", "busybox"} {
			c := containerFlags{volumes: arg, dockerImage: image}
			ci, err := c.containerInfo()
			if err != nil {
				if !strings.HasPrefix(err.Error(), "--volumes") {
					t.Fatalf("--volumes %q: error %q does not name the flag", arg, err)
				}
				return
			}
			if ci == nil {
				if image != "" {
					t.Fatalf("--volumes %q with an image: no ContainerInfo", arg)
				}
				continue // no volume, no image
			}
			for i, v := range ci.GetVolumes() {
				if strings.TrimSpace(v.GetContainerPath()) == "" {
					t.Fatalf("--volumes %q: volume %d has no container path: %v", arg, i, v)
				}
			}
			wireRoundTrip(t, "the ContainerInfo of --volumes", ci)
		}
	})
}

package operator

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// filler sets random fields of messages, every required one included,
// down to a depth: strings that need escaping, named enum values, finite
// numbers, lists and nested messages.
type filler struct{ r *rand.Rand }

var fillStrings = []string{"", "a", "web", "eng/web", "tâche é", "日本語", `q " \ b`, "line\nbreak", "ctl \x01\x7f", "<&>"}

func (f *filler) fill(m protoreflect.Message, depth int) {
	fds := m.Descriptor().Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		if fd.Cardinality() != protoreflect.Required && f.r.IntN(3) != 0 {
			continue
		}
		if fd.ContainingOneof() != nil && m.WhichOneof(fd.ContainingOneof()) != nil {
			continue
		}
		if fd.Kind() == protoreflect.MessageKind && depth <= 0 && fd.Cardinality() != protoreflect.Required {
			continue
		}
		switch {
		case fd.IsMap():
			continue // the Mesos messages have none
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range 1 + f.r.IntN(3) {
				if fd.Kind() == protoreflect.MessageKind {
					e := l.NewElement()
					f.fill(e.Message(), depth-1)
					l.Append(e)
				} else {
					l.Append(f.scalar(fd))
				}
			}
		case fd.Kind() == protoreflect.MessageKind:
			f.fill(m.Mutable(fd).Message(), depth-1)
		default:
			m.Set(fd, f.scalar(fd))
		}
	}
}

func (f *filler) scalar(fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(f.r.IntN(2) == 0)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(f.r.IntN(vals.Len())).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(f.r.Int32() - 1<<30)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(f.r.Int64() - 1<<62)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(f.r.Uint32())
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(f.r.Uint64())
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(f.r.NormFloat64() * 1e3))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(f.r.NormFloat64() * 1e9)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(fillStrings[f.r.IntN(len(fillStrings))])
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(fillStrings[f.r.IntN(len(fillStrings))]))
	}
	panic(fmt.Sprint("no random value of kind ", fd.Kind()))
}

func (f *filler) task() *mesospb.Task {
	t := &mesospb.Task{}
	f.fill(t.ProtoReflect(), 3)
	return t
}

func (f *filler) agent() *masterpb.Response_GetAgents_Agent {
	a := &masterpb.Response_GetAgents_Agent{}
	f.fill(a.ProtoReflect(), 3)
	return a
}

// state is a random GET_STATE answer holding the given tasks and agents.
func (f *filler) state(tasks []*mesospb.Task, agents []*masterpb.Response_GetAgents_Agent) *masterpb.Response {
	gs := &masterpb.Response_GetState{
		GetTasks:      &masterpb.Response_GetTasks{},
		GetAgents:     &masterpb.Response_GetAgents{Agents: agents},
		GetFrameworks: &masterpb.Response_GetFrameworks{},
		GetExecutors:  &masterpb.Response_GetExecutors{},
	}
	for _, t := range tasks {
		switch f.r.IntN(4) {
		case 0:
			gs.GetTasks.CompletedTasks = append(gs.GetTasks.CompletedTasks, t)
		case 1:
			gs.GetTasks.UnreachableTasks = append(gs.GetTasks.UnreachableTasks, t)
		default:
			gs.GetTasks.Tasks = append(gs.GetTasks.Tasks, t)
		}
	}
	f.fill(gs.GetFrameworks.ProtoReflect(), 4)
	f.fill(gs.GetExecutors.ProtoReflect(), 4)
	if f.r.IntN(2) == 0 {
		f.fill(gs.GetAgents.ProtoReflect(), 4) // recovered agents (and more agents)
	}
	return &masterpb.Response{Type: masterpb.Response_GET_STATE.Enum(), GetState: gs}
}

// checkEqualsCodec encodes resp with e and with the codecs themselves.
func checkEqualsCodec(t *testing.T, e *StateEncoder, resp *masterpb.Response) {
	t.Helper()
	for _, c := range []codec.Codec{codec.JSON, codec.Protobuf} {
		want, werr := c.Marshal(resp)
		got, gerr := e.Marshal(c, resp)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%s: error %v, the codec's %v", c, gerr, werr)
		}
		if !bytes.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Fatalf("%s: %d bytes, the codec's %d, first difference at %d: %q against %q", c, len(got), len(want), i,
				got[i:min(len(got), i+60)], want[i:min(len(want), i+60)])
		}
	}
}

// The encoder writes what the codecs write, for GET_STATE, GET_TASKS,
// GET_AGENTS and another answer, over random states; the same encoder
// throughout, so later answers take unchanged tasks and agents from the
// cache while changed ones (new messages) are encoded anew.
func TestStateEncoderEqualsCodec(t *testing.T) {
	var e StateEncoder
	for seed := range uint64(60) {
		f := &filler{r: rand.New(rand.NewPCG(seed, 12))}
		var tasks []*mesospb.Task
		var agents []*masterpb.Response_GetAgents_Agent
		for range f.r.IntN(40) {
			tasks = append(tasks, f.task())
		}
		for range f.r.IntN(10) {
			agents = append(agents, f.agent())
		}
		for round := range 3 {
			resp := f.state(tasks, agents)
			checkEqualsCodec(t, &e, resp)
			checkEqualsCodec(t, &e, resp) // all from the cache
			checkEqualsCodec(t, &e, &masterpb.Response{Type: masterpb.Response_GET_TASKS.Enum(), GetTasks: resp.GetState.GetTasks})
			checkEqualsCodec(t, &e, &masterpb.Response{Type: masterpb.Response_GET_AGENTS.Enum(), GetAgents: resp.GetState.GetAgents})
			// Some tasks and agents change: new messages, as the core's.
			for i := range tasks {
				if f.r.IntN(3) == 0 {
					tasks[i] = f.task()
				}
			}
			for i := range agents {
				if f.r.IntN(3) == 0 {
					agents[i] = f.agent()
				}
			}
			_ = round
		}
		other := &masterpb.Response{Type: masterpb.Response_GET_FRAMEWORKS.Enum(), GetFrameworks: &masterpb.Response_GetFrameworks{}}
		f.fill(other.GetFrameworks.ProtoReflect(), 4)
		checkEqualsCodec(t, &e, other)
	}
	if j, p := e.Cached(); j == 0 || p == 0 {
		t.Fatalf("cached %d JSON and %d protobuf encodings: the cache is not used", j, p)
	}
}

// A state with a field the decoder did not know (unknown fields) and an
// empty one are written as the codec writes them.
func TestStateEncoderUnknownAndEmpty(t *testing.T) {
	var e StateEncoder
	checkEqualsCodec(t, &e, &masterpb.Response{Type: masterpb.Response_GET_STATE.Enum(), GetState: &masterpb.Response_GetState{}})
	f := &filler{r: rand.New(rand.NewPCG(5, 6))}
	resp := f.state([]*mesospb.Task{f.task(), f.task()}, []*masterpb.Response_GetAgents_Agent{f.agent()})
	b, err := proto.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	// Field 99 of GetTasks, unknown to the generated type.
	resp.GetState.GetTasks.ProtoReflect().SetUnknown(protoreflect.RawFields{0x9a, 0x06, 0x01, 'x'})
	_ = b
	checkEqualsCodec(t, &e, resp)
}

// A message the encoder took from its cache is written as it was when
// cached: the encoder is right only because the master never modifies a
// task record a query took (versioned records). This pins that contract:
// a task modified in place after an answer is still written as before.
func TestStateEncoderKeepsByMessage(t *testing.T) {
	var e StateEncoder
	f := &filler{r: rand.New(rand.NewPCG(9, 9))}
	task := f.task()
	resp := f.state([]*mesospb.Task{task}, nil)
	first, err := e.Marshal(codec.Protobuf, resp)
	if err != nil {
		t.Fatal(err)
	}
	task.Name = proto.String("changed in place")
	again, err := e.Marshal(codec.Protobuf, resp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Fatal("the cached task was encoded again")
	}
}

// countWriter counts the writes it gets.
type countWriter struct {
	bytes.Buffer
	writes int
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

// An answer of many megabytes of JSON goes out in pieces, and the
// pieces make the codec's answer; twice, the second from the cache.
func TestStateEncoderLargeStreams(t *testing.T) {
	f := &filler{r: rand.New(rand.NewPCG(21, 22))}
	var tasks []*mesospb.Task
	for range 3000 {
		tasks = append(tasks, f.task())
	}
	resp := f.state(tasks, []*masterpb.Response_GetAgents_Agent{f.agent(), f.agent()})
	want, err := codec.JSON.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var e StateEncoder
	for round := range 2 {
		var w countWriter
		if err := e.Encode(&w, codec.JSON, resp); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w.Bytes(), want) {
			t.Fatalf("round %d: %d bytes, the codec's %d", round, w.Len(), len(want))
		}
		if min := len(want) / (80 << 10); w.writes < min {
			t.Fatalf("round %d: %d writes for %d bytes: not streamed", round, w.writes, len(want))
		}
	}
	checkEqualsCodec(t, &e, resp)
}

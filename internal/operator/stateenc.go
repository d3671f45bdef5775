package operator

import (
	"bytes"
	"cmp"
	"io"
	"slices"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
)

// StateEncoder encodes operator answers (GET_STATE, GET_TASKS, GET_AGENTS
// and any other Response) keeping each task's and each agent entry's
// encoding, JSON and protobuf, by its message: the master's task records
// and agent entries are immutable once a query took them (a changed task
// or agent is a new message), so an unchanged one costs a map lookup and
// a copy instead of an encoding. The caller must not hand it messages it
// or anyone modifies afterwards. The output is byte for byte the codec's
// (codec.JSON.Marshal, proto.Marshal): TestStateEncoderEqualsCodec.
//
// Encodings not used for a while are dropped (two generations, about 1.25
// times the largest answer's encodings in all: msgCache.done).
// A StateEncoder is safe for concurrent use; the zero value is ready.
type StateEncoder struct {
	mu    sync.Mutex
	json  msgCache // guarded by mu
	proto msgCache // guarded by mu
	// scratch holds protoWriters' slices for the next answer.
	scratch sync.Pool
}

// Marshal encodes resp as c does.
func (e *StateEncoder) Marshal(c codec.Codec, resp *masterpb.Response) ([]byte, error) {
	var b bytes.Buffer
	if err := e.Encode(&b, c, resp); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Encode writes resp to w as c encodes it. JSON goes out in pieces of
// about 64 KiB as it is written (a GET_STATE at 10,000 agents / 100,000
// tasks is over 100 MB of JSON), so an error of the codec may come after
// some of it was written ; protobuf is written
// whole (its size is known first).
func (e *StateEncoder) Encode(w io.Writer, c codec.Codec, resp *masterpb.Response) error {
	switch c {
	case codec.JSON:
		use := &jsonUse{e: e, w: w}
		b, err := codec.AppendJSONCached(make([]byte, 0, 80<<10), resp, use)
		e.mu.Lock()
		e.json.done(use.n)
		e.mu.Unlock()
		if err != nil {
			return err
		}
		if use.err != nil {
			return use.err
		}
		_, err = w.Write(b)
		return err
	case codec.Protobuf:
		pw := w
		w, _ := e.scratch.Get().(*protoWriter)
		if w == nil {
			w = &protoWriter{}
		}
		*w = protoWriter{e: e, sizes: w.sizes[:0], leaves: w.leaves[:0]}
		defer func() {
			clear(w.leaves) // hold no cached bytes
			w.e = nil
			e.scratch.Put(w)
		}()
		if err := w.prepare(resp.ProtoReflect()); err != nil {
			return err
		}
		b := make([]byte, 0, w.sizes[0])
		b = w.write(b, resp.ProtoReflect())
		e.mu.Lock()
		e.proto.done(w.n)
		e.mu.Unlock()
		_, err := pw.Write(b)
		return err
	}
	b, err := c.Marshal(resp)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Cached is how many JSON and protobuf encodings the encoder holds.
func (e *StateEncoder) Cached() (json, protobuf int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.json.cur) + len(e.json.old), len(e.proto.cur) + len(e.proto.old)
}

// cachedKind says whether m is a message whose encoding is kept.
func cachedKind(m proto.Message) bool {
	switch m.(type) {
	case *mesospb.Task, *masterpb.Response_GetAgents_Agent:
		return true
	}
	return false
}

// msgCache keeps encodings in two generations: found in the older, one
// moves to the newer (done says when each is dropped).
type msgCache struct {
	cur, old map[proto.Message][]byte
	largest  int
}

const minGeneration = 4096

func (c *msgCache) get(m proto.Message) ([]byte, bool) {
	b, ok := c.cur[m]
	if !ok {
		if b, ok = c.old[m]; ok {
			delete(c.old, m)
			c.put(m, b)
		}
	}
	return b, ok
}

func (c *msgCache) put(m proto.Message, b []byte) {
	if c.cur == nil {
		c.cur = map[proto.Message][]byte{}
	}
	c.cur[m] = b
}

// done ends an answer that used n encodings. The older generation is
// dropped after the first answer that used most of the largest one's
// encodings since it became the older: what that answer did not take from
// it, no whole answer used since. The newer becomes the older once it
// holds a quarter more than the largest answer used (at least
// minGeneration): with the encodings an answer takes from the older moved
// to the newer, the cache holds about 1.25 times the largest answer's
// (the two generations each up to twice that before).
func (c *msgCache) done(n int) {
	c.largest = max(c.largest, n)
	if c.old != nil && 2*n >= c.largest {
		c.old = nil
	}
	if len(c.cur) > max(c.largest+c.largest/4, minGeneration) {
		c.old, c.cur = c.cur, make(map[proto.Message][]byte, c.largest)
	}
}

// jsonUse is the codec.MessageCache of one JSON answer.
type jsonUse struct {
	e   *StateEncoder
	n   int // cached kinds written
	w   io.Writer
	err error // the first write's error
}

func (u *jsonUse) Get(m proto.Message) (js []byte, found, keep bool) {
	if !cachedKind(m) {
		return nil, false, false
	}
	u.n++
	u.e.mu.Lock()
	b, ok := u.e.json.get(m)
	u.e.mu.Unlock()
	return b, ok, true
}

func (u *jsonUse) Flush(b []byte) []byte {
	if u.err == nil {
		_, u.err = u.w.Write(b)
	}
	return b[:0]
}

func (u *jsonUse) Put(m proto.Message, js []byte) {
	if !cachedKind(m) {
		return
	}
	b := slices.Clone(js)
	u.e.mu.Lock()
	u.e.json.put(m, b)
	u.e.mu.Unlock()
}

// protoWriter writes one protobuf answer as proto.Marshal does (fields in
// number order, each message field as its tag, length and bytes, unknown
// fields last), with the cached kinds' bytes from the cache and every
// other message below the answer's containers marshalled whole.
//
// prepare walks the answer once, depth first, noting each container's
// size (sizes, in walk order) and each cached message's bytes (leaves, in
// walk order); write walks it again in the same order.
type protoWriter struct {
	e      *StateEncoder
	sizes  []int
	leaves [][]byte
	n      int // cached kinds written
	si, li int // write's positions in sizes and leaves
}

// container says whether m is walked field by field: the answers'
// messages that hold tasks or agent entries.
func container(m protoreflect.Message) bool {
	switch m.Interface().(type) {
	case *masterpb.Response, *masterpb.Response_GetState, *masterpb.Response_GetTasks, *masterpb.Response_GetAgents:
		return true
	}
	return false
}

// fields lists m's populated fields in number order.
func fields(m protoreflect.Message) []protoreflect.FieldDescriptor {
	var fds []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		fds = append(fds, fd)
		return true
	})
	slices.SortFunc(fds, func(a, b protoreflect.FieldDescriptor) int { return cmp.Compare(a.Number(), b.Number()) })
	return fds
}

// prepare computes the size of m (a container) and of what it holds.
func (w *protoWriter) prepare(m protoreflect.Message) error {
	at := len(w.sizes)
	w.sizes = append(w.sizes, 0)
	size := 0
	for _, fd := range fields(m) {
		if fd.Kind() != protoreflect.MessageKind {
			b, err := scalarField(m, fd)
			if err != nil {
				return err
			}
			size += len(b)
			continue
		}
		var err error
		each(m, fd, func(sub protoreflect.Message) {
			if err != nil {
				return
			}
			var n int
			n, err = w.prepareMessage(sub)
			size += protowire.SizeTag(fd.Number()) + protowire.SizeBytes(n)
		})
		if err != nil {
			return err
		}
	}
	size += len(m.GetUnknown())
	w.sizes[at] = size
	return nil
}

// prepareMessage is prepare of a message field's value: its size.
func (w *protoWriter) prepareMessage(sub protoreflect.Message) (int, error) {
	if container(sub) {
		at := len(w.sizes)
		if err := w.prepare(sub); err != nil {
			return 0, err
		}
		return w.sizes[at], nil
	}
	b, err := w.leaf(sub.Interface())
	if err != nil {
		return 0, err
	}
	w.leaves = append(w.leaves, b)
	return len(b), nil
}

// leaf returns m's bytes: the cached kinds' from the cache (marshalled
// and kept when missing), others marshalled.
func (w *protoWriter) leaf(m proto.Message) ([]byte, error) {
	if !cachedKind(m) {
		return proto.Marshal(m)
	}
	w.n++
	w.e.mu.Lock()
	b, ok := w.e.proto.get(m)
	w.e.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	w.e.mu.Lock()
	w.e.proto.put(m, b)
	w.e.mu.Unlock()
	return b, nil
}

// write appends m (a container) as prepare measured it.
func (w *protoWriter) write(b []byte, m protoreflect.Message) []byte {
	w.si++ // m's own size, written by its parent
	for _, fd := range fields(m) {
		if fd.Kind() != protoreflect.MessageKind {
			sb, _ := scalarField(m, fd) // marshalled once in prepare already
			b = append(b, sb...)
			continue
		}
		each(m, fd, func(sub protoreflect.Message) {
			b = protowire.AppendTag(b, fd.Number(), protowire.BytesType)
			if container(sub) {
				b = protowire.AppendVarint(b, uint64(w.sizes[w.si]))
				b = w.write(b, sub)
				return
			}
			leaf := w.leaves[w.li]
			w.li++
			b = protowire.AppendVarint(b, uint64(len(leaf)))
			b = append(b, leaf...)
		})
	}
	return append(b, m.GetUnknown()...)
}

// each calls fn with the message value of fd (singular or each element).
func each(m protoreflect.Message, fd protoreflect.FieldDescriptor, fn func(protoreflect.Message)) {
	v := m.Get(fd)
	if !fd.IsList() {
		fn(v.Message())
		return
	}
	l := v.List()
	for i := range l.Len() {
		fn(l.Get(i).Message())
	}
}

// scalarField marshals the one non-message field fd of a container: a
// message of m's type holding only that field.
func scalarField(m protoreflect.Message, fd protoreflect.FieldDescriptor) ([]byte, error) {
	one := m.New()
	one.Set(fd, m.Get(fd))
	return proto.Marshal(one.Interface())
}

package codec_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/codec/internal/testpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// fuzzTypes are the message types every fuzz input is decoded as.
func fuzzTypes() []proto.Message {
	return []proto.Message{&testpb.Event{}, &testpb.Tree{}, &testpb.Scalars{}, &testpb.Defaults{}, &testpb.Required{}}
}

func FuzzJSONUnmarshal(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"type":"OFFERS","offers":{"offers":[]}}`,
		`{"name":"t","children":[{"name":"c"}],"labels":[{"key":"a","value":{"value":"1"}}],"tags":[{"key":1,"value":"x"}],"num":"5"}`,
		`{"d":2.0,"f":0.1,"i64":"-42","u64":18446744073709551615,"r_i64":[1,"2"],"s":"\u00e9\ud83d\ude00","by":"AQ==","color":"RED","r_color":[1,"NOPE"]}`,
		`{"id":{"value":"x"},"color":"GREEN","more":[{"value":""},null]}`,
		`{"timeout":null,"shell":false,"big":1e19}`,
		`{"zz":[{"a":[true,false,null,-0.5e-3]}],"b":true}`,
		"{\"s\":\"a\xffb\"}",
		`{"s":"\ud800","r_s":["\udbff\udfff","\ud800\u0041"]}`,
		"{\"name\":\"t\",\"labels\":{\"\xff\":{\"value\":\"\xc0\"}},\"tags\":[{\"key\":1,\"value\":\"\xed\xa0\x80\"}]}",
		`{"name":"t","labels":{"a":{"value":"1"},"b":null},"tags":{"-1":"x","7":"y"}}`,
	} {
		f.Add([]byte(s))
	}
	for _, m := range []proto.Message{offersEvent(2), &testpb.Defaults{}} {
		b, _ := codec.MarshalJSON(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, typ := range fuzzTypes() {
			m1 := typ.ProtoReflect().New().Interface()
			if err := codec.UnmarshalJSON(in, m1); err != nil {
				if !strings.HasPrefix(err.Error(), "codec: json: ") {
					t.Fatalf("error without prefix: %v", err)
				}
				continue
			}
			// Every string that gets in is valid UTF-8: invalid input is
			// refused, never replaced.
			checkUTF8Strings(t, m1.ProtoReflect(), "")
			b2, err := codec.MarshalJSON(m1)
			if err != nil {
				t.Fatalf("decoded %T does not encode: %v", m1, err)
			}
			m2 := typ.ProtoReflect().New().Interface()
			if err := codec.UnmarshalJSON(b2, m2); err != nil {
				t.Fatalf("re-encoded %s does not decode: %v", b2, err)
			}
			// The encoder writes defaults, so the first round trip adds
			// them; after that the message and its bytes are stable.
			fillDefaults(m1.ProtoReflect())
			if diff := cmpDiff(m1, m2); diff != "" {
				t.Fatalf("round trip of %s differs:\n%s", b2, diff)
			}
			b3, err := codec.MarshalJSON(m2)
			if err != nil || string(b3) != string(b2) {
				t.Fatalf("encoding is not stable:\n%s\n%s (%v)", b2, b3, err)
			}
		}
	})
}

func FuzzProtobufUnmarshal(f *testing.F) {
	for _, m := range []proto.Message{
		offersEvent(2), &testpb.Defaults{Role: proto.String("r")},
		&testpb.Tree{Name: proto.String("t"), Labels: map[string]*testpb.ID{"a": id("1")}, Choice: &testpb.Tree_Num{Num: -1}},
		&testpb.Scalars{D: proto.Float64(0.5), S: proto.String("x"), RColor: []testpb.Color{testpb.Color_RED}, RSfx64: []int64{1, 2}},
		&testpb.Required{Id: id("x"), Color: testpb.Color_BLUE.Enum()},
	} {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, typ := range fuzzTypes() {
			m1 := typ.ProtoReflect().New().Interface()
			if err := codec.Protobuf.Unmarshal(in, m1); err != nil {
				continue
			}
			b2, err := codec.Protobuf.Marshal(m1)
			if err != nil {
				t.Fatalf("decoded %T does not encode: %v", m1, err)
			}
			m2 := typ.ProtoReflect().New().Interface()
			if err := codec.Protobuf.Unmarshal(b2, m2); err != nil {
				t.Fatalf("re-encoded message does not decode: %v", err)
			}
			if diff := cmpDiff(m1, m2); diff != "" {
				t.Fatalf("protobuf round trip differs:\n%s", diff)
			}
			checkJSONAgrees(t, m1)
		}
	})
}

// checkJSONAgrees checks that a message decoded from protobuf survives a
// JSON round trip, up to what JSON cannot carry: unknown fields, invalid
// UTF-8 (replaced) and unset defaults (written).
func checkJSONAgrees(t *testing.T, m proto.Message) {
	t.Helper()
	want := proto.Clone(m)
	normalize(want.ProtoReflect())
	b, err := codec.MarshalJSON(m)
	if err != nil {
		if !strings.Contains(err.Error(), "has no name") {
			t.Fatalf("JSON encoding failed: %v", err)
		}
		return
	}
	got := m.ProtoReflect().New().Interface()
	if err := codec.UnmarshalJSON(b, got); err != nil {
		t.Fatalf("JSON %s does not decode: %v", b, err)
	}
	checkUTF8Strings(t, got.ProtoReflect(), "")
	if diff := cmpDiff(want, got); diff != "" {
		t.Fatalf("JSON round trip of %s differs:\n%s", b, diff)
	}
}

// checkUTF8Strings fails the test if a string anywhere in m (a field, a
// list element, a map key or value) is not valid UTF-8.
func checkUTF8Strings(t *testing.T, m protoreflect.Message, path string) {
	t.Helper()
	check := func(where, s string) {
		if !utf8.ValidString(s) {
			t.Fatalf("decoded string at %s is not valid UTF-8: %q", where, s)
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := path + "." + string(fd.Name())
		switch {
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapKey().Kind() == protoreflect.StringKind {
					check(name+" key", k.String())
				}
				switch {
				case fd.MapValue().Kind() == protoreflect.StringKind:
					check(name+"["+k.String()+"]", mv.String())
				case fd.MapValue().Message() != nil:
					checkUTF8Strings(t, mv.Message(), name+"["+k.String()+"]")
				}
				return true
			})
		case fd.IsList():
			for j := 0; j < v.List().Len(); j++ {
				switch {
				case fd.Kind() == protoreflect.StringKind:
					check(name, v.List().Get(j).String())
				case fd.Message() != nil:
					checkUTF8Strings(t, v.List().Get(j).Message(), name)
				}
			}
		case fd.Kind() == protoreflect.StringKind:
			check(name, v.String())
		case fd.Message() != nil:
			checkUTF8Strings(t, v.Message(), name)
		}
		return true
	})
}

// fillDefaults sets, recursively, the unset optional fields that the JSON
// encoder writes with their default value.
func fillDefaults(m protoreflect.Message) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) && !fd.IsList() && !fd.IsMap() && fd.HasDefault() && fd.ContainingOneof() == nil &&
			!fd.Options().(*descriptorpb.FieldOptions).GetDeprecated() {
			m.Set(fd, fd.Default())
		}
	}
	eachMessage(m, fillDefaults)
}

// normalize applies everything a JSON round trip does to a message.
func normalize(m protoreflect.Message) {
	m.SetUnknown(nil)
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			var bad, unnamed []protoreflect.MapKey
			mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				if fd.MapValue().Kind() == protoreflect.EnumKind && fd.MapValue().Enum().Values().ByNumber(v.Enum()) == nil {
					unnamed = append(unnamed, k)
				}
				if fd.MapValue().Kind() == protoreflect.StringKind {
					mp.Set(k, protoreflect.ValueOfString(validUTF8(v.String())))
				}
				if fd.MapKey().Kind() == protoreflect.StringKind && validUTF8(k.String()) != k.String() {
					bad = append(bad, k)
				}
				return true
			})
			for _, k := range unnamed {
				mp.Clear(k)
			}
			for _, k := range bad {
				v := mp.Get(k)
				mp.Clear(k)
				mp.Set(protoreflect.ValueOfString(validUTF8(k.String())).MapKey(), v)
			}
		case fd.IsList() && fd.Kind() == protoreflect.StringKind:
			l := m.Mutable(fd).List()
			for j := 0; j < l.Len(); j++ {
				l.Set(j, protoreflect.ValueOfString(validUTF8(l.Get(j).String())))
			}
		case fd.IsList() && fd.Kind() == protoreflect.EnumKind:
			l := m.Mutable(fd).List()
			var keep []protoreflect.Value
			for j := 0; j < l.Len(); j++ {
				if fd.Enum().Values().ByNumber(l.Get(j).Enum()) != nil {
					keep = append(keep, l.Get(j))
				}
			}
			l.Truncate(0)
			for _, v := range keep {
				l.Append(v)
			}
		case fd.Kind() == protoreflect.EnumKind && fd.Enum().Values().ByNumber(m.Get(fd).Enum()) == nil:
			m.Clear(fd)
		case fd.Kind() == protoreflect.StringKind && !fd.IsList():
			m.Set(fd, protoreflect.ValueOfString(validUTF8(m.Get(fd).String())))
		}
	}
	fillDefaults(m)
	eachMessage(m, normalize)
}

func validUTF8(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

// eachMessage calls fn on every message directly held by m.
func eachMessage(m protoreflect.Message, fn func(protoreflect.Message)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					fn(mv.Message())
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for j := 0; j < v.List().Len(); j++ {
					fn(v.List().Get(j).Message())
				}
			}
		case fd.Message() != nil:
			fn(v.Message())
		}
		return true
	})
}

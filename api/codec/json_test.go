package codec_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/codec/internal/testpb"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

func id(v string) *testpb.ID { return &testpb.ID{Value: proto.String(v)} }

func mustMarshal(t *testing.T, m proto.Message) string {
	t.Helper()
	b, err := codec.MarshalJSON(m)
	if err != nil {
		t.Fatalf("MarshalJSON(%v): %v", m, err)
	}
	if !json.Valid(b) {
		t.Fatalf("MarshalJSON wrote invalid JSON: %s", b)
	}
	return string(b)
}

func TestMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		msg  proto.Message
		want string
	}{
		{"empty", &testpb.Scalars{}, `{}`},
		{"snake case names, sorted keys", &testpb.Scalars{CamelCaseName: proto.String("x"), B: proto.Bool(true), S: proto.String("s")},
			`{"b":true,"camel_case_name":"x","s":"s"}`},
		{"64-bit integers are numbers", &testpb.Scalars{
			I64: proto.Int64(math.MinInt64), U64: proto.Uint64(math.MaxUint64), S64: proto.Int64(-5),
			Fx64: proto.Uint64(1 << 60), Sfx64: proto.Int64(math.MaxInt64),
		}, `{"fx64":1152921504606846976,"i64":-9223372036854775808,"s64":-5,"sfx64":9223372036854775807,"u64":18446744073709551615}`},
		{"32-bit integers", &testpb.Scalars{I32: proto.Int32(-1), U32: proto.Uint32(math.MaxUint32), S32: proto.Int32(math.MinInt32), Fx32: proto.Uint32(7), Sfx32: proto.Int32(-7)},
			`{"fx32":7,"i32":-1,"s32":-2147483648,"sfx32":-7,"u32":4294967295}`},
		{"whole double gets .0", &testpb.Scalars{D: proto.Float64(2)}, `{"d":2.0}`},
		{"fractional double", &testpb.Scalars{D: proto.Float64(0.1)}, `{"d":0.1}`},
		{"negative zero", &testpb.Scalars{D: proto.Float64(math.Copysign(0, -1))}, `{"d":-0.0}`},
		{"large double", &testpb.Scalars{D: proto.Float64(1e20)}, `{"d":100000000000000000000.0}`},
		{"huge double", &testpb.Scalars{D: proto.Float64(1.5e300)}, `{"d":1.5e+300}`},
		{"tiny double", &testpb.Scalars{D: proto.Float64(1e-7)}, `{"d":1e-7}`},
		{"float is shortest float32", &testpb.Scalars{F: proto.Float32(0.1)}, `{"f":0.1}`},
		{"memory size", &testpb.Scalars{D: proto.Float64(1024.5)}, `{"d":1024.5}`},
		{"enum by name", &testpb.Scalars{Color: testpb.Color_BLUE.Enum()}, `{"color":"BLUE"}`},
		{"bytes base64 std", &testpb.Scalars{By: []byte{0xfb, 0xff, 0xfe}}, `{"by":"+//+"}`},
		{"empty bytes set", &testpb.Scalars{By: []byte{}}, `{"by":""}`},
		{"repeated", &testpb.Scalars{RI64: []int64{1, -2}, RColor: []testpb.Color{testpb.Color_RED, testpb.Color_GREEN}, RBy: [][]byte{{1}, {}}, RD: []float64{1, 1.5}},
			`{"r_by":["AQ==",""],"r_color":["RED","GREEN"],"r_d":[1.0,1.5],"r_i64":[1,-2]}`},
		{"string escapes", &testpb.Scalars{S: proto.String("a\"b\\c\n\t\x01\x7f/é✓")}, `{"s":"a\"b\\c\n\t\u0001\u007f/é✓"}`},
		{"invalid utf-8 replaced", &testpb.Scalars{S: proto.String("a\xffb")}, `{"s":"a\ufffdb"}`},
		{"defaults written unless deprecated", &testpb.Defaults{},
			`{"big":18446744073709551615,"color":"GREEN","data":"YWI=","n":7,"name":"x/y","ratio":0.5,"shell":true,"timeout":5.0}`},
		{"set values override defaults", &testpb.Defaults{Shell: proto.Bool(false), Role: proto.String("web"), Plain: proto.String("p")},
			`{"big":18446744073709551615,"color":"GREEN","data":"YWI=","n":7,"name":"x/y","plain":"p","ratio":0.5,"role":"web","shell":false,"timeout":5.0}`},
		{"enum numbers without a name are left out", &testpb.Scalars{Color: testpb.Color(9).Enum(), RColor: []testpb.Color{7, testpb.Color_RED, 8}},
			`{"r_color":["RED"]}`},
		{"all unnamed", &testpb.Scalars{RColor: []testpb.Color{7}}, `{}`},
		{"unnamed enum falls back to the default", &testpb.Defaults{Color: testpb.Color(9).Enum(), Shell: proto.Bool(true)},
			`{"big":18446744073709551615,"color":"GREEN","data":"YWI=","n":7,"name":"x/y","ratio":0.5,"shell":true,"timeout":5.0}`},
		{"nested and oneof", &testpb.Tree{Name: proto.String("t"), Choice: &testpb.Tree_Ref{Ref: id("r")}, Children: []*testpb.Tree{{Name: proto.String("c")}}},
			`{"children":[{"name":"c"}],"name":"t","ref":{"value":"r"}}`},
		{"map as entry list sorted by key", &testpb.Tree{Name: proto.String("t"), Labels: map[string]*testpb.ID{"b": id("2"), "a": id("1")}, Tags: map[int32]string{10: "x", -1: "y"}},
			`{"labels":[{"key":"a","value":{"value":"1"}},{"key":"b","value":{"value":"2"}}],"name":"t","tags":[{"key":-1,"value":"y"},{"key":10,"value":"x"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustMarshal(t, tt.msg); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestMarshalJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		msg  proto.Message
		want string
	}{
		{"missing required at top", &testpb.Required{Id: id("x")}, `codec: json: missing required field "color"`},
		{"missing required nested", &testpb.Required{Id: &testpb.ID{}, Color: testpb.Color_RED.Enum()}, `codec: json: field "id": missing required field "value"`},
		{"missing required in list", &testpb.Required{Id: id("x"), Color: testpb.Color_RED.Enum(), More: []*testpb.ID{id("a"), {}}},
			`codec: json: field "more[1]": missing required field "value"`},
		{"deep path", &testpb.Event{Offers: &testpb.Event_Offers{Offers: []*testpb.Offer{offer(0), {Id: id("x"), FrameworkId: id("f"), AgentId: id("a"), Hostname: proto.String("h"), Resources: []*testpb.Resource{{Name: proto.String("cpus"), Type: testpb.Value_SCALAR.Enum(), Scalar: &testpb.Value_Scalar{}}}}}}},
			`codec: json: field "offers.offers[1].resources[0].scalar": missing required field "value"`},
		{"required enum without name", &testpb.Required{Id: id("x"), Color: testpb.Color(9).Enum()}, `codec: json: field "color": enum value 9 has no name in meso.codec.testpb.Color`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := codec.MarshalJSON(tt.msg)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v\nwant  %s", err, tt.want)
			}
		})
	}
	_, err := codec.MarshalJSON(&testpb.Required{})
	if !errors.Is(err, codec.ErrMissingRequired) {
		t.Fatalf("missing required field error does not wrap ErrMissingRequired: %v", err)
	}
}

func TestUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want proto.Message
	}{
		{"empty object", `{}`, &testpb.Scalars{}},
		{"whitespace", " \t\n{ \"b\" : true }\r\n", &testpb.Scalars{B: proto.Bool(true)}},
		{"64-bit as numbers", `{"i64":-9223372036854775808,"u64":18446744073709551615,"s64":-1,"fx64":1,"sfx64":9223372036854775807}`,
			&testpb.Scalars{I64: proto.Int64(math.MinInt64), U64: proto.Uint64(math.MaxUint64), S64: proto.Int64(-1), Fx64: proto.Uint64(1), Sfx64: proto.Int64(math.MaxInt64)}},
		{"64-bit as strings", `{"i64":"-42","u64":"18446744073709551615","r_i64":["1",2]}`,
			&testpb.Scalars{I64: proto.Int64(-42), U64: proto.Uint64(math.MaxUint64), RI64: []int64{1, 2}}},
		{"integers with exponent and fraction", `{"i32":3.0,"i64":1.5e3,"u64":100e-2,"s32":-0}`,
			&testpb.Scalars{I32: proto.Int32(3), I64: proto.Int64(1500), U64: proto.Uint64(1), S32: proto.Int32(0)}},
		{"doubles", `{"d":2,"f":0.1,"r_d":[1.0,"2.5",-1e-7],"r_f":[3]}`,
			&testpb.Scalars{D: proto.Float64(2), F: proto.Float32(0.1), RD: []float64{1, 2.5, -1e-7}, RF: []float32{3}}},
		{"enum by name", `{"color":"GREEN","r_color":["RED","BLUE"]}`, &testpb.Scalars{Color: testpb.Color_GREEN.Enum(), RColor: []testpb.Color{testpb.Color_RED, testpb.Color_BLUE}}},
		{"enum by number", `{"color":3,"r_color":[1,"GREEN"]}`, &testpb.Scalars{Color: testpb.Color_BLUE.Enum(), RColor: []testpb.Color{testpb.Color_RED, testpb.Color_GREEN}}},
		{"unknown optional enum is unset", `{"color":"PURPLE","s":"x"}`, &testpb.Scalars{S: proto.String("x")}},
		{"unknown optional enum number is unset", `{"color":42}`, &testpb.Scalars{}},
		{"unknown enum in list is dropped", `{"r_color":["RED","PURPLE",7,"BLUE"]}`, &testpb.Scalars{RColor: []testpb.Color{testpb.Color_RED, testpb.Color_BLUE}}},
		{"bytes std padded", `{"by":"+//+","r_by":["AQ==",""]}`, &testpb.Scalars{By: []byte{0xfb, 0xff, 0xfe}, RBy: [][]byte{{1}, {}}}},
		{"bytes unpadded and url-safe", `{"by":"-__-","r_by":["AQ","AQI"]}`, &testpb.Scalars{By: []byte{0xfb, 0xff, 0xfe}, RBy: [][]byte{{1}, {1, 2}}}},
		{"string escapes", `{"s":"a\"b\\c\/d\n\t\u0001\u00e9\ud83d\ude00"}`, &testpb.Scalars{S: proto.String("a\"b\\c/d\n\t\x01é😀")}},
		{"invalid utf-8 in an unknown field is skipped", "{\"zz\":\"a\xffb\",\"s\":\"ok\"}", &testpb.Scalars{S: proto.String("ok")}},
		{"invalid utf-8 in a bytes field's base64 is not a string", `{"by":"AQ=="}`, &testpb.Scalars{By: []byte{1}}},
		{"null means unset", `{"d":null,"s":null,"color":null,"r_i64":null,"by":null}`, &testpb.Scalars{}},
		{"null clears an earlier key", `{"s":"x","s":null}`, &testpb.Scalars{}},
		{"null elements skipped", `{"r_s":["a",null,"b"]}`, &testpb.Scalars{RS: []string{"a", "b"}}},
		{"null message", `{"name":"t","left":null,"ref":null}`, &testpb.Tree{Name: proto.String("t")}},
		{"last key wins", `{"s":"a","s":"b","r_s":["x"],"r_s":["y","z"]}`, &testpb.Scalars{S: proto.String("b"), RS: []string{"y", "z"}}},
		{"unknown fields ignored", `{"zzz":{"a":[1,{"b":null}],"c":"\u0041"},"b":false,"yyy":-1.5e3,"xxx":true}`, &testpb.Scalars{B: proto.Bool(false)}},
		{"json names accepted", `{"camelCaseName":"x","rI64":[1]}`, &testpb.Scalars{CamelCaseName: proto.String("x"), RI64: []int64{1}}},
		{"defaults not added on read", `{}`, &testpb.Defaults{}},
		{"nested, oneof, maps", `{"name":"t","children":[{"name":"c","left":{"name":"l"}}],"text":"x","num":5,
			"labels":[{"key":"a","value":{"value":"1"}},{"value":{"value":"2"},"key":"b"},null],"tags":[{"key":"7","value":"x"},{"key":-1}]}`,
			&testpb.Tree{Name: proto.String("t"), Children: []*testpb.Tree{{Name: proto.String("c"), Left: &testpb.Tree{Name: proto.String("l")}}},
				Choice: &testpb.Tree_Num{Num: 5}, Labels: map[string]*testpb.ID{"a": id("1"), "b": id("2")}, Tags: map[int32]string{7: "x", -1: ""}}},
		{"maps as objects", `{"name":"t","labels":{"a":{"value":"1"},"b":null},"tags":{"-1":"x","7":"y"}}`,
			&testpb.Tree{Name: proto.String("t"), Labels: map[string]*testpb.ID{"a": id("1")}, Tags: map[int32]string{-1: "x", 7: "y"}}},
		{"empty message field is set", `{"name":"t","left":{"name":"l","left":{"name":"m"}}}`,
			&testpb.Tree{Name: proto.String("t"), Left: &testpb.Tree{Name: proto.String("l"), Left: &testpb.Tree{Name: proto.String("m")}}}},
		{"required present", `{"id":{"value":""},"color":"RED","colors":["BLUE","NOPE"]}`,
			&testpb.Required{Id: id(""), Color: testpb.Color_RED.Enum(), Colors: []testpb.Color{testpb.Color_BLUE}}},
		{"required with unknown optional enum", `{"id":{"value":"x"},"color":2,"opt_color":"NOPE"}`,
			&testpb.Required{Id: id("x"), Color: testpb.Color_GREEN.Enum()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.want.ProtoReflect().New().Interface()
			if err := codec.UnmarshalJSON([]byte(tt.in), got); err != nil {
				t.Fatalf("UnmarshalJSON: %v", err)
			}
			if diff := cmpDiff(tt.want, got); diff != "" {
				t.Fatalf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnmarshalJSONResets(t *testing.T) {
	m := &testpb.Scalars{S: proto.String("old"), RI64: []int64{1}}
	if err := codec.UnmarshalJSON([]byte(`{"b":true}`), m); err != nil {
		t.Fatal(err)
	}
	if m.S != nil || m.RI64 != nil || !m.GetB() {
		t.Fatalf("message not reset: %v", m)
	}
}

func TestUnmarshalJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		msg  proto.Message
		in   string
		want string
	}{
		{"empty input", &testpb.Scalars{}, ``, `codec: json: empty input, expected a JSON object`},
		{"top-level array", &testpb.Scalars{}, `[]`, `codec: json: expected a JSON object, got an array`},
		{"top-level null", &testpb.Scalars{}, `null`, `codec: json: expected a JSON object, got null`},
		{"trailing data", &testpb.Scalars{}, `{} {}`, `codec: json: syntax error at offset 3: unexpected data after the top-level object`},
		{"truncated", &testpb.Scalars{}, `{"s":"abc`, `codec: json: field "s": syntax error: unexpected end of input`},
		{"missing colon", &testpb.Scalars{}, `{"s" "x"}`, `codec: json: syntax error at offset 5: expected ':' after object key`},
		{"trailing comma", &testpb.Scalars{}, `{"s":"x",}`, `codec: json: syntax error at offset 9: expected a string key`},
		{"bad literal", &testpb.Scalars{}, `{"b":tru}`, `codec: json: field "b": syntax error at offset 5: invalid literal`},
		{"bad number", &testpb.Scalars{}, `{"d":01}`, `codec: json: syntax error at offset 6: expected ',' or '}' in object`},
		{"bad number in unknown field", &testpb.Scalars{}, `{"zz":-}`, `codec: json: syntax error at offset 7: invalid number`},
		{"control char in string", &testpb.Scalars{}, "{\"s\":\"a\x01\"}", `codec: json: field "s": syntax error at offset 7: control character in string`},
		{"bad escape", &testpb.Scalars{}, `{"s":"\x"}`, `codec: json: field "s": syntax error at offset 7: invalid escape character`},
		{"string for number", &testpb.Scalars{}, `{"i64":"abc"}`, `codec: json: field "i64": invalid number "abc"`},
		{"number string with spaces", &testpb.Scalars{}, `{"i64":" 1"}`, `codec: json: field "i64": invalid number " 1"`},
		{"bool for number", &testpb.Scalars{}, `{"d":true}`, `codec: json: field "d": expected a number, got a boolean`},
		{"number for string", &testpb.Scalars{}, `{"s":1}`, `codec: json: field "s": expected a string, got a number`},
		{"string for bool", &testpb.Scalars{}, `{"b":"true"}`, `codec: json: field "b": expected a boolean, got a string`},
		{"object for scalar", &testpb.Scalars{}, `{"s":{}}`, `codec: json: field "s": expected a string, got an object`},
		{"array for singular", &testpb.Scalars{}, `{"s":["x"]}`, `codec: json: field "s": expected a string, got an array`},
		{"scalar for repeated", &testpb.Scalars{}, `{"r_s":"x"}`, `codec: json: field "r_s": expected an array, got a string`},
		{"bad element", &testpb.Scalars{}, `{"r_i64":[1,true]}`, `codec: json: field "r_i64[1]": expected a number, got a boolean`},
		{"fraction for integer", &testpb.Scalars{}, `{"i32":1.5}`, `codec: json: field "i32": number 1.5 is not an integer in range for int32`},
		{"int32 overflow", &testpb.Scalars{}, `{"i32":2147483648}`, `codec: json: field "i32": number 2147483648 out of range for int32`},
		{"uint negative", &testpb.Scalars{}, `{"u64":-1}`, `codec: json: field "u64": number -1 out of range for uint64`},
		{"uint64 overflow", &testpb.Scalars{}, `{"u64":18446744073709551616}`, `codec: json: field "u64": number 18446744073709551616 is not an integer in range for uint64`},
		{"huge exponent", &testpb.Scalars{}, `{"i64":1e999999999999}`, `codec: json: field "i64": number 1e999999999999 is not an integer in range for int64`},
		{"double overflow", &testpb.Scalars{}, `{"d":1e400}`, `codec: json: field "d": number 1e400 out of range for double`},
		{"float overflow", &testpb.Scalars{}, `{"f":1e39}`, `codec: json: field "f": number 1e39 out of range for float`},
		{"bad base64", &testpb.Scalars{}, `{"by":"!!!!"}`, `codec: json: field "by": invalid base64: illegal base64 data at input byte 0`},
		{"object for enum", &testpb.Scalars{}, `{"color":{}}`, `codec: json: field "color": expected an enum name, got an object`},
		{"missing required", &testpb.Required{}, `{"color":"RED"}`, `codec: json: missing required field "id"`},
		{"missing nested required", &testpb.Required{}, `{"id":{},"color":"RED"}`, `codec: json: field "id": missing required field "value"`},
		{"null required", &testpb.Required{}, `{"id":{"value":null},"color":"RED"}`, `codec: json: field "id": missing required field "value"`},
		{"unknown required enum", &testpb.Required{}, `{"id":{"value":"x"},"color":"PURPLE"}`, `codec: json: field "color": unknown value "PURPLE" for enum meso.codec.testpb.Color`},
		{"unknown required enum number", &testpb.Required{}, `{"id":{"value":"x"},"color":9}`, `codec: json: field "color": unknown value 9 for enum meso.codec.testpb.Color`},
		{"required in list element", &testpb.Event{}, `{"offers":{"offers":[{"id":{"value":"o"},"framework_id":{"value":"f"},"agent_id":{"value":"a"},"hostname":"h","resources":[{"name":"cpus"}]}]}}`,
			`codec: json: field "offers.offers[0].resources[0]": missing required field "type"`},
		{"error deep in list", &testpb.Event{}, `{"offers":{"offers":[{"resources":[{"scalar":{"value":"x"}}]}]}}`,
			`codec: json: field "offers.offers[0].resources[0].scalar.value": invalid number "x"`},
		{"map entry without its message value", &testpb.Tree{}, `{"name":"t","labels":[{"key":"k"}]}`, `codec: json: field "labels[0].value": missing required field "value"`},
		{"map entry not an object", &testpb.Tree{}, `{"name":"t","tags":[1]}`, `codec: json: field "tags[0]": expected an object, got a number`},
		{"map as string", &testpb.Tree{}, `{"name":"t","tags":"x"}`, `codec: json: field "tags": expected an array of {"key","value"} objects or an object, got a string`},
		{"bad map object key", &testpb.Tree{}, `{"name":"t","tags":{"x":"y"}}`, `codec: json: field "tags[\"x\"]": invalid number "x"`},
		{"bad map object value", &testpb.Tree{}, `{"name":"t","labels":{"x":{}}}`, `codec: json: field "labels[\"x\"]": missing required field "value"`},
		{"non-object key", &testpb.Scalars{}, `{1:2}`, `codec: json: syntax error at offset 1: expected a string key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := codec.UnmarshalJSON([]byte(tt.in), tt.msg)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v\nwant  %s", err, tt.want)
			}
		})
	}
}

// Invalid UTF-8 in a string field is refused (not replaced with U+FFFD),
// with an error naming the field path that wraps ErrInvalidUTF8; so is an
// escaped lone surrogate (no UTF-8 string can hold one), anywhere.
func TestUnmarshalJSONInvalidUTF8(t *testing.T) {
	tests := []struct {
		name string
		msg  proto.Message
		in   string
		want string
	}{
		{"raw byte", &testpb.Scalars{}, "{\"s\":\"a\xffb\"}", `codec: json: field "s": invalid UTF-8 at byte 1 of the string`},
		{"after an escape", &testpb.Scalars{}, "{\"s\":\"\\n\xc3\"}", `codec: json: field "s": invalid UTF-8 at byte 1 of the string`},
		{"truncated sequence", &testpb.Scalars{}, "{\"s\":\"\xe2\x82\"}", `codec: json: field "s": invalid UTF-8 at byte 0 of the string`},
		{"overlong encoding", &testpb.Scalars{}, "{\"s\":\"\xc0\xaf\"}", `codec: json: field "s": invalid UTF-8 at byte 0 of the string`},
		{"encoded surrogate", &testpb.Scalars{}, "{\"s\":\"\xed\xa0\x80\"}", `codec: json: field "s": invalid UTF-8 at byte 0 of the string`},
		{"repeated string", &testpb.Scalars{}, "{\"r_s\":[\"ok\",\"\xff\"]}", `codec: json: field "r_s[1]": invalid UTF-8 at byte 0 of the string`},
		{"nested message", &testpb.Tree{}, "{\"name\":\"t\",\"children\":[{\"name\":\"\xfe\"}]}", `codec: json: field "children[0].name": invalid UTF-8 at byte 0 of the string`},
		{"map entry key", &testpb.Tree{}, "{\"name\":\"t\",\"labels\":[{\"key\":\"\xff\",\"value\":{\"value\":\"v\"}}]}", `codec: json: field "labels[0]": invalid UTF-8 at byte 0 of the string`},
		{"map entry value", &testpb.Tree{}, "{\"name\":\"t\",\"tags\":[{\"key\":1,\"value\":\"\xff\"}]}", `codec: json: field "tags[0]": invalid UTF-8 at byte 0 of the string`},
		{"map object key", &testpb.Tree{}, "{\"name\":\"t\",\"labels\":{\"k\xff\":{\"value\":\"v\"}}}", `codec: json: field "labels[\"k\\xff\"]": invalid UTF-8 at byte 1 of the string`},
		{"map object value", &testpb.Tree{}, "{\"name\":\"t\",\"tags\":{\"1\":\"\xff\"}}", `codec: json: field "tags[\"1\"]": invalid UTF-8 at byte 0 of the string`},
		{"oneof string", &testpb.Tree{}, "{\"name\":\"t\",\"text\":\"\xff\"}", `codec: json: field "text": invalid UTF-8 at byte 0 of the string`},
		{"lone high surrogate", &testpb.Scalars{}, `{"s":"\ud800x"}`, `codec: json: field "s": invalid UTF-8: lone surrogate \ud800 at offset 6`},
		{"lone low surrogate", &testpb.Scalars{}, `{"s":"\udc00"}`, `codec: json: field "s": invalid UTF-8: lone surrogate \udc00 at offset 6`},
		{"high surrogate then a letter", &testpb.Scalars{}, `{"s":"\uD800\u0041"}`, `codec: json: field "s": invalid UTF-8: lone surrogate \uD800 at offset 6`},
		{"lone surrogate in an unknown field", &testpb.Scalars{}, `{"zz":"\ud800"}`, `codec: json: invalid UTF-8: lone surrogate \ud800 at offset 7`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := codec.UnmarshalJSON([]byte(tt.in), tt.msg)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v\nwant  %s", err, tt.want)
			}
			if !errors.Is(err, codec.ErrInvalidUTF8) {
				t.Errorf("%v does not wrap ErrInvalidUTF8", err)
			}
		})
	}
}

func TestUnmarshalJSONDepthLimit(t *testing.T) {
	deep := strings.Repeat(`{"name":"x","left":`, 10005) + `{"name":"x"}` + strings.Repeat("}", 10005)
	err := codec.UnmarshalJSON([]byte(deep), &testpb.Tree{})
	if err == nil || !strings.Contains(err.Error(), "nesting too deep") {
		t.Fatalf("deep message: %v", err)
	}
	deep = `{"zz":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`
	err = codec.UnmarshalJSON([]byte(deep), &testpb.Tree{})
	if err == nil || !strings.Contains(err.Error(), "nesting too deep") {
		t.Fatalf("deep unknown value: %v", err)
	}
}

func TestMarshalJSONDepthLimit(t *testing.T) {
	cyc := &testpb.Tree{Name: proto.String("x")}
	cyc.Left = cyc
	if _, err := codec.MarshalJSON(cyc); err == nil || !strings.Contains(err.Error(), "too deep") {
		t.Fatalf("cyclic message: %v", err)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	msgs := []proto.Message{
		&testpb.Scalars{
			D: proto.Float64(1.0 / 3), F: proto.Float32(1.0 / 3), I32: proto.Int32(math.MinInt32), I64: proto.Int64(math.MinInt64),
			U32: proto.Uint32(math.MaxUint32), U64: proto.Uint64(math.MaxUint64), S32: proto.Int32(-3), S64: proto.Int64(1<<53 + 1),
			Fx32: proto.Uint32(1), Fx64: proto.Uint64(1<<64 - 2), Sfx32: proto.Int32(-1), Sfx64: proto.Int64(math.MinInt64 + 1),
			B: proto.Bool(false), S: proto.String("ünï\u2028"), By: []byte{0, 1, 2, 255}, Color: testpb.Color_RED.Enum(),
			RD: []float64{math.MaxFloat64, math.SmallestNonzeroFloat64, -0.5, 1e21, 123456789.123}, RF: []float32{math.MaxFloat32, math.SmallestNonzeroFloat32},
			RI32: []int32{0}, RI64: []int64{0, 1}, RU64: []uint64{math.MaxUint64}, RS64: []int64{-1}, RFx64: []uint64{3},
			RB: []bool{true, false}, RS: []string{"", "x"}, RBy: [][]byte{nil, {1}}, RColor: []testpb.Color{testpb.Color_BLUE}, RSfx64: []int64{-9},
		},
		&testpb.Defaults{Timeout: proto.Float64(1), Shell: proto.Bool(false), Role: proto.String("r"), Name: proto.String("n"),
			Color: testpb.Color_RED.Enum(), N: proto.Int64(0), Data: []byte{}, Plain: proto.String(""), Ratio: proto.Float32(0), Big: proto.Uint64(0)},
		&testpb.Tree{Name: proto.String("root"), Children: []*testpb.Tree{{Name: proto.String("a")}, {Name: proto.String("b"), Choice: &testpb.Tree_Text{Text: ""}}},
			Left: &testpb.Tree{Name: proto.String("l"), Choice: &testpb.Tree_Num{Num: -1}}, Labels: map[string]*testpb.ID{"": id("")}, Tags: map[int32]string{0: ""}},
		offersEvent(3),
	}
	for _, m := range msgs {
		b := mustMarshal(t, m)
		got := m.ProtoReflect().New().Interface()
		if err := codec.UnmarshalJSON([]byte(b), got); err != nil {
			t.Fatalf("UnmarshalJSON(%s): %v", b, err)
		}
		if diff := cmpDiff(m, got); diff != "" {
			t.Fatalf("round trip of %s (-want +got):\n%s", b, diff)
		}
	}
}

// Defaults written by Marshal come back as set fields, so a message gains
// them in one round trip and is stable after that.
func TestJSONDefaultsRoundTrip(t *testing.T) {
	var got testpb.Defaults
	if err := codec.UnmarshalJSON([]byte(mustMarshal(t, &testpb.Defaults{})), &got); err != nil {
		t.Fatal(err)
	}
	want := &testpb.Defaults{Timeout: proto.Float64(5), Shell: proto.Bool(true), Name: proto.String("x/y"), Color: testpb.Color_GREEN.Enum(),
		N: proto.Int64(7), Data: []byte("ab"), Ratio: proto.Float32(0.5), Big: proto.Uint64(math.MaxUint64)}
	if diff := cmpDiff(want, &got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestJSONCodec(t *testing.T) {
	c := codec.JSON
	if c.MediaType() != "application/json" {
		t.Fatal(c.MediaType())
	}
	b, err := c.Marshal(id("x"))
	if err != nil || string(b) != `{"value":"x"}` {
		t.Fatalf("%s %v", b, err)
	}
	var m testpb.ID
	if err := c.Unmarshal(b, &m); err != nil || m.GetValue() != "x" {
		t.Fatalf("%v %v", &m, err)
	}
	if _, err := c.Marshal(nil); err == nil {
		t.Fatal("nil message encoded")
	}
	if err := c.Unmarshal(b, nil); err == nil {
		t.Fatal("decoded into nil")
	}
}

// cmpDiff returns "" when the messages are equal, else both in text form.
func cmpDiff(want, got proto.Message) string {
	if proto.Equal(want, got) {
		return ""
	}
	return "-" + prototext.Format(want) + "\n+" + prototext.Format(got)
}

// Non-finite floats are written as protobuf's JSON mapping spells them and
// read back; a number-like string that is none of the three names stays an
// error, and integer fields do not take the names.
func TestJSONNonFiniteFloats(t *testing.T) {
	m := &testpb.Scalars{D: proto.Float64(math.NaN()), RD: []float64{1, math.Inf(1), math.Inf(-1)}}
	b, err := codec.MarshalJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"d":"NaN","r_d":[1.0,"Infinity","-Infinity"]}`; string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var back testpb.Scalars
	if err := codec.UnmarshalJSON(b, &back); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(back.GetD()) || len(back.RD) != 3 || back.RD[0] != 1 || !math.IsInf(back.RD[1], 1) || !math.IsInf(back.RD[2], -1) {
		t.Fatalf("round trip gave %v", &back)
	}
	for _, in := range []string{`{"d":"nan"}`, `{"d":"inf"}`, `{"d":"+Infinity"}`, `{"d":NaN}`, `{"i64":"NaN"}`} {
		if err := codec.UnmarshalJSON([]byte(in), &testpb.Scalars{}); err == nil {
			t.Errorf("%s decoded without error", in)
		}
	}
}

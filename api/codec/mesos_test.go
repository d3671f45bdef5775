package codec_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"google.golang.org/protobuf/proto"
)

// These tests use the real Mesos v1 wire types.

func mesosScalar(name string, v float64) *mesospb.Resource {
	return &mesospb.Resource{Name: proto.String(name), Type: mesospb.Value_SCALAR.Enum(),
		Scalar:         &mesospb.Value_Scalar{Value: proto.Float64(v)},
		AllocationInfo: &mesospb.Resource_AllocationInfo{Role: proto.String("*")}}
}

// mesosOffer is an offer as an agent with 8 cpus would produce one.
func mesosOffer(i int) *mesospb.Offer {
	return &mesospb.Offer{
		Id:          &mesospb.OfferID{Value: proto.String(fmt.Sprintf("4f1c6a2e-8d7b-4c1e-9a3f-2b5d6e7f8a9b-O%d", i))},
		FrameworkId: &mesospb.FrameworkID{Value: proto.String("4f1c6a2e-8d7b-4c1e-9a3f-2b5d6e7f8a9b-0001")},
		AgentId:     &mesospb.AgentID{Value: proto.String(fmt.Sprintf("4f1c6a2e-8d7b-4c1e-9a3f-2b5d6e7f8a9b-S%d", i))},
		Hostname:    proto.String(fmt.Sprintf("agent-%03d.example.internal", i)),
		Resources: []*mesospb.Resource{
			mesosScalar("cpus", 7.5),
			mesosScalar("mem", 30720),
			mesosScalar("disk", 409600),
			{Name: proto.String("ports"), Type: mesospb.Value_RANGES.Enum(),
				Ranges: &mesospb.Value_Ranges{Range: []*mesospb.Value_Range{
					{Begin: proto.Uint64(31000), End: proto.Uint64(31999)},
					{Begin: proto.Uint64(32500), End: proto.Uint64(32999)},
				}},
				AllocationInfo: &mesospb.Resource_AllocationInfo{Role: proto.String("*")}},
		},
		Attributes: []*mesospb.Attribute{
			{Name: proto.String("rack"), Type: mesospb.Value_TEXT.Enum(), Text: &mesospb.Value_Text{Value: proto.String(fmt.Sprintf("r%d", i%8))}},
			{Name: proto.String("zone"), Type: mesospb.Value_TEXT.Enum(), Text: &mesospb.Value_Text{Value: proto.String("eu-west-1a")}},
			{Name: proto.String("gen"), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(3)}},
		},
		ExecutorIds: []*mesospb.ExecutorID{{Value: proto.String("spark-executor-1")}},
	}
}

func mesosOffersEvent(n int) *schedulerpb.Event {
	ev := &schedulerpb.Event{Type: schedulerpb.Event_OFFERS.Enum(), Offers: &schedulerpb.Event_Offers{}}
	for i := range n {
		ev.Offers.Offers = append(ev.Offers.Offers, mesosOffer(i))
	}
	return ev
}

// The SUBSCRIBE request of the Mesos scheduler HTTP API documentation, as
// written there (tabs, spaces, and a "force" field our Call does not have).
const docsSubscribe = "{\n   \"type\"\t\t: \"SUBSCRIBE\",\n\n   \"subscribe\"\t: {\n      \"framework_info\"\t: {\n" +
	"        \"user\" :  \"foo\",\n        \"name\" :  \"Example HTTP Framework\"\n      },\n\n      \"force\" : true\n  }\n}\n"

func TestMesosSubscribeCallFromDocs(t *testing.T) {
	var call schedulerpb.Call
	if err := codec.UnmarshalJSON([]byte(docsSubscribe), &call); err != nil {
		t.Fatal(err)
	}
	fi := call.GetSubscribe().GetFrameworkInfo()
	if call.GetType() != schedulerpb.Call_SUBSCRIBE || fi.GetUser() != "foo" || fi.GetName() != "Example HTTP Framework" {
		t.Fatalf("decoded %v", &call)
	}
	// Written back as Mesos writes it: sorted keys, and the defaults of
	// FrameworkInfo (failover_timeout, checkpoint) but not the deprecated
	// role.
	want := `{"subscribe":{"framework_info":{"checkpoint":false,"failover_timeout":0.0,"name":"Example HTTP Framework","user":"foo"}},"type":"SUBSCRIBE"}`
	if got := mustMarshal(t, &call); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// The same call without a required field is refused with its path.
	err := codec.UnmarshalJSON([]byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"foo"}}}`), &call)
	if want := `codec: json: field "subscribe.framework_info": missing required field "name"`; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
}

func TestMesosAcknowledgeFromDocs(t *testing.T) {
	// The documentation's uuid is a 16-byte UUID in unpadded base64.
	in := `{"framework_id":{"value":"12220-3440-12532-2345"},"type":"ACKNOWLEDGE","acknowledge":{` +
		`"agent_id":{"value":"12220-3440-12532-S1233"},"task_id":{"value":"12220-3440-12532-my-task"},"uuid":"jhadf73jhakdlfha723adf"}}`
	var call schedulerpb.Call
	if err := codec.UnmarshalJSON([]byte(in), &call); err != nil {
		t.Fatal(err)
	}
	if n := len(call.GetAcknowledge().GetUuid()); n != 16 {
		t.Fatalf("uuid has %d bytes", n)
	}
}

func TestMesosSubscribedEvent(t *testing.T) {
	ev := &schedulerpb.Event{
		Type: schedulerpb.Event_SUBSCRIBED.Enum(),
		Subscribed: &schedulerpb.Event_Subscribed{
			FrameworkId:              &mesospb.FrameworkID{Value: proto.String("12220-3440-12532-2345")},
			HeartbeatIntervalSeconds: proto.Float64(15),
		},
	}
	want := `{"subscribed":{"framework_id":{"value":"12220-3440-12532-2345"},"heartbeat_interval_seconds":15.0},"type":"SUBSCRIBED"}`
	if got := mustMarshal(t, ev); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestMesosOfferJSON pins the JSON of an offer: ids are objects holding a
// "value" string, scalars and range bounds are JSON numbers (uint64 ones
// included), enums are names.
func TestMesosOfferJSON(t *testing.T) {
	o := mesosOffer(7)
	o.Resources = o.Resources[:1]
	o.Resources = append(o.Resources, mesosOffer(7).Resources[3])
	o.Resources[1].Ranges.Range[0].End = proto.Uint64(1<<63 + 1)
	o.Attributes = o.Attributes[:1]
	got := mustMarshal(t, o)
	want := `{"agent_id":{"value":"4f1c6a2e-8d7b-4c1e-9a3f-2b5d6e7f8a9b-S7"},` +
		`"attributes":[{"name":"rack","text":{"value":"r7"},"type":"TEXT"}],` +
		`"executor_ids":[{"value":"spark-executor-1"}],` +
		`"framework_id":{"value":"4f1c6a2e-8d7b-4c1e-9a3f-2b5d6e7f8a9b-0001"},` +
		`"hostname":"agent-007.example.internal",` +
		`"id":{"value":"4f1c6a2e-8d7b-4c1e-9a3f-2b5d6e7f8a9b-O7"},` +
		`"resources":[{"allocation_info":{"role":"*"},"name":"cpus","scalar":{"value":7.5},"type":"SCALAR"},` +
		`{"allocation_info":{"role":"*"},"name":"ports","ranges":{"range":[{"begin":31000,"end":9223372036854775809},{"begin":32500,"end":32999}]},"type":"RANGES"}]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	// The same facts, checked through a generic JSON reader.
	var v map[string]any
	dec := json.NewDecoder(bytes.NewReader([]byte(got)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "framework_id", "agent_id"} {
		if _, ok := v[k].(map[string]any)["value"].(string); !ok {
			t.Errorf("%s.value is not a string: %#v", k, v[k])
		}
	}
	res := v["resources"].([]any)
	if _, ok := res[0].(map[string]any)["scalar"].(map[string]any)["value"].(json.Number); !ok {
		t.Errorf("scalar value is not a number")
	}
	rng := res[1].(map[string]any)["ranges"].(map[string]any)["range"].([]any)[0].(map[string]any)
	if end, ok := rng["end"].(json.Number); !ok || end.String() != "9223372036854775809" {
		t.Errorf("range end is %#v, want the exact number", rng["end"])
	}
	if typ, ok := res[0].(map[string]any)["type"].(string); !ok || typ != "SCALAR" {
		t.Errorf("type is %#v", res[0].(map[string]any)["type"])
	}
}

func TestMesosOffersEventRoundTrip(t *testing.T) {
	ev := mesosOffersEvent(50)
	for _, c := range []codec.Codec{codec.JSON, codec.Protobuf} {
		b, err := c.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var got schedulerpb.Event
		if err := c.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(ev, &got) {
			t.Fatalf("%s round trip differs", c.MediaType())
		}
	}
	// A Mesos-written OFFERS event (as JSON) decodes with our codec.
	in := `{"offers":{"offers":[{"agent_id":{"value":"S1"},"framework_id":{"value":"F1"},"hostname":"h1","id":{"value":"O1"},` +
		`"resources":[{"name":"cpus","role":"*","scalar":{"value":2.0},"type":"SCALAR"},{"name":"ports","ranges":{"range":[{"begin":31000,"end":32000}]},"role":"*","type":"RANGES"}]}]},"type":"OFFERS"}`
	var got schedulerpb.Event
	if err := codec.UnmarshalJSON([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	r := got.GetOffers().GetOffers()[0].GetResources()
	if r[0].GetScalar().GetValue() != 2 || r[1].GetRanges().GetRange()[0].GetEnd() != 32000 || r[0].GetRole() != "*" {
		t.Fatalf("decoded %v", &got)
	}
}

func TestMesosOfferMissingHostname(t *testing.T) {
	ev := mesosOffersEvent(3)
	ev.Offers.Offers[2].Hostname = nil
	for _, c := range []codec.Codec{codec.JSON, codec.Protobuf} {
		_, err := c.Marshal(ev)
		want := `field "offers.offers[2]": missing required field "hostname"`
		if err == nil || !errors.Is(err, codec.ErrMissingRequired) || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Fatalf("%s: error %v, want one containing %s", c.MediaType(), err, want)
		}
	}
}

func TestMesosOfferFiltersMap(t *testing.T) {
	fi := &mesospb.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"),
		OfferFilters: map[string]*mesospb.OfferFilters{"web": {MinAllocatableResources: &mesospb.OfferFilters_MinAllocatableResources{
			Quantities: []*mesospb.OfferFilters_ResourceQuantities{{Quantities: map[string]*mesospb.Value_Scalar{"cpus": {Value: proto.Float64(1)}}}},
		}}}}
	got := mustMarshal(t, fi)
	want := `{"checkpoint":false,"failover_timeout":0.0,"name":"n","offer_filters":[{"key":"web","value":{"min_allocatable_resources":` +
		`{"quantities":[{"quantities":[{"key":"cpus","value":{"value":1.0}}]}]}}}],"user":"u"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Both map forms decode to the same message.
	objForm := `{"user":"u","name":"n","offer_filters":{"web":{"min_allocatable_resources":{"quantities":[{"quantities":{"cpus":{"value":1}}}]}}}}`
	for _, in := range []string{got, objForm} {
		var back mesospb.FrameworkInfo
		if err := codec.UnmarshalJSON([]byte(in), &back); err != nil {
			t.Fatal(err)
		}
		if q := back.GetOfferFilters()["web"].GetMinAllocatableResources().GetQuantities()[0].GetQuantities()["cpus"].GetValue(); q != 1 {
			t.Fatalf("%s: decoded %v", in, &back)
		}
	}
}

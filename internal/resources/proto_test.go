package resources

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

func TestProtoRoundTrip(t *testing.T) {
	r := MustParse("cpus:4;cpus(web):2;mem:1024.5;ports:[31000-31005,31010-31020];zones:{a,b};disk(eng/web):10")
	for _, multi := range []bool{false, true} {
		wire := r.ToProto("web", multi)
		// Through the wire, so proto2 required fields are checked.
		var decoded []*mesospb.Resource
		for _, p := range wire {
			b, err := proto.Marshal(p)
			if err != nil {
				t.Fatalf("marshal %v: %v", p, err)
			}
			var q mesospb.Resource
			if err := proto.Unmarshal(b, &q); err != nil {
				t.Fatal(err)
			}
			if got := q.AllocationInfo != nil; got != multi {
				t.Errorf("multiRole=%v: allocation_info present = %v on %v", multi, got, &q)
			}
			if multi && q.GetAllocationInfo().GetRole() != "web" {
				t.Errorf("allocation role = %q", q.GetAllocationInfo().GetRole())
			}
			decoded = append(decoded, &q)
		}
		back, err := FromProto(decoded)
		if err != nil || !back.Equal(r) {
			t.Fatalf("round trip: %v, %v; want %v", back, err, r)
		}
	}
}

func TestToProtoReservationFormat(t *testing.T) {
	wire := MustParse("cpus:1;cpus(web):2").ToProto("", false)
	if wire[0].GetRole() != "*" || wire[0].Role == nil || len(wire[0].Reservations) != 0 {
		t.Errorf("unreserved: %v", wire[0])
	}
	w := wire[1]
	if w.GetRole() != "web" || len(w.Reservations) != 1 ||
		w.Reservations[0].GetType() != mesospb.Resource_ReservationInfo_STATIC || w.Reservations[0].GetRole() != "web" {
		t.Errorf("reserved: %v", w)
	}
}

func TestFromProtoFormats(t *testing.T) {
	ok := map[string]string{
		// pre-refinement: role field only, or nothing (default "*").
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":2},"role":"web"}]`: "cpus(web):2",
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":2}}]`:              "cpus:2",
		// post-refinement: reservations stack only.
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":2},"reservations":[{"type":"STATIC","role":"web"}]}]`: "cpus(web):2",
		// endpoint: both.
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},{"name":"cpus","type":"SCALAR","scalar":{"value":0.2},"role":"web","reservations":[{"type":"STATIC","role":"web"}]},{"name":"cpus","type":"SCALAR","scalar":{"value":0.2}}]`: "cpus:0.3;cpus(web):0.2",
		`[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":5,"end":6},{"begin":1,"end":4}]}}]`:                                                                                                                                     "ports:[1-6]",
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"allocation_info":{"role":"x"}}]`:                                                                                                                                               "cpus:1",
		`[{"name":"disk","type":"SCALAR","scalar":{"value":1},"disk":{}}]`:                                                                                                                                                                    "disk:1",
		// dynamic reservations: pre-refinement and post-refinement.
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"role":"web","reservation":{"principal":"p"}}]`:                                                                                                  "cpus(web,p):1",
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"DYNAMIC","role":"web"}]}]`:                                                                                              "cpus(web,):1",
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"STATIC","role":"a"},{"type":"DYNAMIC","role":"a/b","principal":"p"}]}]`:                                                 "cpus(a|a/b,p):1",
		`[{"name":"disk","type":"SCALAR","scalar":{"value":8},"role":"db","reservation":{"principal":"p"},"disk":{"persistence":{"id":"v1","principal":"p"},"volume":{"container_path":"data","mode":"RW"}}}]`: "disk(db,p)[v1,data]:8",
	}
	for in, want := range ok {
		got, err := FromProto(decodeList(t, in))
		if err != nil || got.String() != want {
			t.Errorf("FromProto(%s) = %v, %v; want %s", in, got, err, want)
		}
	}
	bad := []string{
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]`,
		`[{"name":"cpus","type":"SCALAR"}]`,
		`[{"name":"cpus","type":"TEXT"}]`,
		`[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":5,"end":1}]}}]`,
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservation":{"principal":"p"}}]`,
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"DYNAMIC","role":"a"},{"type":"DYNAMIC","role":"b"}]}]`,
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"DYNAMIC","role":"a","labels":{"labels":[{"key":"k"}]}}]}]`,
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"role":"web","disk":{"persistence":{"id":"v"},"volume":{"container_path":"d","mode":"RW"}}}]`,
		`[{"name":"disk","type":"SCALAR","scalar":{"value":1},"role":"web","disk":{"persistence":{"id":"v"}}}]`,
		`[{"name":"disk","type":"SCALAR","scalar":{"value":1},"role":"web","disk":{"persistence":{"id":"a/b"},"volume":{"container_path":"d","mode":"RW"}}}]`,
		`[{"name":"disk","type":"SCALAR","scalar":{"value":1},"disk":{"source":{"type":"MOUNT"}}}]`,
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"STATIC","role":"a"},{"type":"STATIC","role":"a/b"}]}]`,
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"role":"x","reservations":[{"type":"STATIC","role":"web"}]}]`,
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"role":"-bad"}]`,
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"revocable":{}}]`,
		`[{"name":"","type":"SCALAR","scalar":{"value":1}}]`,
	}
	for _, in := range bad {
		if got, err := FromProto(decodeList(t, in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("FromProto(%s) = %v, %v; want ErrInvalid", in, got, err)
		}
	}
	if _, err := FromProto([]*mesospb.Resource{nil}); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil resource: %v", err)
	}
	if _, err := FromProto([]*mesospb.Resource{{Name: proto.String("cpus")}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("missing type: %v", err)
	}
}

// decodeList reads a JSON array of mesos.v1.Resource objects.
func decodeList(t *testing.T, js string) []*mesospb.Resource {
	t.Helper()
	var holder mesospb.Offer
	if err := (protojson.UnmarshalOptions{AllowPartial: true}).Unmarshal([]byte(`{"resources":`+js+`}`), &holder); err != nil {
		t.Fatalf("decode %s: %v", js, err)
	}
	return holder.Resources
}

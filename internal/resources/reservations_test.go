package resources

import (
	"errors"
	"testing"
)

func TestReservationStack(t *testing.T) {
	cpus := MustParse("cpus:2")[0]
	dyn := cpus.PushReservation("eng", "ops")
	if dyn.Role != "eng" || !dyn.Dynamic() || dyn.String() != "cpus(eng,ops):2" {
		t.Fatalf("push: %v %+v", dyn, dyn)
	}
	refined := dyn.PushReservation("eng/web", "dev")
	if refined.String() != "cpus(eng,ops|eng/web,dev):2" {
		t.Fatalf("refine: %v", refined)
	}
	if back := refined.PopReservation(); compareKey(&back, &dyn) != 0 {
		t.Errorf("pop of refined = %v, want %v", back, dyn)
	}
	if back := dyn.PopReservation(); compareKey(&back, &cpus) != 0 || back.Reservations != nil {
		t.Errorf("pop = %+v, want %+v", back, cpus)
	}
	static := MustParse("cpus(eng):1")[0]
	onStatic := static.PushReservation("eng/web", "ops")
	if onStatic.String() != "cpus(eng|eng/web,ops):1" {
		t.Errorf("refine static: %v", onStatic)
	}
	if b := onStatic.Base(); compareKey(&b, &static) != 0 {
		t.Errorf("base = %+v, want %+v", b, static)
	}
	if _, err := New(cpus.PushReservation("web", "p").PushReservation("db", "p")); !errors.Is(err, ErrInvalid) {
		t.Errorf("refinement to a non-descendant: %v", err)
	}
}

func TestReservationsKeepApart(t *testing.T) {
	un := MustParse("cpus:4;disk:100")
	reserved, err := un.PushReservation("db", "ops")
	if err != nil {
		t.Fatal(err)
	}
	half, _ := MustParse("cpus:2;disk:50").PushReservation("db", "ops")
	total := un.Add(half)
	if total.String() != "cpus:4;cpus(db,ops):2;disk:100;disk(db,ops):50" {
		t.Fatalf("add: %v", total)
	}
	if total.Contains(reserved) || !total.Contains(half) {
		t.Error("containment across reservations wrong")
	}
	if got := total.AllocatableTo("web"); !got.Equal(un) {
		t.Errorf("web sees %v", got)
	}
	if got := total.AllocatableTo("db/x"); !got.Equal(total) {
		t.Errorf("db/x sees %v", got)
	}
	vol := half.Filter(func(r *Resource) bool { return r.Name == "disk" })
	vol, _ = vol.Map(func(r Resource) Resource {
		r.Volume = Volume{ID: "v1", Principal: "ops", ContainerPath: "data"}
		return r
	})
	withVol, err := total.Convert(half.Filter(func(r *Resource) bool { return r.Name == "disk" }), vol)
	if err != nil {
		t.Fatal(err)
	}
	if got := withVol.Checkpointed().String(); got != "cpus(db,ops):2;disk(db,ops)[v1,data]:50" {
		t.Errorf("checkpointed: %v", got)
	}
	if _, err := total.Convert(vol, half); !errors.Is(err, ErrInvalid) {
		t.Errorf("convert of what is not held: %v", err)
	}
	// Applying the checkpoint to the agent's flag resources rebuilds the
	// total; it fails when the flags shrank.
	got, err := ApplyCheckpointed(MustParse("cpus:6;disk:150"), withVol.Checkpointed())
	if err != nil || !got.Equal(withVol) {
		t.Errorf("apply = %v, %v; want %v", got, err, withVol)
	}
	if _, err := ApplyCheckpointed(MustParse("cpus:1;disk:150"), withVol.Checkpointed()); !errors.Is(err, ErrInvalid) {
		t.Errorf("apply onto too little: %v", err)
	}
	// The wire form reads back the same.
	back, err := FromProto(withVol.ToProto("db", true))
	if err != nil || !back.Equal(withVol) {
		t.Errorf("proto round trip = %v, %v; want %v", back, err, withVol)
	}
}

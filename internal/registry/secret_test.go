package registry

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
)

func TestAgentSecretSurvivesAdmissionAndSnapshot(t *testing.T) {
	s := NewState()
	info := &mesospb.AgentInfo{Id: &mesospb.AgentID{Value: proto.String("a1")}, Hostname: proto.String("h")}
	admit, err := AdmitAgentCommand(info)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(SetAgentSecretCommand("a1", []byte("d1"))); !errors.Is(err, ErrAgentUnknown) {
		t.Fatalf("secret of an unknown agent: %v", err)
	}
	if err := s.Apply(admit); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(SetAgentSecretCommand("a1", nil)); !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("empty digest: %v", err)
	}
	if err := s.Apply(SetAgentSecretCommand("a1", []byte("d1"))); err != nil {
		t.Fatal(err)
	}
	// A re-admission (re-registration) and a loss keep the digest.
	if err := s.Apply(MarkAgentUnreachableCommand("a1", time.Unix(0, 5))); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(admit); err != nil {
		t.Fatal(err)
	}
	if got := s.Agent("a1").SecretDigest; !bytes.Equal(got, []byte("d1")) {
		t.Fatalf("digest after re-admission = %q", got)
	}
	b, err := s.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalState(b)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(s) || !bytes.Equal(back.Agent("a1").SecretDigest, []byte("d1")) {
		t.Fatal("the digest did not survive a snapshot")
	}
	// A snapshot written before digests existed restores without one.
	snap := s.Snapshot()
	snap.Agents[0].SecretDigest = nil
	old, err := RestoreState(snap)
	if err != nil || old.Agent("a1").SecretDigest != nil || old.Agent("a1").Status != AgentAdmitted {
		t.Fatalf("old snapshot: %+v, %v", old.Agent("a1"), err)
	}
}

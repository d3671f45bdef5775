package scripttest

import (
	"slices"
	"testing"

	"github.com/cockroachdb/datadriven"
)

func TestLines(t *testing.T) {
	td := &datadriven.TestData{Cmd: "offer", CmdArgs: []datadriven.CmdArg{{Key: "a1"}, {Key: "res", Vals: []string{"cpus:1", "mem:2"}}},
		Input: "  # a comment\nstart 0 1 e1\n\n   end 0 1 e1 failed  \n"}
	got := Lines(td)
	want := [][]string{{"offer", "a1", "res=cpus:1,mem:2"}, {"start", "0", "1", "e1"}, {"end", "0", "1", "e1", "failed"}}
	if !slices.EqualFunc(got, want, slices.Equal[[]string]) {
		t.Fatalf("Lines = %q, want %q", got, want)
	}
}

package scripttest

import (
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// Lines returns a block's commands, each split into fields: the block's
// first line (as datadriven parsed it into a command and arguments) and
// every input line, skipping blank lines and # comments.
func Lines(td *datadriven.TestData) [][]string {
	first := []string{td.Cmd}
	for _, arg := range td.CmdArgs {
		if len(arg.Vals) == 0 {
			first = append(first, arg.Key)
		} else {
			first = append(first, arg.Key+"="+strings.Join(arg.Vals, ","))
		}
	}
	out := [][]string{first}
	for _, line := range strings.Split(td.Input, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, strings.Fields(line))
		}
	}
	return out
}

// Walk runs every script under dir: a fresh harness from start for each
// file, each block's commands through it in turn, the block's output the
// text they wrote ("ok" when none did). Regenerate expected output with
// the test's -rewrite flag.
func Walk[H any](t *testing.T, dir string, start func(t *testing.T) H, exec func(t *testing.T, h H, cmd []string, out *strings.Builder)) {
	datadriven.Walk(t, dir, func(t *testing.T, path string) {
		h := start(t)
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			var out strings.Builder
			for _, cmd := range Lines(td) {
				exec(t, h, cmd, &out)
			}
			if out.Len() == 0 {
				return "ok\n"
			}
			return out.String()
		})
	})
}

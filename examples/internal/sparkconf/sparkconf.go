// Package sparkconf is the examples' --conf flag: Spark settings as
// key=value, applied to an rdd.Config with Config.Set.
package sparkconf

import (
	"fmt"
	"strings"

	"github.com/mesoproject/meso/rdd"
)

// Flag collects --conf key=value settings (repeatable); it is a flag.Value.
type Flag struct{ kv [][2]string }

func (f *Flag) String() string {
	var parts []string
	for _, kv := range f.kv {
		parts = append(parts, kv[0]+"="+kv[1])
	}
	return strings.Join(parts, ",")
}

// Set adds one key=value setting.
func (f *Flag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	f.kv = append(f.kv, [2]string{k, v})
	return nil
}

// Apply sets every collected setting on cfg.
func (f *Flag) Apply(cfg *rdd.Config) error {
	for _, kv := range f.kv {
		if err := cfg.Set(kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

package main

import (
	"errors"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/spf13/pflag"

	"github.com/mesoproject/meso/internal/master"
	"github.com/mesoproject/meso/internal/mesosflag"
	"github.com/mesoproject/meso/internal/registry"
)

// The registry flags: one voter by default, a group from --masters with
// raft on --port + --registry_port_offset, in_memory for tests.
func TestRegistryFlags(t *testing.T) {
	base := registryFlags{kind: registryReplicated, portOffset: defaultRegistryPortOffset, removalLimit: "100%"}

	cfg := master.Config{WorkDir: "/w", Port: 5050}
	if err := base.apply(&cfg, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if r := cfg.Replicated; r == nil || r.Dir != filepath.Join("/w", "registry") || len(r.Peers) != 0 || cfg.RecoveryAgentRemovalLimit != 1 {
		t.Fatalf("single master: %+v, limit %v", cfg.Replicated, cfg.RecoveryAgentRemovalLimit)
	}

	group := base
	group.masters = "127.0.0.1:5050,127.0.0.1:5060, 127.0.0.1:5070"
	group.removalLimit = "50%"
	cfg = master.Config{WorkDir: "/w", Port: 5060}
	if err := group.apply(&cfg, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	want := []registry.Peer{{ID: "127.0.0.1:5050", Addr: "127.0.0.1:6050"}, {ID: "127.0.0.1:5060", Addr: "127.0.0.1:6060"},
		{ID: "127.0.0.1:5070", Addr: "127.0.0.1:6070"}}
	r := cfg.Replicated
	if len(r.Peers) != 3 || r.Peers[0] != want[0] || r.Peers[1] != want[1] || r.Peers[2] != want[2] || r.Bind != "127.0.0.1:6060" ||
		cfg.RecoveryAgentRemovalLimit != 0.5 {
		t.Fatalf("group: %+v, limit %v", r, cfg.RecoveryAgentRemovalLimit)
	}

	mem := base
	mem.kind = registryInMemory
	cfg = master.Config{Port: 5050}
	if err := mem.apply(&cfg, "127.0.0.1"); err != nil || cfg.Replicated != nil {
		t.Fatalf("in_memory: %+v, %v", cfg.Replicated, err)
	}

	for name, f := range map[string]func(*registryFlags, *master.Config){
		"no work dir":       func(r *registryFlags, c *master.Config) { c.WorkDir = "" },
		"not listed":        func(r *registryFlags, c *master.Config) { r.masters = "127.0.0.1:5060,127.0.0.1:5070" },
		"bad address":       func(r *registryFlags, c *master.Config) { r.masters = "127.0.0.1:5050,nonsense" },
		"unknown registry":  func(r *registryFlags, c *master.Config) { r.kind = "zk" },
		"masters in memory": func(r *registryFlags, c *master.Config) { r.kind, r.masters = registryInMemory, "127.0.0.1:5050" },
		"bad limit":         func(r *registryFlags, c *master.Config) { r.removalLimit = "120%" },
	} {
		rf, cfg := base, master.Config{WorkDir: "/w", Port: 5050}
		f(&rf, &cfg)
		if err := rf.apply(&cfg, "127.0.0.1"); !errors.Is(err, master.ErrConfig) {
			t.Errorf("%s: %v; want ErrConfig", name, err)
		}
	}
}

// --memory_limit sets the runtime's soft memory limit; 0 leaves it, a
// negative value is a configuration error.
func TestMemoryLimitFlag(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)
	if err := applyMemoryLimit(0); err != nil || debug.SetMemoryLimit(-1) != prev {
		t.Fatalf("--memory_limit=0: %v, limit %d; want the runtime's %d left", err, debug.SetMemoryLimit(-1), prev)
	}
	var n int64
	fs := pflag.NewFlagSet("master", pflag.ContinueOnError)
	mesosflag.BytesVar(fs, &n, "memory_limit", 0, "")
	if err := fs.Parse([]string{"--memory_limit=1GB"}); err != nil {
		t.Fatal(err)
	}
	if err := applyMemoryLimit(n); err != nil || debug.SetMemoryLimit(-1) != 1<<30 {
		t.Fatalf("--memory_limit=1GB: %v, limit %d; want %d", err, debug.SetMemoryLimit(-1), 1<<30)
	}
	if err := applyMemoryLimit(-1); !errors.Is(err, master.ErrConfig) {
		t.Fatalf("--memory_limit=-1: %v; want ErrConfig", err)
	}
}

package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMemTotal(t *testing.T) {
	meminfo := []byte("MemTotal:       16318412 kB\nMemFree:          203544 kB\n")
	if got := memTotal(meminfo); got != 16318412*1024 {
		t.Fatalf("memTotal = %d", got)
	}
	for _, bad := range []string{"", "MemFree: 1 kB\n", "MemTotal:\n", "MemTotal: lots kB\n"} {
		if got := memTotal([]byte(bad)); got != 0 {
			t.Errorf("memTotal(%q) = %d, want 0", bad, got)
		}
	}
}

func TestDetect(t *testing.T) {
	d := detect(t.TempDir())
	if d.CPUs < 1 || d.MemBytes == 0 || d.DiskBytes == 0 {
		t.Fatalf("detected %+v", d)
	}
}

func TestLinkURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5050":              "http://127.0.0.1:5050/internal/v1/link",
		"http://master:5050":          "http://master:5050/internal/v1/link",
		"https://master:5050/prefix/": "https://master:5050/prefix/internal/v1/link",
	} {
		if got, err := linkURLs(in); err != nil || len(got) != 1 || got[0].String() != want {
			t.Errorf("linkURLs(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://x:1", "http://"} {
		if _, err := linkURLs(bad); err == nil {
			t.Errorf("linkURLs(%q) accepted", bad)
		}
	}
}

func TestValidPathElement(t *testing.T) {
	for _, ok := range []string{"t1", "task-1.2", "a b", "0f0e-12"} {
		if err := validPathElement(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "../x", "/abs"} {
		if err := validPathElement(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNewRequiresMasterAndWorkDir(t *testing.T) {
	if _, err := New(Config{WorkDir: t.TempDir()}); err == nil {
		t.Error("no master accepted")
	}
	if _, err := New(Config{Master: "127.0.0.1:5050"}); err == nil {
		t.Error("no work dir accepted")
	}
	if _, err := New(Config{Master: "127.0.0.1:5050", WorkDir: t.TempDir(), Containerizers: "lxc"}); err == nil {
		t.Error("unknown containerizer accepted")
	}
	if _, err := New(Config{Master: "127.0.0.1:5050", WorkDir: t.TempDir(), Containerizers: "docker,mesos",
		DockerSocket: filepath.Join(t.TempDir(), "no-daemon.sock")}); err == nil || !strings.Contains(err.Error(), "no-daemon.sock") {
		t.Errorf("docker without a daemon: %v", err)
	}
}

func TestDockerContainerizerWired(t *testing.T) {
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		t.Skip("no Docker daemon socket at /var/run/docker.sock")
	}
	a, err := New(Config{Master: "127.0.0.1:5050", WorkDir: t.TempDir(), Containerizers: "docker,mesos"})
	if err != nil {
		t.Skipf("Docker daemon not usable: %v", err)
	}
	if a.docker == nil {
		t.Fatal("no docker containerizer built")
	}
	if err := a.docker.Close(); err != nil {
		t.Fatal(err)
	}
}

// --master takes the masters of a group as a comma list, tried in turn.
func TestLinkURLs(t *testing.T) {
	urls, err := linkURLs("127.0.0.1:5050, 127.0.0.1:5060,http://m3:5070")
	var got []string
	for _, u := range urls {
		got = append(got, u.String())
	}
	want := []string{"http://127.0.0.1:5050/internal/v1/link", "http://127.0.0.1:5060/internal/v1/link", "http://m3:5070/internal/v1/link"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("linkURLs = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"", ",", "127.0.0.1:5050,ftp://x:1"} {
		if _, err := linkURLs(bad); err == nil {
			t.Errorf("linkURLs(%q) accepted", bad)
		}
	}
}

// The lean executor is used only when an executable meso-executor is in the
// launcher directory (default: the launcher's), never with "none".
func TestFindLeanExecutor(t *testing.T) {
	dir := t.TempDir()
	launcher := filepath.Join(dir, "meso")
	lean := filepath.Join(dir, LeanExecutorName)
	if got := findLeanExecutor("", launcher); got != "" {
		t.Errorf("no file: %q, want none", got)
	}
	if err := os.WriteFile(lean, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := findLeanExecutor("", launcher); got != "" {
		t.Errorf("not executable: %q, want none", got)
	}
	if err := os.Chmod(lean, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := findLeanExecutor("", launcher); got != lean {
		t.Errorf("beside the launcher: %q, want %q", got, lean)
	}
	if got := findLeanExecutor(dir, "/elsewhere/meso"); got != lean {
		t.Errorf("--launcher_dir: %q, want %q", got, lean)
	}
	if got := findLeanExecutor("none", launcher); got != "" {
		t.Errorf("none: %q, want none", got)
	}
}

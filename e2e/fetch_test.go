package e2e

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// archiveEntry is one entry of a test archive: a file, or a symlink when
// link is set.
type archiveEntry struct {
	name, body, link string
}

func tarGz(t testing.TB, entries ...archiveEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		if e.link != "" {
			h = &tar.Header{Name: e.name, Mode: 0o777, Linkname: e.link, Typeflag: tar.TypeSymlink}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipFile(t testing.TB, entries ...archiveEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t testing.TB, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	if _, err := gz.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// commandTask is a command task with URIs.
func commandTaskWithURIs(id, command string, uris ...*mesospb.CommandInfo_URI) *mesospb.TaskInfo {
	return &mesospb.TaskInfo{
		Name:      proto.String(id),
		TaskId:    &mesospb.TaskID{Value: proto.String(id)},
		Resources: smallTask.ToProto("*", false),
		Command:   &mesospb.CommandInfo{Value: proto.String(command), Uris: uris},
	}
}

func uri(value string) *mesospb.CommandInfo_URI {
	return &mesospb.CommandInfo_URI{Value: proto.String(value)}
}

// Every URI form the agent fetches, seen from the task's sandbox: an
// executable script over HTTP, a tar.gz and a zip extracted, a file renamed
// by output_file, a .gz decompressed, and local files by file:// URI and by
// absolute path.
func TestFetchURIFormsThroughAgent(t *testing.T) {
	cl := newCluster(t, 1, executorAgentRes, masterFlags...)
	files := newFileServer(t)
	dir := t.TempDir()
	tool := files.add("tool.sh", writeFile(t, dir, "tool.sh", []byte("#!/bin/sh\necho tool ran\n"), 0o644))
	tgz := files.add("bundle.tar.gz", writeFile(t, dir, "bundle.tar.gz",
		tarGz(t, archiveEntry{name: "bundle/inner.txt", body: "inner"}), 0o644))
	zipped := files.add("bundle.zip", writeFile(t, dir, "bundle.zip", zipFile(t, archiveEntry{name: "zipped/z.txt", body: "z"}), 0o644))
	data := files.add("data.txt", writeFile(t, dir, "data.txt", []byte("data"), 0o644))
	gz := files.add("plain.txt.gz", writeFile(t, dir, "plain.txt.gz", gzipped(t, "hello from gzip"), 0o644))
	local1 := writeFile(t, dir, "local/local1.txt", []byte("one"), 0o644)
	local2 := writeFile(t, dir, "local/local2.txt", []byte("two"), 0o644)

	renamed := uri(data)
	renamed.OutputFile = proto.String("sub/renamed.txt")
	exe := uri(tool)
	exe.Executable = proto.Bool(true)
	task := commandTaskWithURIs("fetcher", strings.Join([]string{
		"./tool.sh", "test -f bundle/inner.txt", "test -f bundle.tar.gz", "test -f zipped/z.txt",
		"test -f sub/renamed.txt", "grep -q 'hello from gzip' plain.txt",
		"test -f local1.txt", "test -f local2.txt",
	}, " && "), exe, uri(tgz), uri(zipped), renamed, uri(gz), uri("file://"+local1), uri(local2))

	f := newFramework(t, cl.master.addr, fwOptions{})
	f.launchOn(f.takeOffer(smallTask), task)
	f.waitState("fetcher", mesospb.TaskState_TASK_FINISHED, time.Minute)
	for _, name := range []string{"tool.sh", "bundle.tar.gz", "bundle.zip", "data.txt", "plain.txt.gz"} {
		if n := files.count(name); n != 1 {
			t.Errorf("%s downloaded %d times", name, n)
		}
	}
}

// The agent's fetcher cache: the first executor launch downloads the
// binary, later launches with cache=true copy it from the cache in
// --fetcher_cache_dir, concurrent launches of a new URI download it once,
// and a launch with cache=false downloads again.
func TestFetchCacheThroughAgent(t *testing.T) {
	cl := newCluster(t, 0, executorAgentRes, masterFlags...)
	cacheDir := filepath.Join(cl.dir, "fetch-cache")
	cl.addAgent(executorAgentRes, "--fetcher_cache_dir="+cacheDir, "--fetcher_cache_size=256MB")
	cl.waitAgents(1)
	files := newFileServer(t)
	bin := testExecutor(t)
	cached := files.add("testexecutor", bin)
	f := newFramework(t, cl.master.addr, fwOptions{})

	run := func(uri string, cache bool, exIDs ...string) {
		t.Helper()
		need := resources.Resources(nil)
		var tasks []*mesospb.TaskInfo
		for _, id := range exIDs {
			ex := testExecutorInfo(id, executorOptions{uri: uri, cache: cache})
			tasks = append(tasks, executorTask("task-of-"+id, ex, smallTask, "finish"))
			need = need.Add(executorRes).Add(smallTask)
		}
		f.launchOn(f.takeOffer(need), tasks...)
		for _, id := range exIDs {
			f.waitState("task-of-"+id, mesospb.TaskState_TASK_FINISHED, time.Minute)
		}
	}
	run(cached, true, "first")
	if n := files.count("testexecutor"); n != 1 {
		t.Fatalf("first launch: %d downloads, want 1", n)
	}
	entries, err := os.ReadDir(cacheDir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("cache dir %s: %v, %d entries", cacheDir, err, len(entries))
	}
	run(cached, true, "second")
	if n := files.count("testexecutor"); n != 1 {
		t.Errorf("second launch (cache hit): %d downloads in all, want 1", n)
	}
	run(cached, false, "uncached")
	if n := files.count("testexecutor"); n != 2 {
		t.Errorf("launch with cache=false: %d downloads in all, want 2", n)
	}
	fresh := files.add("copy/testexecutor", bin)
	run(fresh, true, "together-1", "together-2", "together-3")
	if n := files.count("copy/testexecutor"); n != 1 {
		t.Errorf("three concurrent launches of a new URI: %d downloads, want 1", n)
	}
}

// A URI the agent cannot fetch fails the task with
// REASON_CONTAINER_LAUNCH_FAILED and a message naming the URI: an
// unreachable server for a custom executor, a 404 for a command task.
func TestFetchFailureFailsTask(t *testing.T) {
	cl := newCluster(t, 1, executorAgentRes, masterFlags...)
	files := newFileServer(t)
	f := newFramework(t, cl.master.addr, fwOptions{})

	unreachable := fmt.Sprintf("http://127.0.0.1:%d/testexecutor", freePort(t))
	ex := testExecutorInfo("nowhere", executorOptions{uri: unreachable})
	missing := files.srv.URL + "/missing.tgz"
	f.launchOn(f.takeOffer(executorRes.Add(smallTask).Add(smallTask)),
		executorTask("orphan", ex, smallTask, "finish"),
		commandTaskWithURIs("no-archive", "true", uri(missing)))

	for id, want := range map[string]string{"orphan": unreachable, "no-archive": missing} {
		st := f.waitState(id, mesospb.TaskState_TASK_FAILED, time.Minute)
		if st.GetReason() != mesospb.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED || !strings.Contains(st.GetMessage(), want) {
			t.Errorf("%s: %v %v %q; want REASON_CONTAINER_LAUNCH_FAILED naming %s", id, st.GetState(), st.GetReason(), st.GetMessage(), want)
		}
	}
	if st := f.waitState("no-archive", mesospb.TaskState_TASK_FAILED, time.Minute); !strings.Contains(st.GetMessage(), "404") {
		t.Errorf("message %q does not give the HTTP status", st.GetMessage())
	}
	eventually(t, time.Minute, func() error { return pendingUpdates(cl.agents[0]) })
}

// Archives with entries that would land outside the sandbox fail their
// task, and nothing is written outside the sandbox.
func TestFetchRefusesMaliciousArchives(t *testing.T) {
	cl := newCluster(t, 1, executorAgentRes, masterFlags...)
	files := newFileServer(t)
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "escape-absolute.txt")
	evil := map[string][]byte{
		"dotdot.tar.gz":   tarGz(t, archiveEntry{name: "fine.txt", body: "ok"}, archiveEntry{name: "../../escape-dotdot.txt", body: "x"}),
		"absolute.tar.gz": tarGz(t, archiveEntry{name: outside, body: "x"}),
		"symlink.tar.gz": tarGz(t, archiveEntry{name: "up", link: "../../../.."},
			archiveEntry{name: "up/escape-symlink.txt", body: "x"}),
		"dotdot.zip": zipFile(t, archiveEntry{name: "../../../escape-zip.txt", body: "x"}),
	}
	f := newFramework(t, cl.master.addr, fwOptions{})
	var tasks []*mesospb.TaskInfo
	need := resources.Resources(nil)
	urls := map[string]string{}
	for name, body := range evil {
		u := files.add(name, writeFile(t, dir, name, body, 0o644))
		id := "unpack-" + strings.ReplaceAll(name, ".", "-")
		urls[id] = u
		tasks = append(tasks, commandTaskWithURIs(id, "true", uri(u)))
		need = need.Add(smallTask)
	}
	f.launchOn(f.takeOffer(need), tasks...)
	for id, u := range urls {
		st := f.waitState(id, mesospb.TaskState_TASK_FAILED, time.Minute)
		if st.GetReason() != mesospb.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED || !strings.Contains(st.GetMessage(), u) ||
			!strings.Contains(st.GetMessage(), "unsafe archive entry") {
			t.Errorf("%s: %v %v %q", id, st.GetState(), st.GetReason(), st.GetMessage())
		}
	}
	if _, err := os.Stat(outside); !os.IsNotExist(err) {
		t.Errorf("%s exists (or cannot be checked: %v)", outside, err)
	}
	// No escape-* file anywhere under the cluster's directories, and
	// nothing but sandboxes were written to.
	err := filepath.WalkDir(cl.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), "escape") {
			t.Errorf("archive wrote %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

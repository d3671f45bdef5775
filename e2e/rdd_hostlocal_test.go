package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// shuffleBlockSources sums the reduce tasks' shuffle blocks by where they
// were read, from the event log a run wrote into dir.
func shuffleBlockSources(t *testing.T, dir string) (local, hostLocal, remote int64) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("event logs in %s: %v, want one", dir, files)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var e struct {
			Event   string `json:"event"`
			Metrics struct {
				Local     int64 `json:"shuffle_local_blocks"`
				HostLocal int64 `json:"shuffle_host_local_blocks"`
				Remote    int64 `json:"shuffle_remote_blocks"`
			} `json:"metrics"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if e.Event == "TaskEnd" {
			local += e.Metrics.Local
			hostLocal += e.Metrics.HostLocal
			remote += e.Metrics.Remote
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return local, hostLocal, remote
}

// Executors on one host read each other's map outputs from disk
// (spark.shuffle.readHostLocalDisk, on by default): the reduce tasks of the
// demo on a 3-agent cluster on loopback read no block over HTTP, and the
// result equals local mode's. Turned off, the other executor's blocks come
// over HTTP, with the same result.
func TestRDDClusterHostLocalShuffleReads(t *testing.T) {
	bin := buildExample(t, "groupby")
	args := []string{"--n", "1000000", "--parts", "100"}
	local, err := runProgram(t, 5*time.Minute, bin, append(args, "--master", "local[2]")...)
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, local)
	}
	c := newCluster(t, 3, "cpus:2;mem:2048;disk:4096;ports:[31000-32000]", masterFlags...)
	for _, tc := range []struct {
		name string
		conf []string
	}{{"default", nil}, {"off", []string{"--conf", "spark.shuffle.readHostLocalDisk=false"}}} {
		events := t.TempDir()
		run := append(append(append([]string{}, args...), "--event-log", events), clusterArgs(c, t.TempDir())...)
		out, err := runProgram(t, 5*time.Minute, bin, append(run, tc.conf...)...)
		if err != nil {
			t.Fatalf("%s: cluster run: %v\n%s", tc.name, err, out)
		}
		if got, want := checksumOf(t, out), checksumOf(t, local); got != want {
			t.Fatalf("%s: cluster %s, local %s\n%s", tc.name, got, want, out)
		}
		own, disk, remote := shuffleBlockSources(t, events)
		t.Logf("%s: shuffle blocks read: %d own, %d host-local, %d remote", tc.name, own, disk, remote)
		if own == 0 {
			t.Errorf("%s: no block read from the reducer's own store", tc.name)
		}
		switch tc.name {
		case "default":
			if disk == 0 || remote != 0 {
				t.Errorf("host-local reads on: %d host-local, %d remote blocks; want all of the other executor's from disk", disk, remote)
			}
		case "off":
			if disk != 0 || remote == 0 {
				t.Errorf("host-local reads off: %d host-local, %d remote blocks; want the other executor's over HTTP", disk, remote)
			}
		}
	}
}

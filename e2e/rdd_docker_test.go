package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/mesoproject/meso/internal/containerizer/docker/dockertest"
)

// buildStaticExample builds one of ./examples without cgo, statically
// linked, so that it runs in an image FROM scratch.
func buildStaticExample(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, "github.com/mesoproject/meso/examples/"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, out)
	}
	if err := dockertest.StaticBinary(bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// buildProgramImage builds and tags an image FROM scratch holding only the
// program at /<its base name> and an empty /tmp (the executor's local
// directory); it is removed when t ends.
func buildProgramImage(t *testing.T, cli *client.Client, bin, tag string) {
	t.Helper()
	body, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	dockerfile := "FROM scratch\nLABEL meso.test.image=" + fmt.Sprintf("%q", tag) + "\nCOPY rootfs/ /\n"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		h    tar.Header
		body []byte
	}{
		{tar.Header{Name: "Dockerfile", Mode: 0o644, Typeflag: tar.TypeReg}, []byte(dockerfile)},
		{tar.Header{Name: "rootfs/tmp/", Mode: 0o1777, Typeflag: tar.TypeDir}, nil},
		{tar.Header{Name: "rootfs/" + filepath.Base(bin), Mode: 0o755, Typeflag: tar.TypeReg}, body},
	} {
		f.h.Size = int64(len(f.body))
		if err := tw.WriteHeader(&f.h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true, Dockerfile: "Dockerfile"})
	if err != nil {
		t.Fatalf("building %s: %v", tag, err)
	}
	err = dockertest.StreamError(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("building %s: %v", tag, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dockertest.RemoveImage(ctx, cli, tag); err != nil {
			t.Logf("removing %s: %v", tag, err)
		}
	})
}

// The seed demo with its executors in a Docker image FROM scratch that
// holds a static build of the program (spark.mesos.executor.docker.image,
// spark.mesos.executor.home): the agents run them through the Docker
// containerizer, on the host's network (Docker's default network mode in
// Mesos), so they reach the driver at 127.0.0.1; the result equals local
// mode and no container is left.
func TestRDDClusterDockerExecutors(t *testing.T) {
	cli, bin, tag := groupbyImage(t, "meso-e2e-rdd")
	args := []string{"--n", "100000", "--parts", "6"}
	local, err := runProgram(t, 3*time.Minute, bin, append(args, "--master", "local[2]")...)
	if err != nil {
		t.Fatalf("local run: %v\n%s", err, local)
	}
	c := newCluster(t, 0, "", masterFlags...)
	for range 2 {
		c.addAgent("cpus:2;mem:2048;disk:4096;ports:[31000-32000]", "--containerizers=docker,mesos")
	}
	c.waitAgents(2)
	out, err := runProgram(t, 4*time.Minute, bin, append(args, "--master", "mesos://"+c.master.addr,
		"--conf", "spark.cores.max=2", "--conf", "spark.executor.cores=1", "--conf", "spark.executor.memory=256m",
		"--conf", "spark.mesos.executor.docker.image="+tag, "--conf", "spark.mesos.executor.home=/")...)
	if err != nil {
		t.Fatalf("cluster run: %v\n%s", err, out)
	}
	if got, want := checksumOf(t, out), checksumOf(t, local); got != want {
		t.Fatalf("cluster %s, local %s\ncluster output:\n%s", got, want, out)
	}
	// The program is at / only in the image: the executors ran there.
	d := &dockerEnv{cli: cli, image: tag}
	d.noContainersLeft(t, c)
}

// groupbyImage connects to the Docker daemon (skipping the test, saying
// why, without one) and builds an image FROM scratch holding a static
// build of examples/groupby at /groupby, tagged prefix:<unique>. It
// returns the client (closed at the test's end), the binary and the tag.
func groupbyImage(t *testing.T, prefix string) (cli *client.Client, bin, tag string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	cli, err := client.New(client.WithHost("unix://" + dockertest.Socket))
	if err == nil {
		_, err = cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	}
	cancel()
	if err != nil {
		t.Skipf("skipped: no Docker daemon at %s: %v", dockertest.Socket, err)
	}
	t.Cleanup(func() { cli.Close() })
	bin = buildStaticExample(t, "groupby")
	tag = fmt.Sprintf("%s:%d-%d", prefix, os.Getpid(), time.Now().UnixNano())
	buildProgramImage(t, cli, bin, tag)
	return cli, bin, tag
}

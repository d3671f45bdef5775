package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// The daemon tests share one image, built at the start of the test binary
// from Debian's static busybox, and a unique owner label; the image is
// removed at the end, and no container of that owner may be left.
var (
	testImage  string         // tag of the busybox image
	testOwner  string         // Config.Owner of the containerizers in the tests (or a prefix of it)
	testCli    *client.Client // nil when there is no daemon
	skipReason string         // why daemon tests skip; "" when they run
)

// busyboxPath is Debian's busybox-static binary.
const busyboxPath = "/bin/busybox"

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	stamp := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	testOwner = "meso-docker-test-" + stamp
	testImage = "meso-docker-test:" + stamp
	skipReason = setUp()
	code := m.Run()
	if testCli != nil {
		if tearDown() && code == 0 {
			code = 1
		}
		testCli.Close()
	}
	return code
}

// setUp connects to the daemon and builds the test image; it returns why
// the daemon tests cannot run, or "".
func setUp() string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli, err := client.New(client.WithHost("unix://" + DefaultSocket))
	if err != nil {
		return "no Docker client: " + err.Error()
	}
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	defer pcancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return fmt.Sprintf("no Docker daemon answers at %s: %v", DefaultSocket, err)
	}
	if err := staticBinary(busyboxPath); err != nil {
		cli.Close()
		return fmt.Sprintf("the tests build their image from a static busybox (apt-get install busybox-static): %v", err)
	}
	testCli = cli
	if err := buildImage(ctx, cli, testImage); err != nil {
		// A daemon that answers but cannot build is a failure, not a skip.
		fmt.Fprintf(os.Stderr, "building the test image: %v\n", err)
		os.Exit(1)
	}
	return ""
}

func staticBinary(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", path)
		}
	}
	return nil
}

// buildImage builds FROM scratch an image holding busybox and its applets
// as symlinks in /bin, with busybox as the entrypoint (so that shell=false
// commands run through the image's entrypoint).
func buildImage(ctx context.Context, cli *client.Client, tag string) error {
	bb, err := os.ReadFile(busyboxPath)
	if err != nil {
		return err
	}
	dockerfile := "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nENTRYPOINT [\"/bin/busybox\"]\nCMD [\"echo\", \"image default cmd\"]\n"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) {
		h.Size = int64(len(body))
		if err == nil {
			err = tw.WriteHeader(h)
		}
		if err == nil {
			_, err = tw.Write(body)
		}
	}
	add(&tar.Header{Name: "Dockerfile", Mode: 0o644, Typeflag: tar.TypeReg}, []byte(dockerfile))
	add(&tar.Header{Name: "rootfs/bin/", Mode: 0o755, Typeflag: tar.TypeDir}, nil)
	add(&tar.Header{Name: "rootfs/bin/busybox", Mode: 0o755, Typeflag: tar.TypeReg}, bb)
	for _, applet := range []string{"sh", "echo", "cat", "sleep", "pwd", "env", "ls", "head", "dd", "id", "true", "false"} {
		add(&tar.Header{Name: "rootfs/bin/" + applet, Linkname: "busybox", Mode: 0o777, Typeflag: tar.TypeSymlink}, nil)
	}
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		return err
	}
	res, err := cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true, Dockerfile: "Dockerfile"})
	if err != nil {
		return err
	}
	defer res.Body.Close()
	return jsonStreamError(res.Body)
}

// jsonStreamError reads a Docker progress stream to its end and returns the
// error it reports, if any.
func jsonStreamError(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if m.Error != nil {
			return errors.New(m.Error.Message)
		}
	}
}

// tearDown removes the image and reports whether containers of the tests
// were left behind (removing them too).
func tearDown() (leaked bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list, err := testCli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelOwner)})
	if err != nil {
		fmt.Fprintf(os.Stderr, "listing test containers: %v\n", err)
		return true
	}
	for _, c := range list.Items {
		if !strings.HasPrefix(c.Labels[LabelOwner], testOwner) {
			continue // another test binary's
		}
		leaked = true
		fmt.Fprintf(os.Stderr, "FAIL: container %v (%s, %s) left behind by the tests\n", c.Names, shortID(c.ID), c.State)
		testCli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	}
	if _, err := testCli.ImageRemove(ctx, testImage, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
		fmt.Fprintf(os.Stderr, "removing test image %s: %v\n", testImage, err)
	}
	return leaked
}

// needDocker skips t when the daemon tests cannot run here.
func needDocker(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip("docker tests skipped: " + skipReason)
	}
}

package docker

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/mesoproject/meso/internal/containerizer/docker/dockertest"
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
	cli, reason := dockertest.Connect(ctx)
	if cli == nil {
		return reason
	}
	testCli = cli
	if err := dockertest.BuildBusybox(ctx, cli, testImage); err != nil {
		// A daemon that answers but cannot build is a failure, not a skip.
		fmt.Fprintf(os.Stderr, "building the test image: %v\n", err)
		os.Exit(1)
	}
	return ""
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
	if err := dockertest.RemoveImage(ctx, testCli, testImage); err != nil {
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

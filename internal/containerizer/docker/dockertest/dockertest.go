package dockertest

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
	"strconv"
	"time"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// Socket is the daemon's default socket.
const Socket = "/var/run/docker.sock"

// BusyboxPath is Debian's busybox-static binary.
const BusyboxPath = "/bin/busybox"

// Applets are the busybox applets the image has in /bin.
var Applets = []string{"sh", "echo", "cat", "sleep", "pwd", "env", "ls", "head", "tail", "dd", "id", "true", "false", "hostname", "yes"}

// Connect returns a client of the daemon at Socket and checks that the
// image can be built (a static busybox is there). When something is
// missing it returns a nil client and the reason, for a skip message.
func Connect(ctx context.Context) (*client.Client, string) {
	cli, err := client.New(client.WithHost("unix://" + Socket))
	if err != nil {
		return nil, "no Docker client: " + err.Error()
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Sprintf("no Docker daemon answers at %s: %v", Socket, err)
	}
	if err := StaticBinary(BusyboxPath); err != nil {
		cli.Close()
		return nil, fmt.Sprintf("the test image is built from a static busybox (apt-get install busybox-static): %v", err)
	}
	return cli, ""
}

// StaticBinary checks that path is a statically linked ELF executable.
func StaticBinary(path string) error {
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

// BuildBusybox builds and tags FROM scratch an image holding busybox and
// the Applets as symlinks in /bin, PATH=/bin, busybox as the entrypoint
// (so that shell=false commands run through it) and a default cmd that
// prints "image default cmd".
func BuildBusybox(ctx context.Context, cli *client.Client, tag string) error {
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return err
	}
	// The label comes first so that every tag gets layers of its own: test
	// binaries building at the same time (go test runs packages in
	// parallel) then never share, and never remove, each other's images.
	dockerfile := "FROM scratch\nLABEL meso.test.image=" + strconv.Quote(tag) +
		"\nCOPY rootfs/ /\nENV PATH=/bin\nENTRYPOINT [\"/bin/busybox\"]\nCMD [\"echo\", \"image default cmd\"]\n"
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
	add(&tar.Header{Name: "rootfs/tmp/", Mode: 0o1777, Typeflag: tar.TypeDir}, nil)
	add(&tar.Header{Name: "rootfs/bin/busybox", Mode: 0o755, Typeflag: tar.TypeReg}, bb)
	for _, applet := range Applets {
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
	return StreamError(res.Body)
}

// StreamError reads a Docker progress stream to its end and returns the
// error it reports, if any.
func StreamError(r io.Reader) error {
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

// RemoveImage removes the image tag, forcibly.
func RemoveImage(ctx context.Context, cli *client.Client, tag string) error {
	_, err := cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	return err
}

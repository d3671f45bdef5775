package fetcher

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
)

// owner is the user a sandbox is handed to.
type owner struct {
	name     string
	uid, gid int
	groups   []int // primary and supplementary group ids
}

func (o *owner) inGroup(gid int) bool { return slices.Contains(o.groups, gid) }

// lookupOwner resolves name when it is set and the agent runs as root;
// otherwise files keep the agent's owner and it returns nil.
func lookupOwner(name string) (*owner, error) {
	if name == "" || os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("user %q: gid %q: %w", name, u.Gid, err)
	}
	o := &owner{name: name, uid: uid, gid: gid, groups: []int{gid}}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("user %q: groups: %w", name, err)
	}
	for _, id := range ids {
		if g, err := strconv.Atoi(id); err == nil {
			o.groups = append(o.groups, g)
		}
	}
	return o, nil
}

// chownTree gives dir and everything below it to the owner, as Mesos does
// with a sandbox before its task runs. Symlinks are not followed.
func (o *owner) chownTree(dir string) error {
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, o.uid, o.gid)
	})
	if err != nil {
		return fmt.Errorf("chown sandbox to %q: %w", o.name, err)
	}
	return nil
}

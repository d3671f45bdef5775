package checkpoint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mesoproject/meso/api/mesospb"
)

// resourcesFile holds the agent's dynamically reserved resources and
// persistent volumes, the last list the master sent
// (CHECKPOINT_RESOURCES), as a mesos.v1.Request's resources:
//
//	<work_dir>/meta/resources.pb
//
// Like Mesos' meta/resources, it is kept when the agent starts afresh
// under a new id (Clear leaves it): the volumes on disk are still there.
const resourcesFile = "resources.pb"

// WriteResources replaces the checkpointed resources.
func (s *Store) WriteResources(list []*mesospb.Resource) error {
	data, err := marshal.Marshal(&mesospb.Request{Resources: list})
	if err != nil {
		return fmt.Errorf("checkpoint: resources: %w", err)
	}
	return s.write(filepath.Join(s.dir, resourcesFile), data, 0o644)
}

// LoadResources reads the checkpointed resources (none when the file does
// not exist); a file that does not decode is an error wrapping
// ErrCorrupt.
func (s *Store) LoadResources() ([]*mesospb.Resource, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, resourcesFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var req mesospb.Request
	if err := unmarshal.Unmarshal(data, &req); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, resourcesFile, err)
	}
	return req.GetResources(), nil
}

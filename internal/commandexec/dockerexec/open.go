package dockerexec

import (
	"context"
	"log/slog"

	"github.com/mesoproject/meso/internal/commandexec"
	"github.com/mesoproject/meso/internal/containerizer/docker"
)

// Open is a commandexec.DockerOpener over the docker containerizer.
func Open(ctx context.Context, s commandexec.DockerSettings, log *slog.Logger) (commandexec.DockerEngine, error) {
	return docker.New(ctx, Config(s, log))
}

// Config is the docker containerizer's configuration for the agent's
// settings.
func Config(s commandexec.DockerSettings, log *slog.Logger) docker.Config {
	return docker.Config{Socket: s.Socket, Owner: s.Owner, SandboxDirectory: s.SandboxDirectory, CFSQuota: s.CFSQuota, Logger: log}
}

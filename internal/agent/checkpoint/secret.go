package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// secretFile holds the secret the master issued to this agent's id,
// readable by the agent's user only.
const secretFile = "agent_secret.json"

type agentSecret struct {
	AgentID string `json:"agent_id"`
	Secret  string `json:"secret"`
}

// WriteAgentSecret records the secret the master issued to agent id
// (mode 0600), replacing any earlier one.
func (s *Store) WriteAgentSecret(id, secret string) error {
	data, err := json.Marshal(agentSecret{AgentID: id, Secret: secret})
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return s.write(filepath.Join(s.dir, secretFile), data, 0o600)
}

// AgentSecret returns the secret recorded for agent id; "" when none is
// (or the one recorded belongs to another id).
func (s *Store) AgentSecret(id string) (string, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, secretFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	var rec agentSecret
	if err := json.Unmarshal(data, &rec); err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrCorrupt, secretFile, err)
	}
	if rec.AgentID != id {
		return "", nil
	}
	return rec.Secret, nil
}

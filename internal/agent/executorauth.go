package agent

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// executorKeyFile holds, under the work dir, the random key executor
// tokens are derived from. It outlives the agent process, so the tokens
// of executors that survive an agent restart stay valid.
const executorKeyFile = "executor_token.key"

// loadExecutorKey reads the executor token key, creating it on first use.
func loadExecutorKey(workDir string) ([]byte, error) {
	path := filepath.Join(workDir, executorKeyFile)
	key, err := os.ReadFile(path)
	if err == nil && len(key) == 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("agent: executor token key: %w", err)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("agent: executor token key: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, key, 0o600); err != nil {
		return nil, fmt.Errorf("agent: executor token key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("agent: executor token key: %w", err)
	}
	return key, nil
}

// executorToken is the opaque token of executor ex of framework fw: an
// HMAC of the ids under the agent's key (meso's; Mesos issues JWTs).
func executorToken(key []byte, fw, ex string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(fw))
	mac.Write([]byte{0})
	mac.Write([]byte(ex))
	return hex.EncodeToString(mac.Sum(nil))
}

// executorAuthorized reports whether r carries the token of executor ex
// of framework fw, compared in constant time.
func executorAuthorized(key []byte, r *http.Request, fw, ex string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	return hmac.Equal([]byte(got), []byte(executorToken(key, fw, ex)))
}

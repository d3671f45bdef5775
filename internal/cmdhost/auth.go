package cmdhost

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// VerifierEnv gives a host the SHA-256 (hex) of the token its agent
// presents in its first message on a connection. The host knows only the
// hash: reading its environment does not give the token.
const VerifierEnv = "MESO_CMDHOST_VERIFIER"

// keyFile, in Config.Dir, holds the agent's key (mode 0600): the token of
// a host is HMAC-SHA256(key, socket name), so the agent's next run, with
// the same key, can present it to the hosts the earlier run started.
const keyFile = "key"

// handshakeTimeout bounds the wait for a new connection's hello.
const handshakeTimeout = 10 * time.Second

// loadKey returns the key in dir, creating it when there is none.
func loadKey(dir string) ([]byte, error) {
	p := filepath.Join(dir, keyFile)
	b, err := os.ReadFile(p)
	if err == nil {
		k, err := hex.DecodeString(string(b))
		if err != nil || len(k) < 16 {
			return nil, fmt.Errorf("cmdhost: %s is corrupt", p)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(hex.EncodeToString(k)), 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, p); err != nil {
		return nil, err
	}
	return k, nil
}

// token is what the agent presents to the host listening on socket.
func token(key []byte, socket string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(socket))
	return hex.EncodeToString(m.Sum(nil))
}

// verifier is what the host checks a token against.
func verifier(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// verify reports whether tok is the token of verifier v.
func verify(v, tok string) bool {
	return v != "" && subtle.ConstantTimeCompare([]byte(verifier(tok)), []byte(v)) == 1
}

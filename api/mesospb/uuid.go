package mesospb

import (
	"crypto/rand"
	"fmt"
)

// NewUUID returns a random (version 4) UUID as 16 bytes, the form of
// TaskStatus.uuid.
func NewUUID() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

// UUIDString formats a 16-byte UUID in its text form
// (8-4-4-4-12 hex digits); other lengths print as plain hex.
func UUIDString(b []byte) string {
	if len(b) != 16 {
		return fmt.Sprintf("%x", b)
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

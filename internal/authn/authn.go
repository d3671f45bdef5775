package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// ErrCredentials wraps every error reading a credentials file.
var ErrCredentials = errors.New("authn: invalid credentials")

// Realm is the realm of the Basic challenge, as Mesos names it.
const Realm = "mesos"

// Credential is one principal and its secret.
type Credential struct {
	Principal string `json:"principal"`
	Secret    string `json:"secret"`
}

// Credentials is a set of principals and secrets. The zero value and nil
// hold none (every check fails).
type Credentials struct {
	list []Credential
}

// New returns the credentials of list; a principal listed twice is an error.
func New(list []Credential) (*Credentials, error) {
	seen := map[string]bool{}
	for i, c := range list {
		if c.Principal == "" {
			return nil, fmt.Errorf("%w: credentials[%d]: empty principal", ErrCredentials, i)
		}
		if seen[c.Principal] {
			return nil, fmt.Errorf("%w: credentials[%d]: principal %q listed twice", ErrCredentials, i, c.Principal)
		}
		seen[c.Principal] = true
	}
	return &Credentials{list: append([]Credential(nil), list...)}, nil
}

// Parse reads a credentials file's content: JSON
// {"credentials":[{"principal":..,"secret":..}]}, one JSON credential
// {"principal":..,"secret":..} (the agent's --credential), or "principal
// secret" lines.
func Parse(data []byte) (*Credentials, error) {
	text := strings.TrimSpace(string(data))
	if strings.HasPrefix(text, "{") {
		var doc struct {
			Credentials []Credential `json:"credentials"`
			Credential               // an agent's --credential: one object
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCredentials, err)
		}
		if doc.Credentials == nil && doc.Principal != "" {
			return New([]Credential{doc.Credential})
		}
		return New(doc.Credentials)
	}
	var list []Credential
	for n, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line)
		switch len(fields) {
		case 0:
			continue
		case 2:
			list = append(list, Credential{Principal: fields[0], Secret: fields[1]})
		default:
			return nil, fmt.Errorf("%w: line %d: want \"principal secret\"", ErrCredentials, n+1)
		}
	}
	return New(list)
}

// Load reads the credentials file a flag names: a path or file:///path.
func Load(path string) (*Credentials, error) {
	path = strings.TrimPrefix(path, "file://")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	return Parse(data)
}

// LoadOne reads a file holding a single credential (the agent's
// --credential): the first one listed.
func LoadOne(path string) (Credential, error) {
	c, err := Load(path)
	if err != nil {
		return Credential{}, err
	}
	if len(c.list) != 1 {
		return Credential{}, fmt.Errorf("%w: %s: want exactly one credential, found %d", ErrCredentials, path, len(c.list))
	}
	return c.list[0], nil
}

// Len is the number of principals.
func (c *Credentials) Len() int {
	if c == nil {
		return 0
	}
	return len(c.list)
}

// Check reports whether secret is principal's. Secrets are compared in
// constant time (as digests, so that their lengths do not leak either),
// and every entry is compared, so that the time does not say which
// principals exist.
func (c *Credentials) Check(principal, secret string) bool {
	if c == nil {
		return false
	}
	want := sha256.Sum256([]byte(secret))
	ok := 0
	for _, e := range c.list {
		got := sha256.Sum256([]byte(e.Secret))
		same := subtle.ConstantTimeCompare([]byte(e.Principal), []byte(principal)) &
			subtle.ConstantTimeCompare(got[:], want[:])
		ok |= same
	}
	return ok == 1
}

// Authenticate checks r's HTTP Basic credentials and returns the
// principal.
func (c *Credentials) Authenticate(r *http.Request) (string, bool) {
	user, pass, ok := r.BasicAuth()
	if !ok || !c.Check(user, pass) {
		return "", false
	}
	return user, true
}

// Challenge answers 401 with Mesos' Basic challenge.
func Challenge(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="`+Realm+`"`)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintln(w, msg)
}

// Require wraps next so that it serves only requests with valid Basic
// credentials, with the principal in their context; others get 401.
func (c *Credentials) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		principal, ok := c.Authenticate(r)
		if !ok {
			Challenge(w, "Unauthorized: valid credentials are required")
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), principal)))
	})
}

// RequireIf is Require when on, else h itself: the daemons guard each
// endpoint group by its own --authenticate_* flag.
func (c *Credentials) RequireIf(on bool, h http.Handler) http.Handler {
	if !on {
		return h
	}
	return c.Require(h)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying an authenticated principal.
func WithPrincipal(ctx context.Context, principal string) context.Context {
	return context.WithValue(ctx, principalKey{}, principal)
}

// Principal returns the authenticated principal ctx carries, if any.
func Principal(ctx context.Context) (string, bool) {
	p, ok := ctx.Value(principalKey{}).(string)
	return p, ok
}

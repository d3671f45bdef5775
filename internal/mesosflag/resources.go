package mesosflag

import (
	"fmt"
	"os"
	"strings"

	"github.com/mesoproject/meso/internal/resources"
	"github.com/spf13/pflag"
)

// Resources is a resources.Resources as a pflag.Value reading the agent's
// --resources syntax ("cpus:4;mem:8192;ports:[31000-32000]" or Mesos' JSON
// array). As with Mesos flags, a value "file:///path" is read from that file.
type Resources resources.Resources

// Set parses s with resources.Parse.
func (r *Resources) Set(s string) error {
	text, err := flagText(s)
	if err != nil {
		return err
	}
	v, err := resources.Parse(text)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	*r = Resources(v)
	return nil
}

// String prints the resources in the flag syntax.
func (r *Resources) String() string {
	if r == nil {
		return ""
	}
	return resources.Resources(*r).String()
}

// Type names the value kind in help output.
func (r *Resources) Type() string { return "resources" }

// ResourcesVar defines a resources flag named name on fs, stored in p.
func ResourcesVar(fs *pflag.FlagSet, p *resources.Resources, name string, def resources.Resources, usage string) {
	*p = def
	fs.Var((*Resources)(p), name, usage)
}

// Attributes is a resources.Attributes as a pflag.Value reading the agent's
// --attributes syntax ("rack:r1;zone:a"); "file:///path" reads a file.
type Attributes resources.Attributes

// Set parses s with resources.ParseAttributes.
func (a *Attributes) Set(s string) error {
	text, err := flagText(s)
	if err != nil {
		return err
	}
	v, err := resources.ParseAttributes(text)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	*a = Attributes(v)
	return nil
}

// String prints the attributes in the flag syntax.
func (a *Attributes) String() string {
	if a == nil {
		return ""
	}
	return resources.Attributes(*a).String()
}

// Type names the value kind in help output.
func (a *Attributes) Type() string { return "attributes" }

// AttributesVar defines an attributes flag named name on fs, stored in p.
func AttributesVar(fs *pflag.FlagSet, p *resources.Attributes, name string, def resources.Attributes, usage string) {
	*p = def
	fs.Var((*Attributes)(p), name, usage)
}

// flagText resolves Mesos' "file://" flag indirection.
func flagText(s string) (string, error) {
	path, ok := strings.CutPrefix(s, "file://")
	if !ok {
		return s, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return strings.TrimSpace(string(b)), nil
}

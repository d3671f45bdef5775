package codec

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// checkRequired returns an error naming the first unset required field of m
// (in field declaration order, depth first), or nil. The fast path is
// proto.CheckInitialized; the walk that builds the path runs only on failure.
func checkRequired(format string, m proto.Message) error {
	if proto.CheckInitialized(m) == nil {
		return nil
	}
	parent, field, ok := findMissing(m.ProtoReflect(), "", 0)
	if !ok {
		// CheckInitialized saw something our walk cannot (e.g. an
		// extension); report it as it is.
		return fmt.Errorf("codec: %s: %w: %v", format, ErrMissingRequired, proto.CheckInitialized(m))
	}
	return requiredError(format, parent, field)
}

func requiredError(format, parent, field string) error {
	if parent == "" {
		return fmt.Errorf("codec: %s: %w %q", format, ErrMissingRequired, field)
	}
	return fmt.Errorf("codec: %s: field %q: %w %q", format, parent, ErrMissingRequired, field)
}

// findMissing walks m and returns the path of the message holding the first
// unset required field and that field's name.
func findMissing(m protoreflect.Message, path string, depth int) (parent, field string, ok bool) {
	if depth > maxDepth {
		return "", "", false
	}
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Cardinality() == protoreflect.Required && !m.Has(fd) {
			return path, string(fd.Name()), true
		}
	}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		if parent, field, ok = findMissingIn(m, fd, path, depth); ok {
			return parent, field, true
		}
	}
	return "", "", false
}

func findMissingIn(m protoreflect.Message, fd protoreflect.FieldDescriptor, path string, depth int) (parent, field string, ok bool) {
	name := joinPath(path, string(fd.Name()))
	switch {
	case fd.IsMap():
		if !isMessageKind(fd.MapValue().Kind()) {
			return "", "", false
		}
		m.Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			parent, field, ok = findMissing(v.Message(), name+"["+strconv.Quote(k.String())+"]", depth+1)
			return !ok
		})
		return parent, field, ok
	case fd.IsList():
		if !isMessageKind(fd.Kind()) {
			return "", "", false
		}
		list := m.Get(fd).List()
		for j := 0; j < list.Len(); j++ {
			if parent, field, ok = findMissing(list.Get(j).Message(), name+"["+strconv.Itoa(j)+"]", depth+1); ok {
				return parent, field, true
			}
		}
		return "", "", false
	case isMessageKind(fd.Kind()):
		return findMissing(m.Get(fd).Message(), name, depth+1)
	}
	return "", "", false
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func isMessageKind(k protoreflect.Kind) bool {
	return k == protoreflect.MessageKind || k == protoreflect.GroupKind
}

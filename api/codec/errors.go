package codec

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// pathError is a JSON encoding or decoding failure inside a message. The path
// is collected while the recursion unwinds, so the success path pays nothing
// for it.
type pathError struct {
	path []string // innermost element first
	msg  string
	err  error // wrapped sentinel, if any
}

func (e *pathError) Unwrap() error { return e.err }

func missingRequired(fd protoreflect.FieldDescriptor) error {
	return &pathError{msg: ErrMissingRequired.Error() + " " + strconv.Quote(string(fd.Name())), err: ErrMissingRequired}
}

func (e *pathError) Error() string {
	if len(e.path) == 0 {
		return "codec: json: " + e.msg
	}
	var b strings.Builder
	for i := len(e.path) - 1; i >= 0; i-- {
		s := e.path[i]
		if b.Len() > 0 && s[0] != '[' {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return "codec: json: field " + strconv.Quote(b.String()) + ": " + e.msg
}

// wrapPath prepends a path element (a field name, or "[i]") to err when it is
// a *pathError.
func wrapPath(err error, elem string) error {
	if pe, ok := err.(*pathError); ok {
		pe.path = append(pe.path, elem)
	}
	return err
}

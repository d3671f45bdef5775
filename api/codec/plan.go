package codec

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// maxDepth bounds message nesting in both directions (the protobuf runtime
// uses the same limit), so that hostile or cyclic input cannot exhaust the
// stack.
const maxDepth = 10000

// msgPlan is what the JSON encoder and decoder need to know about one message
// type, computed once per descriptor.
type msgPlan struct {
	// sorted lists the fields by name: Mesos serialises through a sorted
	// map, so its JSON objects have their keys in this order.
	sorted []*fieldPlan
	// byName finds a field by its proto name or, failing that, its JSON
	// (lowerCamelCase) name.
	byName map[string]*fieldPlan
	// required lists the required fields.
	required []protoreflect.FieldDescriptor
}

// checkRequired returns an error for the first required field of m that is
// not set.
func (p *msgPlan) checkRequired(m protoreflect.Message) error {
	for _, fd := range p.required {
		if !m.Has(fd) {
			return missingRequired(fd)
		}
	}
	return nil
}

type fieldPlan struct {
	fd protoreflect.FieldDescriptor
	// key is the quoted proto name followed by a colon, ready to append.
	key string
	// emitDefault: the field is optional, unset, has an explicit default
	// and is not deprecated; Mesos writes the default in that case.
	emitDefault bool
	// enumByName maps value names to numbers for enum fields (and map
	// values), so that decoding needs no allocation.
	enumByName map[string]protoreflect.EnumNumber
	// child is the plan of the message type of this field, filled lazily.
	child atomic.Pointer[msgPlan]
}

var plans sync.Map // protoreflect.MessageDescriptor -> *msgPlan

func planFor(md protoreflect.MessageDescriptor) *msgPlan {
	if p, ok := plans.Load(md); ok {
		return p.(*msgPlan)
	}
	p, _ := plans.LoadOrStore(md, buildPlan(md))
	return p.(*msgPlan)
}

func buildPlan(md protoreflect.MessageDescriptor) *msgPlan {
	fields := md.Fields()
	p := &msgPlan{byName: make(map[string]*fieldPlan, 2*fields.Len())}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		fp := &fieldPlan{
			fd:          fd,
			key:         strconv.Quote(string(fd.Name())) + ":",
			emitDefault: wantsDefault(fd),
		}
		if ed := enumOf(fd); ed != nil {
			fp.enumByName = enumNames(ed)
		}
		if fd.Cardinality() == protoreflect.Required {
			p.required = append(p.required, fd)
		}
		p.sorted = append(p.sorted, fp)
		p.byName[string(fd.Name())] = fp
	}
	for _, fp := range p.sorted {
		if jn := fp.fd.JSONName(); jn != "" {
			if _, taken := p.byName[jn]; !taken {
				p.byName[jn] = fp
			}
		}
	}
	slices.SortFunc(p.sorted, func(a, b *fieldPlan) int {
		return cmpString(string(a.fd.Name()), string(b.fd.Name()))
	})
	return p
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// childPlan returns the plan of the message type held by this field (or by
// the values of this map field).
func (fp *fieldPlan) childPlan() *msgPlan {
	if p := fp.child.Load(); p != nil {
		return p
	}
	md := fp.fd.Message()
	if fp.fd.IsMap() {
		md = fp.fd.MapValue().Message()
	}
	p := planFor(md)
	fp.child.Store(p)
	return p
}

func wantsDefault(fd protoreflect.FieldDescriptor) bool {
	if fd.IsList() || fd.IsMap() || !fd.HasDefault() || fd.ContainingOneof() != nil {
		return false
	}
	if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetDeprecated() {
		return false
	}
	return true
}

func enumOf(fd protoreflect.FieldDescriptor) protoreflect.EnumDescriptor {
	if fd.IsMap() {
		fd = fd.MapValue()
	}
	if fd.Kind() == protoreflect.EnumKind {
		return fd.Enum()
	}
	return nil
}

func enumNames(ed protoreflect.EnumDescriptor) map[string]protoreflect.EnumNumber {
	vals := ed.Values()
	m := make(map[string]protoreflect.EnumNumber, vals.Len())
	for i := 0; i < vals.Len(); i++ {
		m[string(vals.Get(i).Name())] = vals.Get(i).Number()
	}
	return m
}

package rdd

import "reflect"

// freshZero returns a function that gives a private copy of zero on every
// call. Spark sends the zero value of Fold, Aggregate, FoldByKey and
// AggregateByKey to every task and copies it for every key, so seq and comb
// may modify and return their first argument (a map, a slice with spare
// capacity) as Spark's documentation allows. Here tasks share the process, so
// a zero holding references is deep-copied instead; one without is simply
// assigned.
func freshZero[T any](zero T) func() T {
	t := reflect.TypeFor[T]()
	if t == nil || !holdsRefs(t, 0) {
		return func() T { return zero }
	}
	src := reflect.ValueOf(&zero).Elem()
	return func() T {
		var out T
		deepCopy(reflect.ValueOf(&out).Elem(), src, 0)
		return out
	}
}

// maxCopyDepth bounds deepCopy on cyclic or very deep values: below it,
// values are shared.
const maxCopyDepth = 64

// holdsRefs reports whether values of t can share mutable memory.
func holdsRefs(t reflect.Type, depth int) bool {
	if depth > maxCopyDepth {
		return true
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return false
	case reflect.Array:
		return holdsRefs(t.Elem(), depth+1)
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsRefs(t.Field(i).Type, depth+1) {
				return true
			}
		}
		return false
	}
	return true
}

// deepCopy copies src into dst (settable, same type): slices, maps,
// pointers and interfaces get fresh memory, keeping nil as nil and empty as
// empty. Unexported struct fields, channels and functions are copied as they
// are (shared).
func deepCopy(dst, src reflect.Value, depth int) {
	if depth > maxCopyDepth {
		dst.Set(src)
		return
	}
	switch src.Kind() {
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Cap())
		for i := range src.Len() {
			deepCopy(s.Index(i), src.Index(i), depth+1)
		}
		dst.Set(s)
	case reflect.Map:
		if src.IsNil() {
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		for it := src.MapRange(); it.Next(); {
			k := reflect.New(src.Type().Key()).Elem()
			deepCopy(k, it.Key(), depth+1)
			v := reflect.New(src.Type().Elem()).Elem()
			deepCopy(v, it.Value(), depth+1)
			m.SetMapIndex(k, v)
		}
		dst.Set(m)
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		p := reflect.New(src.Type().Elem())
		deepCopy(p.Elem(), src.Elem(), depth+1)
		dst.Set(p)
	case reflect.Interface:
		if src.IsNil() {
			return
		}
		v := reflect.New(src.Elem().Type()).Elem()
		deepCopy(v, src.Elem(), depth+1)
		dst.Set(v)
	case reflect.Array:
		for i := range src.Len() {
			deepCopy(dst.Index(i), src.Index(i), depth+1)
		}
	case reflect.Struct:
		dst.Set(src) // everything, unexported fields included
		for i := range src.NumField() {
			if dst.Field(i).CanSet() {
				deepCopy(dst.Field(i), src.Field(i), depth+1)
			}
		}
	default:
		dst.Set(src)
	}
}

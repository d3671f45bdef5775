// Package codec encodes records for the rdd engine's shuffle files, disk
// cache and (later) the wire between driver and executors.
//
// A Codec[T] appends the binary form of a value to a byte slice and decodes
// one value from the front of a byte slice, reporting how many bytes it used.
// Records are concatenated without framing: the codec alone knows where a
// record ends.
//
// For returns the fastest codec available for T:
//   - hand-written codecs for bool, all integer kinds and float32/64
//     (little-endian at their width; int and uint as 8 bytes on every
//     platform), string and []byte (length-prefixed);
//   - a codec registered with Register, or produced by T's MakeCodec method
//     (types such as rdd.Pair use this to compose their fields' codecs
//     without reflection);
//   - for structs of exported scalar and string fields (and nested such
//     structs), a codec walking a table of field offsets: no reflection per
//     record, no allocation but for strings;
//   - for slices of such structs, or of scalars, the same table over the
//     backing array. Elements of fixed size (integers, floats and bools
//     only, e.g. rdd.Pair[int, int64]) take the fixed-size form: the count
//     as a uvarint, then each element's fields little-endian at full width
//     (int, uint and uintptr as 8 bytes on every platform, bools as 0 or
//     1), no padding. Where that is the element's memory layout (a
//     little-endian host, no padding, 64-bit int) a slice is encoded and
//     decoded as one copy of its backing array; elsewhere a loop over the
//     fields writes and reads the same bytes. Elements with strings take
//     the reflective codec's form (the count, then each element);
//   - otherwise a reflection-built codec, compiled once per type, for
//     structs of exported fields, slices, arrays, maps, pointers and the
//     kinds above;
//   - otherwise (interfaces, channels, unexported fields) encoding/gob,
//     one self-describing gob stream per record: slow, but general.
//
// Empty slices and maps decode as nil ones. DecodeIn with an Arena decodes
// the slices of fixed-size elements of many records (a partition) into a
// few shared backing arrays instead of one allocation per slice.
//
// Encodings are deterministic for everything except maps (whose entries are
// written in iteration order), so equal keys have equal bytes: the shuffle
// relies on this when it spills and merges sorted runs. Decoding never
// panics on bad input; it returns an error wrapping ErrCorrupt, and every
// length is checked against the bytes left before anything is allocated.
package codec

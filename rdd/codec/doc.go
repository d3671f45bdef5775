// Package codec encodes records for the rdd engine's shuffle files, disk
// cache and (later) the wire between driver and executors.
//
// A Codec[T] appends the binary form of a value to a byte slice and decodes
// one value from the front of a byte slice, reporting how many bytes it used.
// Records are concatenated without framing: the codec alone knows where a
// record ends.
//
// For returns the fastest codec available for T:
//   - hand-written codecs for bool, all integer kinds (zig-zag varints),
//     float32/64 (fixed width), string and []byte (length-prefixed);
//   - a codec registered with Register, or produced by T's MakeCodec method
//     (types such as rdd.Pair use this to compose their fields' codecs
//     without reflection);
//   - for structs of exported scalar and string fields (and nested such
//     structs), a codec walking a table of field offsets: no reflection per
//     record, no allocation but for strings;
//   - otherwise a reflection-built codec, compiled once per type, for
//     structs of exported fields, slices, arrays, maps, pointers and the
//     kinds above;
//   - otherwise (interfaces, channels, unexported fields) encoding/gob,
//     one self-describing gob stream per record: slow, but general.
//
// Empty slices and maps decode as nil ones.
//
// Encodings are deterministic for everything except maps (whose entries are
// written in iteration order), so equal keys have equal bytes: the shuffle
// relies on this when it spills and merges sorted runs. Decoding never
// panics on bad input; it returns an error wrapping ErrCorrupt.
package codec

// Package codec encodes and decodes Mesos v1 API messages in the two media
// types of the Mesos HTTP API, and negotiates between them.
//
// The codecs are generic over proto.Message and know nothing of the Mesos
// message types. Both enforce proto2 required fields in both directions:
// encoding a message that lacks one is an error (it would be a bug in the
// sender, and real Mesos clients reject such messages), and so is decoding
// one. Errors name the field path, for example
//
//	codec: json: field "framework_id": missing required field "value"
//	codec: json: field "offers[3].resources[0].scalar.value": expected a number, got a string
//
// and are written to be returned as the body of a 400 response.
//
// # Media types
//
// ForContentType maps a request's Content-Type to a codec
// (ErrMissingContentType, or ErrUnsupportedMediaType for 415). Negotiate
// picks the codec of a response from the Accept header (ErrNotAcceptable for
// 406): a missing header or "*/*" selects the fallback, otherwise the highest
// q-value wins. Mesos instead picks JSON whenever the Accept header allows it
// at all; the two agree for every header that names a single type.
//
// # Mesos JSON
//
// JSON follows what Apache Mesos writes (stout's JSON::protobuf) and reads
// (stout's protobuf::parse), with a few deliberate leniencies on input:
//
//   - Keys are the proto field names (snake_case). Objects list their keys
//     in sorted order, as Mesos does. On input the lowerCamelCase JSON
//     names of protobuf's own JSON mapping are also accepted; unknown keys
//     are ignored; when a key repeats, the last occurrence wins.
//   - Unset fields are left out, except optional fields with an explicit
//     default that are not deprecated: Mesos writes their default value
//     (e.g. CommandInfo.shell is written as true). Empty repeated fields are
//     left out.
//   - All integers, 64-bit ones included, are written as JSON numbers (not
//     strings, as protobuf's JSON mapping does). On input every numeric
//     field accepts a number or a string holding one, and integer fields
//     accept any notation of an integer in range (3, 3.0, 3e0); a fraction
//     or a value out of range is an error (Mesos silently truncates).
//   - Floating-point values are written in the shortest form that reads
//     back to the same value, with ".0" on whole numbers as Mesos writes
//     them ("2.0", "0.1", "1024.5"), and an exponent below 1e-6 or from
//     1e21 up ("1e-7", "1e+21"). Mesos prints 15 significant digits, so the
//     two agree on every value with no more. NaN and the infinities, which
//     JSON numbers cannot carry, are written as the strings "NaN",
//     "Infinity" and "-Infinity" (protobuf's JSON mapping; Mesos prints bare
//     nan and inf, which no JSON parser reads), and those three strings are
//     read back into float fields, so one non-finite value stored anywhere
//     (a framework's failover_timeout of +Inf) cannot make a whole state
//     query fail.
//   - Enums are written by value name. The Go runtime keeps an enum number
//     it does not know in the field (a peer's newer value, decoded from
//     protobuf), where the C++ runtime moves it to the unknown fields; so
//     the encoder leaves such a value out, as Mesos would (falling back to
//     the default, dropping the element of a repeated field), and fails only
//     for a required field. On input a name or a number is accepted (Mesos
//     takes only names). A name or number the enum does not define is an
//     error for a required field and leaves an optional field unset (drops
//     the element of a repeated field), as Mesos does; RawValue tells an
//     API which value was sent, so its 400 can name it.
//   - bytes are standard base64 with padding. On input padding is optional
//     and the URL-safe alphabet is accepted too.
//   - Strings are written as UTF-8 with control characters escaped; invalid
//     UTF-8 in a message being encoded is replaced by U+FFFD. Mesos also
//     escapes '/' as "\/"; we do not (the two are the same JSON string).
//     On input, a string for a string field (or a string map key) that is
//     not valid UTF-8 is an error wrapping ErrInvalidUTF8 and naming the
//     field path and the byte ("codec: json: field "name": invalid UTF-8
//     at byte 3 of the string"), so a 400 says what is wrong; it is never
//     silently replaced. An escaped lone surrogate ("\ud800" not followed
//     by a low surrogate) is refused anywhere in the input, as Mesos'
//     parser (picojson) refuses it. Invalid bytes in the text of an
//     unknown field are skipped with it.
//   - null means unset, for every kind of field; null elements of an array
//     are skipped. The top level must be an object.
//   - Map fields (FrameworkInfo.offer_filters) are written the way stout's
//     reflection sees them: an array of {"key":k,"value":v} entry objects,
//     sorted by key. On input that form and the JSON object form of
//     protobuf's JSON mapping ({"k":v}) are both accepted.
//
// Extensions and unknown fields are not written. Nesting deeper than 10000
// messages is an error.
//
// # Protobuf and UTF-8
//
// The protobuf codec does not check string fields for UTF-8: proto2 (the
// syntax of the Mesos messages) leaves them unchecked, Mesos' C++ runtime
// accepts such a message (at most logging it), and the codec also decodes
// what a Mesos master or agent relays, where refusing one event would break
// a client's whole stream. Such a string is kept as received in memory and
// written as U+FFFD in JSON.
package codec

// Package recordio reads and writes Mesos RecordIO streams: the framing of
// the event streams of the Mesos v1 scheduler and executor APIs.
//
// A stream is a concatenation of records, each written as its length in
// bytes in decimal ASCII, a line feed, and then that many bytes:
//
//	5\nhello6\nworld!
//
// Zero-length records are allowed. The length prefix is one or more ASCII
// digits (leading zeros allowed, at most 20 characters); anything else (an
// empty prefix, a sign, spaces, a carriage return, a value that overflows)
// is ErrMalformedPrefix. A length above the reader's maximum is
// ErrRecordTooLarge, reported before anything is allocated for it. A stream
// that ends between records ends with io.EOF; one that ends inside a record
// or its prefix gives io.ErrUnexpectedEOF. Errors are sticky: after one, a
// Reader returns it again, since the framing cannot be recovered.
//
// Writer.WriteMessage and Reader.ReadMessage combine the framing with a
// codec (any value with the Marshal or Unmarshal method of codec.Codec).
//
// Neither Reader nor Writer is safe for concurrent use.
package recordio

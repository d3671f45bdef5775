// Package httpbound bounds what one HTTP client can make a meso daemon hold:
// time to send headers and a body, and memory for request bodies. The
// master and the agent build their http.Server with it and read every call
// body through it.
//
// Bounds.Server returns an http.Server with a header timeout, an idle
// timeout and a header size bound, whose handler gives every request with a
// body a read deadline of BodyTimeout from when its headers were read. Once
// the handler has read the body to its end the deadline is lifted, so that
// the long-lived responses of SUBSCRIBE and the agent link (RecordIO
// streams answering a POST) live on. The server has no ReadTimeout or
// WriteTimeout: net/http applies those to the whole connection, and a read
// deadline that passes under a streaming response cancels its request.
//
// Bounds.ReadBody reads a call body of at most limit bytes:
//
//   - a declared Content-Length over limit fails at once (ErrTooLarge, 413)
//     without reading anything;
//   - the first SmallBody bytes are read freely; a body longer than that
//     first reserves its size (its declared length, or limit when the
//     length is not declared) from a budget of BodyMemory bytes shared by
//     every request of the server, waiting in turn (FIFO) until the body
//     deadline, then failing with ErrBusy (503). A body bigger than the
//     whole budget waits until it has the budget to itself. The reservation
//     is held until the caller calls the release function it got back,
//     after decoding;
//   - a body not read by its deadline fails with ErrTimeout (408), and the
//     connection is closed.
//
// So the bodies in memory at once are bounded by BodyMemory plus SmallBody
// per connection (the same order as the header bound each connection may
// already hold), and a client that trickles a body or declares a huge one
// holds its connection for at most BodyTimeout.
//
// Status maps ReadBody's errors to HTTP statuses.
package httpbound

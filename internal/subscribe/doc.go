// Package subscribe is the one client side of meso's long-lived streams:
// the scheduler API client (package scheduler), the executor API client
// (package executor) and the agent's link to the master all subscribe,
// read a RecordIO stream of events, watch it for silence, and reconnect
// through it.
//
// It has a pure part and a thin I/O part.
//
// The pure part decides, with no clock or network inside:
//
//   - Backoff: the delay before the next attempt, doubling from Min to Max
//     with jitter (drawn from [d/2, d], or from [0, d] with Full, the
//     agent's registration backoff as in Mesos), reset by a session that
//     subscribed.
//   - Route: which endpoint the next attempt goes to. The endpoints (the
//     masters of a --master list) are tried in order: an attempt that
//     failed moves to the next one; a session that was up and broke starts
//     again at the same one (it redirects to the new leader, if any). A 307
//     is followed at once to its Location, at most MaxRedirects times in a
//     row, so two masters naming each other cannot spin.
//   - Policy.Next combines the two: given how a session ended (an Outcome),
//     where the next attempt goes and after how long.
//   - Silence: how long a stream may stay silent (misses times the
//     heartbeat or ping interval), saturating instead of wrapping.
//
// The I/O part:
//
//   - Conn sends requests through a caller-supplied *http.Client (its
//     Transport and Jar: TLS, proxies and the like are the caller's) that
//     never follows redirects itself, with the protocol's Content-Type and
//     Accept and a per-request header hook (Authorization and the like).
//     Without a Transport of the caller's it uses DefaultTransport, which
//     keeps DefaultMaxIdleConnsPerHost idle connections per host (net/http
//     keeps 2, so concurrent calls would open new connections all the
//     time). Open sends a subscription (SUBSCRIBE, REGISTER) and returns the
//     Stream on 200, a *Redirect on 307 and a *StatusError on anything
//     else; Send posts one call, following 307s, and returns nil on 2xx.
//     A call's request is a copy of a template made once per target, and
//     goes straight to the transport when the client would add nothing
//     (no Jar, no Timeout, no user in the URL), errors wrapped as
//     http.Client wraps them.
//   - Pipeline, an http.RoundTripper for calls, pipelines them over a few
//     connections per host. Plain calls are written without req.Write
//     (writePlain: the same bytes, compared and fuzzed against it) and
//     answers of the plain shape already whole in the buffer are read
//     without http.ReadResponse (readBuffered: the same answer, fuzzed
//     against it); anything else takes net/http's path.
//   - Stream reads the records of the answer, decoded by the codec its
//     Content-Type names. Watch arms a silence watchdog: when no record
//     arrives for the limit the stream is cut and Next returns the cause the
//     caller gave. The watchdog runs only while Next waits, so a consumer
//     that is slow to take an event is not mistaken for a silent peer.
//   - Loop.Run makes one session after another with Policy's decisions
//     until ctx is done or the caller's End says to stop; Gate lets a
//     caller bound the retries in time (the executor's recovery timeout).
//
// What each client does with its events (failover ids, stream ids, link
// ids, unacknowledged updates) stays in the client.
package subscribe

// Package shufflenet moves shuffle blocks between executors over HTTP.
//
// Each executor serves the map outputs of its shuffle.Store with a Server
// (an http.Handler, mounted under PathPrefix); a reducer fetches the blocks
// it needs with a Fetcher, given for every block the address of the
// executor holding its map output and the block's size as the map task
// reported it (shuffle.Writer.Commit's sizes, kept by the driver's
// map-output tracker).
//
// # Fetcher contract
//
// Fetch(ctx, shuffle, wants, fn) groups the wants by address into batch
// requests of at most a fifth of MaxBytesInFlight (so that about five
// executors are read at once) and MaxBlocksPerRequest blocks, and runs up to
// MaxRequestsPerAddr requests per address, to all addresses in parallel. A
// request is sent only when its blocks fit the budget: the bytes of blocks
// requested and not yet released never exceed MaxBytesInFlight
// (spark.reducer.maxSizeInFlight), except that one batch larger than the
// budget is sent alone when nothing else is in flight. Response bytes are
// read into memory as they arrive (within the budget), so a slow consumer
// never stalls a server. Blocks whose address is LocalAddr are read from the
// Local store directly (memory-mapped, outside the budget).
//
// # Host-local reads
//
// With HostLocal, the first Fetch that meets an address asks its server for
// its Announcement (GET {Prefix}local: directory, marker token) and reads
// Dir/MarkerName; only when it holds the announced token (this process sees
// that directory) are the address's blocks read from disk from then on,
// through a shuffle.OpenPeer store, outside the budget like local ones.
// Anything else (no announcement, another token, an unreadable marker, a
// probe cut by ctx: asked again next time) leaves the address on HTTP. A
// block whose file does not exist there is fetched over HTTP; a file that
// exists but cannot be opened or mapped sends that block and the address's
// later ones over HTTP for good (OnPeer is told). A damaged file (footer,
// index, CRC) or a length other than the map task reported is ErrCorrupt,
// as over the network. Block.From and Stats say where blocks were read.
//
// fn is called from Fetch's goroutine with each block, in arrival order; it
// must call Block.Release exactly once, then or later (from any goroutine).
// A consumer that holds blocks unreleased while it waits for more must keep
// what it holds well under the budget, or Fetch waits for its releases
// forever (as in Spark).
//
// A request that gets no answer (connection refused or cut, a truncated
// response, 5xx, 503 when the server is busy, silence for Timeout) is
// retried MaxRetries times, RetryWait apart, for its blocks not yet
// received (spark.shuffle.io.maxRetries and retryWait). After the last
// attempt the address is dead: its remaining blocks, in that request and
// in every batch not yet sent, fail together with ErrUnreachable (or
// ErrTimeout). A block whose CRC-32C or length does not match, or that the
// server could not read, fails with ErrCorrupt; a map output the server
// does not have (or an unknown shuffle) with ErrMissing. These are not
// retried. Failed blocks are not passed to fn; when the others have been,
// Fetch returns a *FetchFailedError naming each failed map once (first
// cause), which wraps shuffle.ErrFetchFailed and the causes. A token the
// server refuses is ErrUnauthorized (not a fetch failure: recomputing map
// outputs cannot fix it) and stops the Fetch, like an error from fn or the
// end of ctx: every request is cancelled and blocks not yet passed to fn
// are released before Fetch returns.
//
// # Server contract
//
// POST {Prefix}fetch with a request body. The server answers 401 without
// the application's token in the X-Meso-Shuffle-Token header (when it has
// one), 503 when MaxConcurrent requests are being served, 413 for a body
// over MaxRequestBytes, 400 for a body that does not decode or asks for
// more than MaxBlocks blocks, 404 for a shuffle it has no output of, and
// otherwise 200 with one frame per requested block, in request order. A
// map output that is missing or unreadable is a frame for that block, not a
// failed request. Every frame is written within WriteTimeout. Blocks go out
// with the CRC-32C recorded in the map output's index, unchecked: the
// client checks it after the transfer, so corruption on disk or on the way
// is caught at the same place.
//
// # Wire format
//
// Integers are unsigned varints (encoding/binary's Uvarint) at most
// 2^31-1 unless said otherwise. Request (Content-Type
// application/x-meso-shuffle):
//
//	"MSF1" shuffle nspans { map reduce count }*nspans
//
// asking for the blocks reduce..reduce+count-1 (count >= 1) of each map,
// in that order; nothing may follow. Response body, one frame per block,
// then an end frame:
//
//	'B' map reduce length crc32c(4 bytes, little-endian) bytes[length]
//	'M' map reduce msglen msg     -- the map output does not exist
//	'E' map reduce msglen msg     -- the map output could not be read
//	'Z' frames                    -- end: the count of frames before it
//
// with msglen <= 1024. A response that ends before its end frame was cut.
package shufflenet

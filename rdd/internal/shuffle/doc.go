// Package shuffle moves records between stages through local disk.
//
// Map side: a Writer receives encoded records already assigned to reducer
// partitions. It buffers them per reducer and, when the buffers exceed the
// memory budget, spills them to a spill file as per-reducer segments. Commit
// merges the spill segments and the last buffers into one file per map task:
// the blocks (one per reducer, in reducer order), then an index giving each
// block's offset, length and CRC-32C, then a footer. The file is written
// under a temporary name and renamed into place, so a map output exists
// exactly when its file does; a retried map task replaces it with identical
// content. Reducers read outputs through a memory mapping; each fetched block
// holds a reference to it until the reducer releases the block, and a mapping
// whose file was removed, replaced or evicted from the cache is unmapped at
// its last release. A store over another process's directory (OpenPeer)
// checks a cached mapping against the file at its path only after the
// directory's change counter moved: a page of the file "changes", mapped
// shared, that the writing store increments after each commit over an old
// output and each removal.
//
// Reduce side: a Service fetches one block (shuffle, map, reducer) as bytes.
// Store is the local-disk Service; an external shuffle service (HTTP) is
// another implementation of the same interface. A missing or corrupt block
// is reported as an error wrapping ErrFetchFailed and naming the block, which
// the scheduler answers by recomputing that map output.
//
// Reducers that must hold state per key (aggregations, sorts) use Spiller:
// in-memory records kept within a budget, spilled as sorted runs of encoded
// bytes to temporary files, and merged back in key order.
package shuffle

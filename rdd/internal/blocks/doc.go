// Package blocks is the rdd engine's block manager: it keeps cached
// partitions (Persist) within a memory budget. Partitions evicted from
// memory go to local disk (MemoryAndDisk) or are dropped (MemoryOnly) and
// recomputed from lineage by the next job that needs them; a dataset's own
// blocks are never evicted for one another, so a scan does not thrash.
//
// Blocks are untyped: the caller stores a partition's records as they are
// (any) with the function that encodes them when they move to disk, and
// decodes what Get returns from disk. Keys are the driver's dataset ids.
package blocks

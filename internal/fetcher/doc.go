// Package fetcher is the agent's Mesos fetcher: before an executor starts,
// it puts the CommandInfo's URIs into the sandbox.
//
// Contract of Fetcher.Fetch, following Apache Mesos:
//
//   - URI forms: http://, https://, file:// (file://localhost too) and
//     absolute paths. Other schemes (hdfs://, s3://, ftp://) and relative
//     paths are refused with a clear error; meso has no hadoop client and
//     no --frameworks_home.
//   - Each URI lands at output_file (relative to the sandbox, never
//     outside it) or at the URI's base name (for http, the URL path's last
//     element, without query). Downloads are streamed to a temporary file
//     that is renamed into place; nothing is held in memory.
//   - executable=true: the file gets mode 0755 and is not extracted.
//     Otherwise, extract (default true, as in the proto) unpacks archives
//     recognised by the name's ending (.tar, .tar.gz, .tgz, .tar.bz2,
//     .tbz2, .tar.xz, .txz, .zip) into the sandbox, and decompresses a
//     plain .gz file to the name without .gz. The archive itself stays.
//   - Extraction never writes outside the sandbox: absolute entry names,
//     ".." elements, symlinks whose target leaves the sandbox and entries
//     below a symlink fail the fetch (ErrUnsafeArchive), and every file
//     operation goes through an os.Root on the sandbox. An archive may
//     expand to at most Config.MaxExtractSize bytes. FIFO, socket and
//     device entries are skipped; a FIFO already in the sandbox where
//     output lands is replaced, never opened.
//   - A local URI must name a regular file: a FIFO or device is refused
//     without being opened for reading, so it cannot block the launch.
//   - cache=true: the URI goes through the agent's cache, keyed by (user,
//     URI). A hit copies from the cache without downloading; concurrent
//     fetches of one key download once and the others wait. The cache is
//     bounded by Config.CacheSize with LRU eviction that never evicts an
//     entry in use; an entry whose size is unknown or larger than the
//     space that can be freed is fetched directly instead. With extract,
//     a cached archive is extracted from the cache (no copy of the archive
//     in the sandbox). The cache is emptied when the Fetcher is created,
//     as Mesos empties it when the agent starts.
//   - An HTTP download that receives nothing for Config.StallTimeout is
//     aborted; the context bounds the whole fetch.
//   - When the agent runs as root and a user is given, the sandbox is
//     chowned to that user recursively afterwards.
//
// Every error wraps ErrFetch and names the URI and the cause, e.g.
// `fetcher: "http://x/y.tgz": GET: 404 Not Found`; the agent reports it as
// TASK_FAILED with REASON_CONTAINER_LAUNCH_FAILED.
//
// The cache's bookkeeping (lruTable) is a pure structure with no files,
// locks or clocks; the cache type around it does the I/O.
package fetcher

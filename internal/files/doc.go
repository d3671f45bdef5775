// Package files serves Mesos' files API for the agent: an http.Handler to
// mount at /files/ that lets operators and UIs browse executor sandboxes
// and read or download their files (the task logs in stdout and stderr).
//
// Endpoints (each also under its deprecated ".json" name, as in Mesos):
//
//	GET /files/browse?path=P            JSON array, sorted by path, of
//	    {"gid","mode","mtime","nlink","path","size","uid"} for the entries of
//	    directory P ("mode" as ls -l prints it, "uid"/"gid" as names,
//	    "mtime" in whole seconds, "path" = P joined with the entry name).
//	    A file yields [].
//	GET /files/read?path=P&offset=O&length=L
//	    {"data": "...", "offset": O}. offset -1 (the default) answers the
//	    file size as offset and no data (how UIs tail a log); length -1 (the
//	    default) means to the end; a read returns at most MaxRead bytes;
//	    offset at or past the end answers the size and no data.
//	GET /files/download?path=P          the file as an attachment, with
//	    Range support.
//	GET /files/debug                    JSON object of attached names to
//	    paths.
//
// A jsonp=callback parameter wraps JSON answers as Mesos does.
//
// Paths: P is an absolute path inside the configured root (the agent's
// <work_dir>/slaves tree), a path relative to the root, or a name given to
// Attach (Mesos' virtual paths, e.g. /frameworks/F/executors/E/runs/latest)
// followed by a path inside it. Elements ".." are refused (400). Symlinks
// are followed, absolute ones too, but the final file must be inside the
// root (403 otherwise); the file is then opened through os.Root, so a
// symlink swapped in between cannot lead outside either. Missing files are
// 404, malformed parameters 400.
//
// What is served: regular files and directories only, since a task owns
// its sandbox and can leave anything in it. A FIFO, socket or device is
// refused with 400 ("... is a named pipe (FIFO): only regular files and
// directories are served") after an lstat, before it is opened: opening a
// FIFO for reading blocks until a writer comes (each such request used to
// hold a thread and its descriptors for ever), and opening a device can act
// on it. The open itself is O_NONBLOCK and the opened file is fstat'ed and
// checked again, so one swapped in meanwhile is refused too. Browsing a
// directory lists such entries (from lstat/stat, never opened).
//
// Hard links: a regular file with more than one link is refused with 403.
// A root task can hard-link a file from outside the sandbox (and any user
// can where fs.protected_hardlinks is off), and nothing cheap tells where a
// file's other names are, so the rule is sound rather than exact: a link
// between two names inside a sandbox is refused as well. The agent never
// makes such links itself (the fetcher's cache copies), except for the
// hard-link entries of a tar archive the fetcher extracts; those files
// are listed by browse but not read or downloaded. (Mesos' files API checks
// neither the type of a file, beyond directories, nor its links.)
//
// Bounds: at most Config.MaxRequests (default 64) requests are served at
// once; one more is answered 503 with Retry-After: 1 at once, never
// queued. browse, read and debug get Config.Timeout (default 30 s) in all:
// a context deadline checked while listing and reading, and the write
// deadline of the answer, so a client that does not take it is cut off.
// A download gets Timeout per step: each chunk read from the file gives the
// next write Timeout to complete, so a client that stops reading is dropped
// after Timeout while a slow but steady one can take a large file; a
// client that hangs up ends it at the next chunk. Every descriptor is
// closed when the request ends.
//
// Handler is safe for concurrent use; attachments are guarded by a mutex.
package files

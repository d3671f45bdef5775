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
// Handler is safe for concurrent use; attachments are guarded by a mutex.
package files

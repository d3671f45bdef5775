// Package webui is the master's web UI: static files embedded in the
// binary (an HTML shell, CSS and plain JavaScript modules, no build step)
// served at "/", and the agent's small page that points to its master.
//
// The page opens one operator API SUBSCRIBE stream (POST /api/v1, JSON in
// RecordIO framing, read with fetch and a ReadableStream) and applies each
// event to its books with a pure function (static/js/state.js: state +
// event -> state); nothing polls the full state. Sandboxes are browsed
// through the agent's operator API (LIST_FILES, READ_FILE), which the agent
// answers for its masters' origins (see CORS). docs/webui.md describes the
// pages.
package webui

// Package memnet provides an in-memory net.Listener whose connections are
// net.Pipe pairs. Tests that run inside a testing/synctest bubble, where
// real sockets must not be used, serve HTTP on it and dial it through an
// http.Transport's DialContext.
package memnet

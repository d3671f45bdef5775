// Package tlsconf builds the TLS configurations of meso's daemons and
// clients from Mesos' settings: the --ssl_cert_file, --ssl_key_file,
// --ssl_ca_file and --ssl_require_cert flags, or the environment
// variables libprocess reads (LIBPROCESS_SSL_ENABLED, _CERT_FILE,
// _KEY_FILE, _CA_FILE, _VERIFY_CERT, _REQUIRE_CERT). Flags win over the
// environment.
//
// Semantics, as in Mesos:
//   - Enabled turns TLS on for every listener and every outgoing
//     connection; a listener then refuses plain HTTP (net/http answers
//     400 to a plain request on a TLS port). A certificate file given as
//     a flag enables TLS by itself.
//   - VerifyCert: a server verifies the certificate a client presents
//     (against the CA file, else the system roots); a client without one
//     is still served.
//   - RequireCert: a server refuses a client without a valid certificate
//     (it implies VerifyCert).
//
// Unlike libprocess, whose clients by default accept any server
// certificate, meso's clients always verify the server's certificate,
// against the CA file when one is given and the system roots otherwise.
// A client presents the certificate and key when they are set (for a
// server that requires client certificates).
//
// Certificates are read once (no reload); Environ hands the settings on
// to executors, as a Mesos agent does with its own LIBPROCESS_SSL_*.
package tlsconf

// Package mesosflag provides command-line flag values that read and print
// the syntax Apache Mesos daemons use, so that flags, environment variables
// (MESOS_*) and the values we hand to executors look the way Mesos users
// expect.
//
// Durations follow stout's Duration: a non-negative decimal number followed
// by one of the units ns, us, ms, secs, mins, hrs, days or weeks ("5secs",
// "1.5mins", "100ms"). Go's own syntax ("15s", "2h45m") is accepted as
// well, and a leading '-' makes a duration negative (Mesos has no negative
// flag values, but FormatDuration prints them, so they round-trip).
// ParseDuration is exact: "0.1secs" is 100000000ns, fractions below one
// nanosecond are truncated, and values beyond time.Duration's range are an
// error, never a wrap-around.
//
// FormatDuration prints the form Mesos prints: the largest unit the value
// reaches, unless the value is not a whole number of that unit but is a
// whole number of the next smaller one ("90secs", not "1.5mins"); other
// values are printed with up to 15 significant digits ("1.00013888888889hrs").
//
// Byte sizes follow stout's Bytes: a whole number and one of B, KB, MB, GB,
// TB (binary multiples, any case): "2GB", "512MB" (ParseBytes,
// FormatBytes).
//
// Duration, Bytes, Resources, Attributes and Quantities implement pflag.Value; the
// *Var helpers bind them to plain Go variables (time.Duration,
// resources.Resources, ...) so daemon Config structs stay free of flag types.
//
// Every parse error wraps ErrInvalid.
package mesosflag

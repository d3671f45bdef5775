// Package shuffleservice is the external shuffle service: a daemon on each
// agent (`meso agent --shuffle_service`) that keeps serving the map outputs
// of an application's executors after they are gone, so that dynamic
// allocation can release idle executors without losing shuffle data
// (Spark's MesosExternalShuffleService).
//
// Calls (JSON bodies; every call carries the application's shuffle token
// in shufflenet.TokenHeader; the first call naming an application fixes
// its token, later calls with another token get 401):
//
//	POST   {Prefix}apps/{app}                 register the application: {"heartbeat_timeout_ms": n}
//	POST   {Prefix}apps/{app}/heartbeat       the driver is alive
//	DELETE {Prefix}apps/{app}                 the application ended: its files are deleted now
//	POST   {Prefix}apps/{app}/executors/{exec} an executor's local directory: {"dir": "/abs/path"}
//	POST   {Prefix}apps/{app}/executors/{exec}/shuffle/v1/fetch
//	                                          shufflenet's fetch call, served from dir/shuffle
//
// So a reducer reaches a registered executor's outputs at the address
// host:port + {Prefix}apps/{app}/executors/{exec} with shufflenet's
// Fetcher unchanged (Addr returns it): the same protocol, bounds and
// checksums as an executor's own server.
//
// An application whose driver has not sent a heartbeat for its heartbeat
// timeout (DefaultHeartbeatTimeout when it never registered) is removed by
// the cleaner, which runs every Config.CleanerInterval
// (spark.shuffle.cleaner.interval, 30 s): the directories of its executors
// are deleted. A registered directory must be absolute, a real directory
// (not a symlink) with a "shuffle" subdirectory, and its base name must
// start with "rdd-" (an rdd session's local directory): the service
// deletes nothing else.
//
// Bounds: bodies through httpbound (MaxBody bytes), fetches through
// shufflenet.Server's own bounds (concurrency, blocks, write timeout), at
// most MaxApps applications and MaxExecutors executors per application.
package shuffleservice

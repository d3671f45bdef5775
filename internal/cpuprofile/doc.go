// Package cpuprofile lets a meso process write a CPU profile of its whole
// life when the environment asks for one: with MESO_CPUPROFILE_DIR set to a
// directory, Start begins a runtime/pprof CPU profile into
// <dir>/<role>-<pid>.pprof and the function it returns ends it. The e2e
// benchmarks use it to profile real master, agent and executor processes
// (docs/BENCHMARKS.md); without the variable it does nothing.
package cpuprofile

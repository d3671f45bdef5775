//go:build race

package sim

// raceEnabled: the race detector slows the simulated cluster about
// tenfold, so the end-to-end run is smaller under it.
const raceEnabled = true

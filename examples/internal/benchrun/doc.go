// Package benchrun runs an example's modes (the engine, a hand-written
// baseline) each in a child process of the same binary, so that each one's
// wall time, CPU time and peak memory (max RSS) are measured on their own,
// and prints them side by side with the ratio to the baseline.
package benchrun

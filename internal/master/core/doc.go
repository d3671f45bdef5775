// Package core is the meso master's state machine: frameworks, agents,
// offers and tasks, driving the pure DRF allocator.
package core

// Package scripttest runs the project's scenario scripts: the datadriven
// files in a package's testdata where each line of a block is one command
// (its first line included) and the block's expected output is what the
// commands printed. It holds the one copy of the line splitting every
// scenario harness (allocator, master core, job core, dispatcher, dynamic
// allocation, ...) needs.
package scripttest

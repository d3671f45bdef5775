// Package testpb holds proto2 test messages for package codec.
package testpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative test.proto

// Package testpb holds proto2 test messages for package codec.
package testpb

//go:generate protoc --plugin=protoc-gen-go=../../../../bin/protoc-gen-go --go_out=. --go_opt=paths=source_relative test.proto

package mesosflag

import (
	"testing"
	"time"
)

func BenchmarkParseDurationMesos(b *testing.B) {
	for b.Loop() {
		if _, err := ParseDuration("1.5secs"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseDurationGo(b *testing.B) {
	for b.Loop() {
		if _, err := ParseDuration("1.5s"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormatDuration(b *testing.B) {
	for b.Loop() {
		_ = FormatDuration(90 * time.Second)
	}
}

package posix

import (
	"testing"
)

const sampleStat = "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 30 7 3 20 0 3 0 12345 10000000 250 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"

func TestParseStat(t *testing.T) {
	st, err := parseStat([]byte(sampleStat))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{pgrp: 4242, utime: 157, stime: 33, numThreads: 3, rssPages: 250}
	if st != want {
		t.Errorf("parseStat = %+v, want %+v", st, want)
	}
	if ticks(150) != 1500*1e6 {
		t.Errorf("ticks(150) = %v", ticks(150))
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S 1 abc 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 1 1 1"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte(sampleStat))
	f.Add([]byte("1 (x) S 0 1 1 0 -1 0 0 0 0 0 -5 1 -1 0 20 0 1 0 1 1 1"))
	f.Add([]byte(") ) ) )"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseStat(b) // must not panic
	})
}

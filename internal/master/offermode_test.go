package master

import (
	"errors"
	"testing"
)

// TestOfferModeConfig checks --offer_mode and --offer_fanout: the modes'
// names, a fanout of at least 2 when optimistic, and the allocator's
// fanout each gives.
func TestOfferModeConfig(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		fanout  int
		ok      bool
		applied int
	}{
		{"", 0, true, 0},
		{OfferPessimistic, 5, true, 0},
		{OfferOptimistic, 0, true, DefaultOfferFanout},
		{OfferOptimistic, 4, true, 4},
		{OfferOptimistic, 1, false, 0},
		{OfferOptimistic, -2, false, 0},
		{"eager", 0, false, 0},
	} {
		cfg := Config{OfferMode: tc.mode, OfferFanout: tc.fanout}
		_, err := cfg.validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrConfig)) {
			t.Errorf("mode %q fanout %d: %v", tc.mode, tc.fanout, err)
		}
		if tc.ok && cfg.offerFanout() != tc.applied {
			t.Errorf("mode %q fanout %d: allocator fanout %d, want %d", tc.mode, tc.fanout, cfg.offerFanout(), tc.applied)
		}
	}
}

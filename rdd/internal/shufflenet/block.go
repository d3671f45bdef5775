package shufflenet

import (
	"net/http"
	"strconv"

	"github.com/mesoproject/meso/rdd/internal/shuffle"
)

// BlockHandler serves single blocks of store: GET /block/{shuffle}/{map}/{reduce}
// answers the block's bytes, 404 when it cannot be read (the reducers'
// fallback path for blocks outside their batched fetch). The caller checks
// the token.
func BlockHandler(store *shuffle.Store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /block/{s}/{m}/{r}", func(w http.ResponseWriter, r *http.Request) {
		var id shuffle.BlockID
		var err error
		for _, f := range []struct {
			name string
			to   *int
		}{{"s", &id.Shuffle}, {"m", &id.Map}, {"r", &id.Reduce}} {
			if *f.to, err = strconv.Atoi(r.PathValue(f.name)); err != nil {
				http.Error(w, "bad block id", http.StatusBadRequest)
				return
			}
		}
		b, release, err := store.Fetch(id)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		defer release()
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	})
	return mux
}

package scheduler

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/mesoproject/meso/internal/subscribe"
)

// apiPath is the scheduler endpoint of a Mesos master.
const apiPath = "/api/v1/scheduler"

// parseMasters turns Config.Master into the scheduler endpoint URLs to try.
// Each comma-separated element is "host:port" or an http(s) URL; a URL that
// does not already name the endpoint gets apiPath appended to its path.
func parseMasters(s string) ([]*url.URL, error) {
	us, err := subscribe.ParseEndpoints(s, apiPath)
	if err != nil {
		return nil, fmt.Errorf("%w: master %w", ErrConfig, err)
	}
	return us, nil
}

// httpError is the scheduler's form of the stream client's refusal.
func httpError(err error) error {
	if se, ok := errors.AsType[*subscribe.StatusError](err); ok {
		return &HTTPError{Status: se.Status, Body: se.Body}
	}
	return err
}

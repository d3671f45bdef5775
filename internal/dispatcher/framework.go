package dispatcher

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
)

// findFramework looks for the framework a driver's attempt registered as
// (its label SubmissionLabel names the driver) in the master's operator
// API, and records it for the driver's relaunches, which fail over to it
// (spark.mesos.driver.frameworkId). A driver whose framework is already
// gone (failover timeout 0, the default, or not a Mesos framework at all)
// is relaunched as a new framework.
func (s *Service) findFramework(ctx context.Context, leader, driverID string) {
	if leader == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	id, err := s.frameworkOf(ctx, leader, driverID)
	if err != nil {
		s.log.Warn("looking up the driver's framework", "driver", driverID, "err", err)
		return
	}
	if id == "" {
		return
	}
	s.mu.Lock()
	s.core.SetFrameworkID(driverID, id)
	err = s.saveLocked()
	s.mu.Unlock()
	if err != nil {
		s.log.Error("persisting the driver's framework", "driver", driverID, "err", err)
	}
	s.log.Info("driver framework", "driver", driverID, "framework_id", id)
}

func (s *Service) frameworkOf(ctx context.Context, leader, driverID string) (string, error) {
	fws, err := s.frameworks(ctx, leader)
	if err != nil {
		return "", err
	}
	for _, f := range fws {
		if f.driver == driverID {
			return f.id, nil
		}
	}
	return "", nil
}

// driverFramework is a driver's framework as the master knows it.
type driverFramework struct {
	driver, id, webUI string
	active            bool
}

// frameworks lists the frameworks of the master at leader that carry a
// SubmissionLabel (the drivers'), from its operator API.
func (s *Service) frameworks(ctx context.Context, leader string) ([]driverFramework, error) {
	body, err := proto.Marshal(&masterpb.Call{Type: masterpb.Call_GET_FRAMEWORKS.Enum()})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, leader+"/api/v1", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", codec.MediaTypeProtobuf)
	req.Header.Set("Accept", codec.MediaTypeProtobuf)
	if s.cfg.Principal != "" && s.cfg.Secret != "" {
		req.SetBasicAuth(s.cfg.Principal, s.cfg.Secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET_FRAMEWORKS: %s: %s", resp.Status, bytes.TrimSpace(data[:min(len(data), 200)]))
	}
	var r masterpb.Response
	if err := proto.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	var out []driverFramework
	for _, f := range r.GetGetFrameworks().GetFrameworks() {
		fi := f.GetFrameworkInfo()
		for _, l := range fi.GetLabels().GetLabels() {
			if l.GetKey() == SubmissionLabel {
				out = append(out, driverFramework{driver: l.GetValue(), id: fi.GetId().GetValue(),
					webUI: fi.GetWebuiUrl(), active: f.GetActive()})
			}
		}
	}
	return out, nil
}

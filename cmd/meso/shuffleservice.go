package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/mesoproject/meso/internal/httpbound"
	"github.com/mesoproject/meso/rdd/shuffleservice"
)

// startShuffleService serves the external shuffle service on ip:port (0: a
// free port) until ctx ends, and returns the address executors and
// reducers reach it at: advertise (the agent's address) with the port.
func startShuffleService(ctx context.Context, ip string, port int, advertise string, cleaner time.Duration,
	bounds httpbound.Config, log *slog.Logger) (string, <-chan error, error) {
	svc, err := shuffleservice.New(shuffleservice.Config{CleanerInterval: cleaner, Bounds: bounds, Logger: log})
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return "", nil, fmt.Errorf("shuffle service: %w", err)
	}
	srv := svc.Server()
	stop := make(chan struct{})
	go svc.Run(stop)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		close(stop)
		srv.Close()
	}()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	log.Info("external shuffle service listening", "addr", ln.Addr().String(), "cleaner_interval", cleaner)
	return net.JoinHostPort(advertise, p), done, nil
}

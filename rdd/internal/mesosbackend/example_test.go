package mesosbackend_test

import (
	"context"
	"fmt"
	"log"

	"github.com/mesoproject/meso/rdd/internal/mesosbackend"
)

// How a driver obtains executors: parse the Spark settings, start the
// backend with the executor command, follow executor events, and stop.
func Example() {
	s, err := mesosbackend.ParseSettings(map[string]string{
		"spark.cores.max": "4", "spark.executor.cores": "2", "spark.executor.memory": "512m",
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	b, err := mesosbackend.Start(ctx, mesosbackend.Config{
		Master:    []string{"127.0.0.1:5050"},
		Name:      "wordcount",
		Settings:  s,
		Command:   mesosbackend.Command{Value: "./wordcount", Args: []string{"wordcount", "--executor"}},
		DriverURL: "http://127.0.0.1:7077",
	})
	if err != nil {
		log.Fatal(err) // e.g. ErrConnect: no master answered within spark.mesos.connectTimeout
	}
	go func() {
		for ev := range b.Events() {
			switch ev.Type {
			case mesosbackend.EventLaunched:
				fmt.Println("executor", ev.Executor.ID, "on", ev.Executor.Hostname)
			case mesosbackend.EventExited:
				fmt.Println("executor", ev.Executor.ID, "ended:", ev.State, ev.Reason, ev.Message)
			case mesosbackend.EventShortage:
				fmt.Println(ev.Shortage)
			}
		}
	}()
	// ... run jobs; executors register with the driver at DriverURL ...
	if err := b.Stop(ctx); err != nil {
		log.Print(err)
	}
}

// Command rddmismatch is a test program whose executors register one more
// Func than its driver when RDD_EXTRA_FUNC is set in their environment (as
// another build of the program would): the driver must refuse them, naming
// the first differing Func.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/mesoproject/meso/rdd"
)

var extra = func() func(int) *rdd.RDD[int] {
	if os.Getenv("RDD_EXTRA_FUNC") == "" {
		return nil
	}
	return rdd.Func(func(n int) *rdd.RDD[int] { return rdd.Range(0, n, 1) })
}()

var count = rdd.Func(func(n int) *rdd.RDD[int] { return rdd.Range(0, n, 4) })

func main() {
	master := flag.String("master", "local[2]", "where tasks run")
	var conf confFlag
	flag.Var(&conf, "conf", "key=value")
	flag.Parse()
	cfg := rdd.Config{Master: *master, AppName: "rddmismatch"}
	for _, kv := range conf {
		if err := cfg.Set(kv[0], kv[1]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	s, err := rdd.Start(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer s.Close()
	n, err := rdd.Count(context.Background(), s, count(1000))
	if err != nil {
		s.Close()
		fmt.Fprintln(os.Stderr, "rddmismatch:", err)
		os.Exit(1)
	}
	fmt.Println("count", n)
}

type confFlag [][2]string

func (c *confFlag) String() string { return fmt.Sprint(*c) }
func (c *confFlag) Set(s string) error {
	for i := range len(s) {
		if s[i] == '=' {
			*c = append(*c, [2]string{s[:i], s[i+1:]})
			return nil
		}
	}
	return fmt.Errorf("want key=value")
}

// Command wordcount counts the words of a text corpus with the rdd engine
// and with a hand-written Go program, each in its own process, and prints
// their times and peak memory. Without -input it generates a corpus of
// -size bytes (once, kept in the system temporary directory).
//
//	go run ./examples/wordcount                 # ~500 MB, engine vs baseline
//	go run ./examples/wordcount -size 50000000  # a quicker run
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/mesoproject/meso/examples/internal/benchrun"
	"github.com/mesoproject/meso/examples/internal/sparkconf"
	"github.com/mesoproject/meso/rdd"
)

// WordCount is the job: lines -> words -> (word, 1) -> sum per word.
var WordCount = rdd.Func(func(input string, parts int) *rdd.RDD[rdd.Pair[string, int]] {
	words := rdd.FlatMap(rdd.TextFile(input, parts), strings.Fields)
	ones := rdd.Map(words, func(w string) rdd.Pair[string, int] { return rdd.KV(w, 1) })
	return rdd.ReduceByKey(ones, func(a, b int) int { return a + b }, 0)
})

func main() {
	input := flag.String("input", "", "file, directory or glob to count (default: a generated corpus)")
	size := flag.Int64("size", 500_000_000, "size in bytes of the generated corpus")
	mode := flag.String("mode", "", "engine or baseline (default: both, each in a child process)")
	master := flag.String("master", "local[*]", "where tasks run")
	memory := flag.String("shuffle-memory", "64m", "spark.shuffle.memory per task")
	flag.Var(&conf, "conf", "a Spark setting key=value (repeatable), e.g. spark.cores.max=4")
	flag.Parse()
	if err := run(*input, *size, *mode, *master, *memory); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
}

func run(input string, size int64, mode, master, memory string) error {
	if input == "" {
		var err error
		if input, err = corpus(size); err != nil {
			return err
		}
	}
	switch mode {
	case "":
		return benchrun.Compare([]string{"-input", input, "-master", master, "-shuffle-memory", memory}, "engine", "baseline")
	case "engine":
		return engine(input, master, memory)
	case "baseline":
		return baseline(input)
	}
	return fmt.Errorf("unknown mode %q", mode)
}

var conf sparkconf.Flag

func engine(input, master, memory string) error {
	cfg := rdd.Config{Master: master, AppName: "wordcount"}
	if err := conf.Apply(&cfg); err != nil {
		return err
	}
	if err := cfg.Set("spark.shuffle.memory", memory); err != nil {
		return err
	}
	s, err := rdd.Start(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	counts, err := rdd.Collect(context.Background(), s, WordCount(input, 0))
	if err != nil {
		return err
	}
	var total int
	var sum uint64
	for _, c := range counts {
		total += c.Value
		h := fnv.New64a()
		fmt.Fprint(h, c.Key, " ", c.Value)
		sum += h.Sum64()
	}
	fmt.Printf("checksum %016x\n", sum)
	fmt.Printf("%d distinct words, %d words; %s\n", len(counts), total, strings.ReplaceAll(s.Stats().Summary(), "\n", "; "))
	return nil
}

func baseline(input string) error {
	files, err := filepath.Glob(filepath.Join(input, "*"))
	if err != nil {
		return err
	}
	if st, err := os.Stat(input); err == nil && !st.IsDir() {
		files = []string{input}
	}
	counts := map[string]int{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			for _, w := range strings.Fields(sc.Text()) {
				counts[w]++
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return err
		}
	}
	var total int
	for _, c := range counts {
		total += c
	}
	fmt.Printf("%d distinct words, %d words\n", len(counts), total)
	return nil
}

// corpus returns a directory of generated text of about size bytes, making
// it the first time: 8 files of lines of 5-15 words drawn from a Zipf
// vocabulary of 200,000 words.
func corpus(size int64) (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("meso-wordcount-%d", size))
	if _, err := os.Stat(filepath.Join(dir, "_SUCCESS")); err == nil {
		return dir, nil
	}
	fmt.Fprintf(os.Stderr, "generating %d bytes of text in %s\n", size, dir)
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.1, 2, 199_999)
	vocab := make([]string, 200_000)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("%s%d", []string{"data", "spark", "mesos", "go", "task", "node", "rdd", "job"}[i%8], i)
	}
	const files = 8
	for f := range files {
		out, err := os.Create(filepath.Join(dir, fmt.Sprintf("part-%05d.txt", f)))
		if err != nil {
			return "", err
		}
		w := bufio.NewWriterSize(out, 1<<20)
		var written int64
		for written < size/files {
			n := 5 + rng.IntN(11)
			for i := range n {
				if i > 0 {
					w.WriteByte(' ')
					written++
				}
				word := vocab[zipf.Uint64()]
				w.WriteString(word)
				written += int64(len(word))
			}
			w.WriteByte('\n')
			written++
		}
		if err := w.Flush(); err != nil {
			return "", err
		}
		out.Close()
	}
	return dir, os.WriteFile(filepath.Join(dir, "_SUCCESS"), nil, 0o644)
}

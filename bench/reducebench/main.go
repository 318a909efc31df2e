// Command reducebench measures map/reduce on the workers (pool.Reduce,
// pool.ReduceByKey, pool.ReduceByKeySeq) through a gearmand and real
// `glimpse-cluster worker` processes:
//
//   - the sum of x*x over -items int64 (examples.sumsquares): items/s end
//     to end, from the slice to the sum, and the bytes the client read;
//
//   - a word count of a corpus (the repository's Go sources, -repeat
//     times), its items whole files and then lines: the keyed reduce
//     (examples.wordcounts, by pool.ReduceByKey of the slice and by
//     pool.ReduceByKeySeq of it as a sequence) against pool.ImapUnordered
//     of examples.wordcount (each item's table) plus a client loop adding
//     the tables up, taking turns in the same run.
//
// Each measurement also gives the CPU time of the client, the workers and
// gearmand, which a busy machine disturbs less than wall time.
//
//	reducebench [-items 100000000] [-chunksize 0] [-workers 2] [-slots 1] [-rounds 3] [-corpus .] [-repeat 5] [-json FILE]
//	            [-only sum|words|files|lines] [-cpuprofile FILE] [-workerprofile PREFIX]
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"maps"
	"math/big"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/bench/internal/benchenv"
	"github.com/glimpse-go/glimpse/bench/internal/benchjson"
	"github.com/glimpse-go/glimpse/examples/funcs"
	"github.com/glimpse-go/glimpse/pool"
)

type result = benchjson.Reduce

// runSum and runWords select the measurements (-only), and wordItems
// the word counts' kinds of item.
var (
	runSum, runWords = true, true
	wordItems        = []string{"files", "lines"}
)

// workerProfile is -workerprofile's prefix ("": none).
var workerProfile string

func main() {
	log.SetFlags(0)
	log.SetPrefix("reducebench: ")
	items := flag.Int("items", 100_000_000, "int64 items of the sum of squares")
	workers := flag.Int("workers", 2, "worker processes")
	slots := flag.Int("slots", 1, "slots of each worker process")
	rounds := flag.Int("rounds", 3, "rounds of each measurement (the median is reported)")
	corpus := flag.String("corpus", ".", "directory whose .go files are the word count's corpus")
	repeat := flag.Int("repeat", 5, "times the corpus is counted in one word count")
	bin := flag.String("bin", "bin/glimpse-cluster", "the glimpse-cluster binary (make builds it)")
	jsonPath := flag.String("json", "", "also write the figures as JSON to this `FILE`")
	chunksize := flag.Int("chunksize", 0, "pool.Chunksize of the sum of squares (0: automatic)")
	cpuProfile := flag.String("cpuprofile", "", "write this process's (the client's) CPU profile to this `FILE`")
	flag.StringVar(&workerProfile, "workerprofile", "", "write each worker process's CPU profile to `PREFIX`N.pprof (N from 0; glimpse-cluster worker -cpuprofile)")
	only := flag.String("only", "", `run only "sum", "words", or the word count of "files" or "lines"`)
	flag.Parse()
	if *items < 1 || *workers < 1 || *slots < 1 || *rounds < 1 || *repeat < 1 {
		log.Fatal("want -items, -workers, -slots, -rounds, -repeat >= 1")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res := result{Workers: *workers, Slots: *slots, Rounds: *rounds, Items: *items, Chunksize: *chunksize}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	runSum, runWords = *only == "" || *only == "sum", *only != "sum"
	if *only == "files" || *only == "lines" {
		wordItems = []string{*only}
	} else if *only != "" && *only != "sum" && *only != "words" {
		log.Fatalf("-only %q: want sum, words, files or lines", *only)
	}
	texts, err := readCorpus(*corpus, *repeat, &res)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, *bin, texts, &res); err != nil {
		pprof.StopCPUProfile()
		log.Fatal(err)
	}
	fmt.Printf("%d worker processes x %d slots, median of %d rounds; CPU ms: client / workers / gearmand\n", res.Workers, res.Slots, res.Rounds)
	if runSum {
		fmt.Printf("sum of x*x over %d int64: %.0f items/s, %d chunks, client read %d bytes, CPU %s; rounds %.0f\n",
			res.Items, res.SumItemsPerS, res.SumChunks, res.SumClientBytes, cpuText(res.SumCPUms), res.SumRoundsPerS)
	}
	fmt.Printf("word count of %.1f MB:\n", float64(res.CorpusBytes)/1e6)
	for _, r := range res.WordCounts {
		fmt.Printf("  %d %s: %s %.0f items/s (client read %d bytes, CPU %s; rounds %.0f)\n",
			r.Count, r.Items, r.Keyed, r.KeyedItemsPerS, r.KeyedClientBytes, cpuText(r.KeyedCPUms), r.KeyedRoundsPerS)
		fmt.Printf("  %d %s: ImapUnordered + loop %.0f items/s (client read %d bytes, CPU %s; rounds %.0f)\n",
			r.Count, r.Items, r.ImapItemsPerS, r.ImapClientBytes, cpuText(r.ImapCPUms), r.ImapRoundsPerS)
		fmt.Printf("  %s: %s %.2fx as fast\n", r.Items, r.Keyed, r.Speedup)
	}
	if *jsonPath != "" {
		if err := benchjson.Write(*jsonPath, res); err != nil {
			log.Fatal(err)
		}
	}
}

// readCorpus reads every .go file under dir, repeat times over.
func readCorpus(dir string, repeat int, res *result) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != dir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .go files under %s", dir)
	}
	var texts []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		texts = append(texts, string(data))
		res.CorpusBytes += int64(len(data))
	}
	one := texts
	for range repeat - 1 {
		texts = append(texts, one...)
	}
	res.CorpusBytes *= int64(repeat)
	return texts, nil
}

// run starts gearmand and the workers and measures.
func run(ctx context.Context, bin string, texts []string, res *result) error {
	spec := benchenv.ClusterSpec{Name: "reducebench", Bin: bin, Workers: res.Workers, Slots: res.Slots}
	if workerProfile != "" {
		spec.WorkerArgs = func(i int) []string { return []string{"-cpuprofile", fmt.Sprintf("%s%d.pprof", workerProfile, i)} }
	}
	c, err := benchenv.StartCluster(ctx, spec)
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := c.Pool(ctx, "", funcs.SumSquares.Name(), funcs.WordCounts.Name(), funcs.WordCount.Name())
	if err != nil {
		return err
	}
	defer p.Close()
	m := &meter{pids: []int{c.Gearmand.Pid()}}
	for i := range c.Workers.Len() {
		m.pids = append(m.pids, c.Workers.Process(i).Pid)
	}
	if runSum {
		if err := sumSquares(ctx, p, m, res); err != nil {
			return err
		}
	}
	for _, items := range wordItems {
		if !runWords {
			break
		}
		in := texts
		if items == "lines" {
			in = lines(texts)
		}
		for _, keyed := range []string{"ReduceByKey", "ReduceByKeySeq"} {
			row := benchjson.WordCountRow{Items: items, Keyed: keyed, Count: len(in)}
			if err := wordCount(ctx, p, m, in, &row, res.Rounds); err != nil {
				return err
			}
			res.WordCounts = append(res.WordCounts, row)
		}
	}
	return nil
}

// lines cuts texts into their non-empty lines.
func lines(texts []string) []string {
	var out []string
	for _, t := range texts {
		for l := range strings.Lines(t) {
			if strings.TrimSpace(l) != "" {
				out = append(out, l)
			}
		}
	}
	return out
}

// meter measures one run of a workload: its wall time, the bytes this
// process read and the CPU time of every party.
type meter struct {
	pids []int // gearmand, then the workers
}

type measure struct {
	took  time.Duration
	bytes int64
	cpu   benchjson.CPUms
}

func (m *meter) run(fn func() error) (measure, error) {
	cpu0, read0, client0 := benchenv.ProcCPU(m.pids), socketBytes(), clientCPU()
	start := time.Now()
	err := fn()
	took := time.Since(start)
	cpu, read, client := benchenv.ProcCPU(m.pids), socketBytes(), clientCPU()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	c := benchjson.CPUms{Client: ms(client - client0), Gearmand: ms(cpu[0] - cpu0[0])}
	for i := 1; i < len(cpu); i++ {
		c.Workers += ms(cpu[i] - cpu0[i])
	}
	return measure{took: took, bytes: read - read0, cpu: c}, err
}

// sumSquares measures the sum of x*x over 0..Items-1.
func sumSquares(ctx context.Context, p *pool.Pool, m *meter, res *result) error {
	items := make([]int64, res.Items)
	for i := range items {
		items[i] = int64(i)
	}
	want := closedForm(int64(res.Items))
	var cpus []benchjson.CPUms
	for range res.Rounds {
		chunks := 0
		var sum int64
		got, err := m.run(func() (err error) {
			sum, err = pool.Reduce(ctx, p, funcs.SumSquares, items,
				pool.Chunksize(res.Chunksize), pool.Progress(func(int, int) { chunks++ }))
			return err
		})
		if err != nil {
			return err
		}
		if sum != want {
			return fmt.Errorf("sum of squares %d, want %d", sum, want)
		}
		res.SumRoundsPerS = append(res.SumRoundsPerS, float64(res.Items)/got.took.Seconds())
		res.SumChunks, res.SumClientBytes = chunks, got.bytes
		cpus = append(cpus, got.cpu)
	}
	res.SumItemsPerS = median(res.SumRoundsPerS)
	res.SumCPUms = medianCPU(cpus)
	return nil
}

// closedForm is 0²+...+(n-1)² wrapped to int64, as the sum wraps.
func closedForm(n int64) int64 {
	s := new(big.Int).Mul(big.NewInt(n-1), big.NewInt(n))
	s.Mul(s, big.NewInt(2*n-1))
	s.Quo(s, big.NewInt(6))
	return int64(s.And(s, new(big.Int).SetUint64(^uint64(0))).Uint64())
}

// wordCount measures the two word counts of items, taking turns, and
// checks that they agree.
func wordCount(ctx context.Context, p *pool.Pool, m *meter, items []string, row *benchjson.WordCountRow, rounds int) error {
	n := float64(len(items))
	var keyedCPU, imapCPU []benchjson.CPUms
	for range rounds {
		var keyed, looped map[string]int
		k, err := m.run(func() (err error) {
			if row.Keyed == "ReduceByKeySeq" {
				keyed, err = pool.ReduceByKeySeq(ctx, p, funcs.WordCounts, slices.Values(items))
			} else {
				keyed, err = pool.ReduceByKey(ctx, p, funcs.WordCounts, items)
			}
			return err
		})
		if err != nil {
			return err
		}
		l, err := m.run(func() (err error) {
			looped, err = imapWordCount(ctx, p, items)
			return err
		})
		if err != nil {
			return err
		}
		if !maps.Equal(keyed, looped) {
			return fmt.Errorf("the word counts of %s differ: %d words keyed, %d through ImapUnordered", row.Items, len(keyed), len(looped))
		}
		row.KeyedRoundsPerS = append(row.KeyedRoundsPerS, n/k.took.Seconds())
		row.ImapRoundsPerS = append(row.ImapRoundsPerS, n/l.took.Seconds())
		row.KeyedClientBytes, row.ImapClientBytes = k.bytes, l.bytes
		keyedCPU, imapCPU = append(keyedCPU, k.cpu), append(imapCPU, l.cpu)
	}
	row.KeyedItemsPerS, row.ImapItemsPerS = median(row.KeyedRoundsPerS), median(row.ImapRoundsPerS)
	row.Speedup = row.KeyedItemsPerS / row.ImapItemsPerS
	row.KeyedCPUms, row.ImapCPUms = medianCPU(keyedCPU), medianCPU(imapCPU)
	return nil
}

// imapWordCount is the word count as examples/wordcount did it before
// the keyed reduce: a table per item, added up here.
func imapWordCount(ctx context.Context, p *pool.Pool, texts []string) (map[string]int, error) {
	total := map[string]int{}
	for counts, err := range pool.ImapUnordered(ctx, p, funcs.WordCount, slices.Values(texts)) {
		if err != nil {
			return nil, err
		}
		for w, n := range counts.Value {
			total[w] += n
		}
	}
	return total, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// medianCPU is the CPU of the round whose total is the median.
func medianCPU(cs []benchjson.CPUms) benchjson.CPUms {
	s := slices.Clone(cs)
	slices.SortFunc(s, func(a, b benchjson.CPUms) int { return int(a.Total() - b.Total()) })
	return s[len(s)/2]
}

func cpuText(c benchjson.CPUms) string {
	return fmt.Sprintf("%.0f / %.0f / %.0f", c.Client, c.Workers, c.Gearmand)
}

// clientCPU is this process's user and system CPU time.
func clientCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// socketBytes is what this process has read with read(2) and the like
// (/proc/self/io rchar): during a measurement, its sockets.
func socketBytes() int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "rchar:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			return n
		}
	}
	return 0
}

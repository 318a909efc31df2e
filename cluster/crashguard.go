package cluster

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/gearman"
	"github.com/glimpse-go/glimpse/internal/wire"
	"github.com/glimpse-go/glimpse/pool"
)

// crashGuard is the workers' own crash-loop guard. gearmand hands a job
// whose worker died to the next worker, forever: for a foreground chunk
// the client counts the deaths (pool.ErrCrashLoop), but a background job
// has no client. So each worker process writes the jobs it runs to a
// file of its own in the state directory, locked (flock) while it lives;
// a worker that finds another's file unlocked knows that process died,
// and counts one death for each job in it in a file they share. A job
// with crash_loop_limit deaths is failed without running it.
//
// The files are per host (the state directory is): across hosts a job
// may kill crash_loop_limit workers on each. Deaths are noticed when a
// worker starts and at most crashScanEvery later, so workers already
// running may take a job a little past the limit.
type crashGuard struct {
	dir   string
	limit int
	w     *Worker
	own   *os.File // running-<worker id>: this process's jobs, locked

	mu       sync.Mutex
	running  map[string]*runningJob // job key: its runs in progress
	table    *runningTable          // own, mapped: the keys of the running jobs
	deaths   map[string]int         // job key: worker processes it killed
	lastScan time.Time
}

// runningJob is a job running in this process: how many times, and its
// slot in the running table.
type runningJob struct {
	runs int
	slot int
}

const (
	crashDir       = "workers"
	crashFile      = "crashes"
	runningPrefix  = "running-"
	crashScanEvery = time.Second
	crashForget    = time.Hour // a death this old no longer counts
)

// openCrashGuard starts the guard in the state directory. Without one the
// worker runs unguarded, and says so.
func (w *Worker) openCrashGuard(limit int) *crashGuard {
	g, err := newCrashGuard(w, limit)
	if err != nil {
		w.log.Warn("crash-loop guard off: a background job that kills workers is handed on forever", "err", err)
		return nil
	}
	return g
}

func newCrashGuard(w *Worker, limit int) (*crashGuard, error) {
	state, err := config.StateDir()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(state, crashDir)
	if err := privateDir(dir); err != nil {
		return nil, err
	}
	own, err := createLocked(dir, w.id)
	if err != nil {
		return nil, err
	}
	table, err := mapRunningTable(own)
	if err != nil {
		own.Close()
		os.Remove(filepath.Join(dir, runningPrefix+w.id))
		return nil, err
	}
	g := &crashGuard{dir: dir, limit: limit, w: w, own: own, table: table,
		running: map[string]*runningJob{}, deaths: map[string]int{}}
	g.mu.Lock()
	g.scan()
	g.mu.Unlock()
	return g, nil
}

// privateDir creates dir (mode 0700) and refuses it if it is a symbolic
// link, another user's, or writable by others.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory (a symbolic link?)", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s: owned by uid %d, not by this user", dir, st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s: writable by others (mode %v)", dir, fi.Mode().Perm())
	}
	return nil
}

// createLocked creates this process's running file, locked: under a name
// that no worker collects until it is locked, then renamed (the lock
// stays with the file).
func createLocked(dir, id string) (*os.File, error) {
	tmp := filepath.Join(dir, "new-"+id)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, runningPrefix+id)
	if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// openPrivate opens (creating it mode 0600) a file without following a
// symbolic link.
func openPrivate(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
}

// jobKey names a job across the workers it goes to: gearmand keeps its
// handle and unique id when it hands the job on.
func jobKey(job *gearman.Job) string {
	return job.Function + " " + job.Handle + " " + job.Unique
}

// enter books the job as running in this process, or fails it if it
// killed limit workers already. leave unbooks it.
func (g *crashGuard) enter(f wire.Function, job *gearman.Job) (leave func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	key := jobKey(job)
	g.mu.Lock()
	defer g.mu.Unlock()
	if time.Since(g.lastScan) >= crashScanEvery {
		g.scan()
	}
	if n := g.deaths[key]; n >= g.limit {
		g.forget(key) // the job ends here
		return nil, g.refuse(f, job, n)
	}
	run := g.book(key)
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if run.runs--; run.runs == 0 {
			delete(g.running, key)
			g.table.clear(run.slot)
		}
		if g.deaths[key] > 0 {
			g.forget(key) // it ended without killing us
		}
	}, nil
}

func (g *crashGuard) refuse(f wire.Function, job *gearman.Job, deaths int) error {
	te := &pool.TaskError{Func: f.Name(), Index: -1, Worker: g.w.id, Limit: wire.LimitCrashLoop,
		Message: fmt.Sprintf("%s killed %d worker processes on this host, the workers' %s: failed without running it",
			chunkName(job), deaths, wire.LimitCrashLoop)}
	return taskFailure(te) // chunkEnded logs it at WARN
}

// book records the job as running in this process's file before it
// runs: what a process that dies leaves there is what killed it. The file
// is mapped (running table), so a record is a store to memory, no system
// call; the page cache keeps it across the process's death.
func (g *crashGuard) book(key string) *runningJob {
	run := g.running[key]
	if run == nil {
		run = &runningJob{slot: g.table.put(key)}
		g.running[key] = run
	}
	run.runs++
	return run
}

// ownPath is this process's running file. (g.own.Name() is the name
// it was created under, before createLocked renamed it.)
func (g *crashGuard) ownPath() string { return filepath.Join(g.dir, runningPrefix+g.w.id) }

// close removes this process's file: it did not die.
func (g *crashGuard) close() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	os.Remove(g.ownPath())
	g.table.unmap()
	g.own.Close()
}

// scan collects the files of dead worker processes into the shared death
// counts, and reloads those. Called with g.mu held.
func (g *crashGuard) scan() {
	g.lastScan = time.Now()
	deaths, err := g.updateCrashes(g.collectDead())
	if err != nil {
		g.w.log.Warn("crash-loop guard: cannot update its counts", "err", err)
		return
	}
	g.deaths = deaths
}

// collectDead returns the jobs that the worker processes that died were
// running, one entry per death, and removes their files.
func (g *crashGuard) collectDead() []string {
	entries, err := os.ReadDir(g.dir)
	if err != nil {
		g.w.log.Warn("crash-loop guard: cannot list its directory", "err", err)
		return nil
	}
	own := filepath.Base(g.ownPath())
	var keys []string
	for _, e := range entries {
		if name := e.Name(); strings.HasPrefix(name, runningPrefix) && name != own {
			keys = append(keys, g.collect(filepath.Join(g.dir, name))...)
		}
	}
	return keys
}

// collect returns the jobs in a dead process's file, and removes it. The
// file of a live process is locked, and left alone.
func (g *crashGuard) collect(path string) []string {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil // another worker collected it
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return nil // its process lives
	}
	var st syscall.Stat_t
	if syscall.Fstat(int(f.Fd()), &st) != nil || st.Nlink == 0 || int(st.Uid) != os.Geteuid() {
		return nil // collected meanwhile (removed), or not ours
	}
	data, _ := io.ReadAll(io.LimitReader(f, maxRunningFile))
	keys := runningKeys(data)
	os.Remove(path)
	if len(keys) > 0 {
		g.w.log.Warn("a worker process died running jobs", "process", strings.TrimPrefix(filepath.Base(path), runningPrefix),
			"jobs", strings.Join(keys, "; "))
	}
	return keys
}

type crashRecord struct {
	Deaths int
	Last   time.Time
}

// forget drops a job's deaths: it ended (its handle may come back for
// another job once gearmand restarts). Called with g.mu held.
func (g *crashGuard) forget(key string) {
	delete(g.deaths, key)
	if _, err := g.updateCrashes(nil, key); err != nil {
		g.w.log.Warn("crash-loop guard: cannot update its counts", "err", err)
	}
}

// updateCrashes adds the deaths to the shared counts, drops the jobs to
// forget and the deaths older than crashForget, and returns the counts.
func (g *crashGuard) updateCrashes(dead []string, forget ...string) (map[string]int, error) {
	f, err := openPrivate(filepath.Join(g.dir, crashFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	write := len(dead)+len(forget) > 0
	how := syscall.LOCK_SH
	if write {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		return nil, err
	}
	records := map[string]crashRecord{}
	data, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return nil, err
	}
	_ = json.Unmarshal(data, &records) // a torn file starts afresh
	now := time.Now()
	for _, k := range forget {
		delete(records, k)
	}
	for _, k := range dead {
		r := records[k]
		r.Deaths, r.Last = r.Deaths+1, now
		records[k] = r
	}
	counts := make(map[string]int, len(records))
	for k, r := range records {
		if now.Sub(r.Last) > crashForget {
			delete(records, k)
			continue
		}
		counts[k] = r.Deaths
	}
	if write {
		return counts, rewrite(f, records)
	}
	return counts, nil
}

func rewrite(f *os.File, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	return f.Truncate(int64(len(data)))
}

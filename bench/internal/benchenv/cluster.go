package benchenv

import (
	"context"
	"os"

	"github.com/glimpse-go/glimpse/config"
	"github.com/glimpse-go/glimpse/internal/gearmand"
	"github.com/glimpse-go/glimpse/pool"
)

// ClusterSpec says what StartCluster starts.
type ClusterSpec struct {
	Name           string // the temporary directory's prefix: the program's name
	Bin            string // the glimpse-cluster binary the workers run
	Workers, Slots int    // worker processes, and slots of each
	GearmandArgs   []string
	// WorkerArgs, if set, gives the i-th worker process more arguments
	// of its worker command (see Workers.Args).
	WorkerArgs func(i int) []string
	// WriteConfig writes the workers' config in dir for the job server
	// at addr and returns its path; nil: WriteConfig.
	WriteConfig func(dir, addr string) (string, error)
}

// Cluster is a benchmark's cluster on loopback: a managed gearmand and
// worker processes, in a temporary directory that Close removes.
type Cluster struct {
	Dir      string
	Gearmand *gearmand.Process
	Config   string // the config file the workers read
	Workers  *Workers
	slots    int // of all the workers
}

// StartCluster starts gearmand and the worker processes of s.
func StartCluster(ctx context.Context, s ClusterSpec) (c *Cluster, err error) {
	c = &Cluster{slots: s.Workers * s.Slots}
	if c.Dir, err = os.MkdirTemp("", s.Name+"-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if c.Gearmand, err = StartGearmand(ctx, c.Dir, s.GearmandArgs...); err != nil {
		return nil, err
	}
	write := s.WriteConfig
	if write == nil {
		write = WriteConfig
	}
	if c.Config, err = write(c.Dir, c.Gearmand.Addr()); err != nil {
		return nil, err
	}
	c.Workers = NewWorkers(s.Bin, c.Config, s.Slots)
	c.Workers.Args = s.WorkerArgs
	if err = c.Workers.Start(s.Workers); err != nil {
		return nil, err
	}
	return c, nil
}

// Pool connects a pool to the job server at addr ("": the cluster's
// gearmand; else a proxy in front of it) and waits until every worker
// slot serves each of fns.
func (c *Cluster) Pool(ctx context.Context, addr string, fns ...string) (*pool.Pool, error) {
	if addr == "" {
		addr = c.Gearmand.Addr()
	}
	p, err := pool.New(config.Client{JobServers: []string{addr}})
	if err != nil {
		return nil, err
	}
	for _, fn := range fns {
		if err := WaitSlots(ctx, p, fn, c.slots); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

// Close stops the workers and gearmand and removes the directory.
func (c *Cluster) Close() {
	if c.Workers != nil {
		c.Workers.Stop()
	}
	if c.Gearmand != nil {
		c.Gearmand.Stop()
	}
	os.RemoveAll(c.Dir)
}

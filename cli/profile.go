package cli

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/glimpse-go/glimpse/metrics"
)

// profiling is what a worker's -pprof and -cpuprofile ask for: the Go
// runtime's profiles served on its metrics endpoint, and a CPU profile of
// the whole run written to a file.
type profiling struct {
	served  bool
	cpuFile string
	cpu     *os.File // open while the CPU profile runs
}

// profileFlags adds -pprof and -cpuprofile to a command's flags.
func profileFlags(fs *flag.FlagSet) *profiling {
	p := &profiling{}
	fs.BoolVar(&p.served, "pprof", false, "also serve Go's profiles at http://ADDR"+metrics.ProfilesPath+" on the -metrics address")
	fs.StringVar(&p.cpuFile, "cpuprofile", "", "write a CPU profile of the whole run, until exit, to `FILE` (go tool pprof reads it)")
	return p
}

// listenOptions are the metrics endpoint's options for -pprof.
func (p *profiling) listenOptions() []metrics.ListenOption {
	if !p.served {
		return nil
	}
	return []metrics.ListenOption{metrics.WithProfiles()}
}

// startCPU starts the CPU profile of -cpuprofile, if asked.
func (p *profiling) startCPU() error {
	if p.cpuFile == "" {
		return nil
	}
	f, err := os.Create(p.cpuFile)
	if err != nil {
		return fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("-cpuprofile %s: %w", p.cpuFile, err)
	}
	p.cpu = f
	return nil
}

// stopCPU ends the CPU profile, if one runs, and closes its file.
func (p *profiling) stopCPU() error {
	if p.cpu == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := p.cpu.Close()
	p.cpu = nil
	return err
}

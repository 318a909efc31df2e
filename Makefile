# glimpse-go. `make demo` and `make test` do the whole set-up on a fresh
# Debian machine (as root, or with sudo): scripts/install-deps.sh installs
# the system packages that are missing.

GO ?= go
export PATH := $(PATH):/usr/local/go/bin
FUZZTIME ?= 30s

.PHONY: deps demo test test-faults vet screenshots bench bench-gearman bench-pool bench-ping bench-scaling bench-peers bench-reduce bench-tasks fuzz clean

deps:
	@bash scripts/install-deps.sh

# An example map on a local cluster (a managed gearmand and in-process
# worker slots): glimpse's pool.map(hex, [1, 2, 3]) and a million squares.
demo: deps
	$(GO) build -o bin/glimpse-cluster ./cmd/glimpse-cluster
	$(GO) run ./examples/squares

vet:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

test: deps vet
	$(GO) test -race -count=1 -timeout 15m ./...

# Only the fault-injection and multi-host suites (make test runs them too),
# verbose: each test says what it broke and what came back.
test-faults: deps
	$(GO) test -race -count=1 -timeout 10m -v ./internal/faults ./internal/netns

# The web dashboard in headless Chromium during a map, for README: the
# browser test of cli saves its screenshot there.
screenshots: deps
	GLIMPSE_DASHBOARD_SCREENSHOT=$(CURDIR)/bench/results/dashboard.png \
		$(GO) test -count=1 -run '^TestDashboardInBrowser$$' ./cli
	@test -s bench/results/dashboard.png && echo "screenshot: bench/results/dashboard.png"

# Every benchmark in one run, on this machine: bench/results/REPORT.md, a
# PNG chart per section, each program's JSON figures and console output.
# About eight minutes on two cores (three of them the Python peers, whose
# Debian packages scripts/install-bench-deps.sh installs, with ApacheBench
# for the gateway's enqueues); BENCH_QUICK=1
# runs smaller sizes and fewer rounds, for development. Run it on a quiet
# machine.
BENCH_PROGRAMS := gearmanbench poolbench pingbench imapmem largeitems recovery peers/peerbench webhookbench sharedvalue reducebench tasksbench gatewaybench
bench: deps
	@bash scripts/install-bench-deps.sh
	$(GO) build -o bin/glimpse-cluster ./cmd/glimpse-cluster
	$(GO) build -o bin/ $(addprefix ./bench/,$(BENCH_PROGRAMS))
	$(GO) build -o bin/benchreport ./bench/report
	$(MAKE) -s -C bench/cgearman
	BENCH_QUICK='$(BENCH_QUICK)' ./bin/benchreport -out bench/results -command '$(if $(BENCH_QUICK),BENCH_QUICK=$(BENCH_QUICK) )make bench'

# Jobs/s of gearman.Client+Worker against libgearman's C client+worker.
# GEARMAN_PORT=N: use that gearmand and measure only the Go pair;
# WORKERS and JOBS set the worker processes and the job count.
bench-gearman: deps
	$(GO) build -o bin/gearmanbench ./bench/gearmanbench
	./bin/gearmanbench

# pool.Map items/s for a trivial function vs chunk size, and parallel
# efficiency of ~1 ms CPU-bound items vs an in-process map.
bench-pool: deps
	$(GO) build -o bin/poolbench ./bench/poolbench
	./bin/poolbench

# pool.Reduce: the sum of x*x over 100M int64 on 2 worker processes, and
# the keyed word count against ImapUnordered plus a client loop.
bench-reduce: deps
	$(GO) build -o bin/glimpse-cluster ./cmd/glimpse-cluster
	$(GO) build -o bin/reducebench ./bench/reducebench
	./bin/reducebench

# Latency of a broadcast ping to 10, 50 and 100 worker processes, through
# the fanout worker and through the broker's command channel.
bench-ping: deps
	$(GO) build -o bin/glimpse-cluster ./cmd/glimpse-cluster
	$(GO) build -o bin/pingbench ./bench/pingbench
	./bin/pingbench

# The inputs of docs/SCALING.md's capacity model: CPU per job of client,
# gearmand and workers for three job sizes, 1 and 2 job servers, gearmand
# -t 1 and 2; then (as root, with iproute2) the model checked across the
# network-namespace hosts with two job servers. About a minute; not part
# of make test or make bench. SCALING_ARGS=-scale 0.2 for a quick look.
bench-scaling: deps
	$(GO) build -o bin/scaling ./bench/scaling
	./bin/scaling -netns $(SCALING_ARGS) -commit "$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		-json bench/results/scaling.json >bench/results/scaling.txt; \
		status=$$?; cat bench/results/scaling.txt; exit $$status

# The same workloads on glimpse-go, a bare gearman.Client+Worker pair and
# the Python peers (multiprocessing, Dask, ipyparallel, Celery), whose
# Debian packages scripts/install-bench-deps.sh installs. About three
# minutes.
bench-peers: deps
	@bash scripts/install-bench-deps.sh
	$(GO) build -o bin/peerbench ./bench/peers/peerbench
	./bin/peerbench

# Durable background tasks: enqueues/s from one client and end-to-end
# tasks/s with 2 worker processes, beside Celery with redis-server.
bench-tasks: deps
	@bash scripts/install-bench-deps.sh
	$(GO) build -o bin/tasksbench ./bench/tasksbench
	./bin/tasksbench

# Each fuzz target for FUZZTIME (go test -fuzz takes one target at a time).
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzPacketReader$$' -fuzztime $(FUZZTIME) ./gearman
	$(GO) test -run '^$$' -fuzz '^FuzzAdminParse$$' -fuzztime $(FUZZTIME) ./gearman
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./config
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/wire
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeScalarChunk$$' -fuzztime $(FUZZTIME) ./internal/wire
	$(GO) test -run '^$$' -fuzz '^FuzzRunChunk$$' -fuzztime $(FUZZTIME) ./pool
	$(GO) test -run '^$$' -fuzz '^FuzzParseCommand$$' -fuzztime $(FUZZTIME) ./cluster
	$(GO) test -run '^$$' -fuzz '^FuzzParseRequests$$' -fuzztime $(FUZZTIME) ./fanout
	$(GO) test -run '^$$' -fuzz '^FuzzOpenJSON$$' -fuzztime $(FUZZTIME) ./internal/auth
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZTIME) ./internal/auth
	$(GO) test -run '^$$' -fuzz '^FuzzCommandGate$$' -fuzztime $(FUZZTIME) ./cluster
	$(GO) test -run '^$$' -fuzz '^FuzzOpenChunk$$' -fuzztime $(FUZZTIME) ./cluster

clean:
	rm -rf bin bench/cgearman/bin

// Package lifecycle is the start/stop/wait machinery shared by glimpse's
// long-running services (gearman.Worker, fanout.Worker, broker.Broker
// and cluster.Worker), so that each does not keep its own
// running/closed flags, contexts and WaitGroups and report "already
// running" its own way.
//
// A service holds a [Lifecycle] and, if it starts goroutines or serves
// work it must wait for, a [Group]:
//
//	func (s *Service) Run() error {
//		if err := s.life.Begin(); err != nil {
//			return fmt.Errorf("service: %w", err) // ErrRunning or ErrClosed
//		}
//		defer s.life.End()
//		s.group.Go(func() { s.loop(s.life.Context()) })
//		<-s.life.Context().Done()
//		return ErrServiceClosed // wraps lifecycle.ErrClosed
//	}
//
//	func (s *Service) Shutdown(ctx context.Context) error {
//		s.life.Stop()          // no new work; Context is cancelled
//		err := s.drain(ctx)    // the work in hand finishes
//		s.life.Cancel()        // WorkContext is cancelled too
//		s.group.Close()
//		s.group.Wait(context.Background())
//		return err
//	}
//
// A service that must release something itself when it is stopped before
// it ever ran (a broker's bound sockets) calls StopIdle instead: the
// caller that gets true does the release in Run's place and calls End, so
// that concurrent Close calls waiting on Done return only after it.
//
// The two contexts are the two halves of an http.Server-style stop:
// Context ends when stopping begins (accept loops, housekeeping), while
// WorkContext lives on through a graceful drain and ends only at Cancel
// (the context of jobs in progress, redial loops that deliver results).
package lifecycle

package pool

import (
	"slices"
	"strconv"
	"time"
)

// Backup tasks (the BackupTasks option): once every item is launched, a
// chunk that has run for twice the median chunk time gets a second copy
// on an idle worker slot; the first copy to succeed decides the chunk.

// maxTookSamples bounds the chunk times the backup rule looks at: the most
// recent ones say best how long a chunk takes now.
const maxTookSamples = 256

// recordTook keeps how long a decided chunk took, for backupAfter.
func (m *mapRun[In, Out]) recordTook(took time.Duration) {
	if !m.o.backupTasks {
		return
	}
	if len(m.took) == maxTookSamples {
		m.took = m.took[1:]
	}
	m.took = append(m.took, took)
}

// backupAfter is how long a chunk may run before it gets a backup copy:
// twice the median time of the chunks decided so far.
func (m *mapRun[In, Out]) backupAfter() time.Duration {
	took := slices.Clone(m.took)
	slices.Sort(took)
	return max(2*took[len(took)/2], 5*time.Millisecond)
}

// backupCandidate returns the chunk that has run longest without a backup
// copy, if the backup rule may apply now: every item is launched, some
// chunk was decided (so a chunk's usual time is known), and fewer copies
// run than there are worker slots, so a backup takes an idle slot and
// delays nothing.
func (m *mapRun[In, Out]) backupCandidate() *flight[In] {
	if !m.o.backupTasks || !m.inputEnd || len(m.took) == 0 {
		return nil
	}
	running := 0
	var oldest *flight[In]
	for _, f := range m.flights {
		running += f.copies
		if !f.backedUp && (oldest == nil || f.launched.Before(oldest.launched)) {
			oldest = f
		}
	}
	if running >= m.slots {
		return nil
	}
	return oldest
}

// armBackup sets the backup timer to when the next candidate is due.
func (m *mapRun[In, Out]) armBackup() {
	f := m.backupCandidate()
	if f == nil {
		if !m.backupAt.IsZero() {
			m.backupTimer.Stop()
			m.backupAt = time.Time{}
		}
		return
	}
	at := f.launched.Add(m.backupAfter())
	if at.Equal(m.backupAt) {
		return
	}
	m.backupAt = at
	if m.backupTimer == nil {
		m.backupTimer = time.NewTimer(time.Until(at))
		return
	}
	m.backupTimer.Reset(time.Until(at))
}

// backupC is the backup timer's channel, or nil (never ready) while the
// timer is not armed.
func (m *mapRun[In, Out]) backupC() <-chan time.Time {
	if m.backupAt.IsZero() {
		return nil
	}
	return m.backupTimer.C
}

// launchBackups launches a backup copy of each chunk that is due, oldest
// first, while slots are idle.
func (m *mapRun[In, Out]) launchBackups() {
	m.backupAt = time.Time{}
	after := m.backupAfter()
	for {
		f := m.backupCandidate()
		if f == nil || time.Since(f.launched) < after {
			break
		}
		f.backedUp = true
		m.p.counters.backupsLaunched.Add(1)
		m.runCopy(f, m.mapID+"-"+strconv.Itoa(f.idx)+"-backup", closedChan, nil)
	}
	m.armBackup()
}

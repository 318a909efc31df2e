package direct

import "time"

// Budget is how long a transfer of n bytes may take: BudgetFloor plus n
// at BudgetRate. A peer slower than that is taken for lost.
func Budget(n int64) time.Duration {
	return BudgetFloor + time.Duration(float64(n)/BudgetRate*float64(time.Second))
}

const (
	// BudgetFloor is the least time any exchange on a connection gets.
	BudgetFloor = 5 * time.Second
	// BudgetRate is the slowest rate (bytes/s) a transfer may run at: 4 MiB/s.
	BudgetRate = 4 << 20
)

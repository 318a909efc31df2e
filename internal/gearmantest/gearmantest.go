// Package gearmantest holds what tests ask a real gearmand (started with
// internal/testenv) through the admin protocol. It is a package of its
// own, not part of testenv, because package gearman's own tests import
// testenv, and testenv importing gearman would make a cycle.
package gearmantest

import (
	"context"

	"github.com/glimpse-go/glimpse/gearman"
)

// FunctionStatus returns the admin "status" line of function on the
// gearmand at addr: a zero status with that name if the server does not
// know the function.
func FunctionStatus(ctx context.Context, addr, function string) (gearman.FunctionStatus, error) {
	a, err := gearman.DialAdmin(ctx, addr)
	if err != nil {
		return gearman.FunctionStatus{}, err
	}
	defer a.Close()
	st, err := a.Status(ctx)
	if err != nil {
		return gearman.FunctionStatus{}, err
	}
	for _, s := range st {
		if s.Name == function {
			return s, nil
		}
	}
	return gearman.FunctionStatus{Name: function}, nil
}

package main

import (
	"strings"
	"testing"
)

// abOutput is ab's report of a run, as ApacheBench 2.3 prints it, with
// the counts given.
func abOutput(complete, failed, non2xx, keepAlive string) string {
	out := `Concurrency Level:      10
Time taken for tests:   0.600 seconds
Complete requests:      ` + complete + `
Failed requests:        ` + failed + `
`
	if non2xx != "" {
		out += "Non-2xx responses:      " + non2xx + "\n"
	}
	return out + `Keep-Alive requests:    ` + keepAlive + `
Total transferred:      2120000 bytes
Requests per second:    16666.67 [#/sec] (mean)
Time per request:       0.600 [ms] (mean)
`
}

// TestABRunsWithFailuresAreNotFigures: only a run whose every request
// completed with a 2xx on a kept-alive connection gives a rate.
func TestABRunsWithFailuresAreNotFigures(t *testing.T) {
	for _, c := range []struct {
		name, out, wantErr string
	}{
		{"clean", abOutput("10000", "0", "", "10000"), ""},
		{"failed", abOutput("10000", "3", "", "10000"), "3 failed"},
		{"non-2xx", abOutput("10000", "0", "10000", "10000"), "10000 non-2xx"},
		{"short", abOutput("9000", "0", "", "9000"), "9000 of 10000 requests complete"},
		{"not kept alive", abOutput("10000", "0", "", "0"), "0 of 10000 requests kept the connection alive"},
		{"no figures", "apr_socket_connect(): Connection refused (111)\n", "no figures"},
	} {
		r := parseAB(c.out)
		err := r.check("http://127.0.0.1:1/queue", 10000)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantErr == "" && r.rate != 16666.67:
			t.Errorf("%s: rate %v, want 16666.67", c.name, r.rate)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.wantErr)
		}
	}
}

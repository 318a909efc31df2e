// Package metricstest scrapes a real metrics endpoint over HTTP for tests:
// it parses the text format, looks up samples by name and labels, and
// lints the output with promtool (Debian package prometheus) when it is
// installed.
package metricstest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeTimeout bounds one scrape.
const scrapeTimeout = 10 * time.Second

// Scrape is one scrape of an endpoint: its text and its parsed families.
type Scrape struct {
	Text     string
	Families map[string]*dto.MetricFamily
}

// Get scrapes url, failing the test if it does not answer 200 with
// metrics in the text format.
func Get(t testing.TB, url string) Scrape {
	t.Helper()
	s, err := get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	return s
}

func get(url string) (Scrape, error) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Scrape{}, err
	}
	req.Header.Set("Accept", "text/plain") // the text format, not protobuf
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Scrape{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Scrape{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Scrape{}, fmt.Errorf("status %s: %s", resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return Scrape{}, fmt.Errorf("parse: %w\n%s", err, body)
	}
	return Scrape{Text: string(body), Families: fams}, nil
}

// Value returns the value of the sample of family name whose labels
// include labels ("k", "v", ...): a counter's or gauge's value, a
// histogram's count. false if there is none.
func (s Scrape) Value(name string, labels ...string) (float64, bool) {
	m := s.metric(name, labels)
	switch {
	case m == nil:
		return 0, false
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount()), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

// Histogram returns the histogram sample of family name with labels.
func (s Scrape) Histogram(name string, labels ...string) *dto.Histogram {
	if m := s.metric(name, labels); m != nil {
		return m.Histogram
	}
	return nil
}

func (s Scrape) metric(name string, labels []string) *dto.Metric {
	f := s.Families[name]
	if f == nil {
		return nil
	}
	for _, m := range f.Metric {
		if hasLabels(m, labels) {
			return m
		}
	}
	return nil
}

func hasLabels(m *dto.Metric, labels []string) bool {
	have := map[string]string{}
	for _, l := range m.Label {
		have[l.GetName()] = l.GetValue()
	}
	for i := 0; i+1 < len(labels); i += 2 {
		if v, ok := have[labels[i]]; !ok || v != labels[i+1] {
			return false
		}
	}
	return true
}

// Want checks that the sample of name with labels has value want.
func (s Scrape) Want(t testing.TB, want float64, name string, labels ...string) {
	t.Helper()
	got, ok := s.Value(name, labels...)
	if !ok {
		t.Errorf("no sample %s%v in the scrape (families: %s)", name, labels, s.names())
		return
	}
	if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// WantAbove checks that the sample of name with labels is more than min.
func (s Scrape) WantAbove(t testing.TB, min float64, name string, labels ...string) {
	t.Helper()
	got, ok := s.Value(name, labels...)
	if !ok {
		t.Errorf("no sample %s%v in the scrape (families: %s)", name, labels, s.names())
		return
	}
	if got <= min {
		t.Errorf("%s%v = %v, want more than %v", name, labels, got, min)
	}
}

func (s Scrape) names() string {
	var names []string
	for n := range s.Families {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// Promtool runs "promtool check metrics" on the scrape's text and fails
// the test on any problem it reports; without promtool it logs that the
// check was skipped (scripts/install-deps.sh installs it).
func Promtool(t testing.TB, s Scrape) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not found (Debian package prometheus): skipping promtool check metrics")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(s.Text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

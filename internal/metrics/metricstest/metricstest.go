// Package metricstest reads a /metrics page as Prometheus would, for tests
// that check which series the bot exposes and what they count.
package metricstest

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families is a scraped page: metric families by name.
type Families map[string]*dto.MetricFamily

// Parse reads a page in the Prometheus text format.
func Parse(t testing.TB, page io.Reader) Families {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(page)
	if err != nil {
		t.Fatalf("parse metrics page: %v", err)
	}
	return fams
}

// Gather reads the series of g (a Metrics' Registry) without HTTP.
func Gather(t testing.TB, g prometheus.Gatherer) Families {
	t.Helper()
	list, err := g.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	fams := Families{}
	for _, f := range list {
		fams[f.GetName()] = f
	}
	return fams
}

// Scrape GETs url and parses the page; it fails the test unless the answer
// is 200 in the text format.
func Scrape(t testing.TB, url string) Families {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape %s: %d %s", url, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape %s: Content-Type %q, want the text format", url, ct)
	}
	return Parse(t, resp.Body)
}

// Value is the value of the series name{labels} (a counter's or gauge's
// value, a histogram's sample count), and whether the page has it. The
// series must carry exactly the labels given.
func (f Families) Value(name string, labels map[string]string) (float64, bool) {
	fam, ok := f[name]
	if !ok {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		if !sameLabels(m.GetLabel(), labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// Sum is the sum of a histogram series' samples (seconds, for a duration).
func (f Families) Sum(name string, labels map[string]string) float64 {
	fam, ok := f[name]
	if !ok {
		return 0
	}
	for _, m := range fam.GetMetric() {
		if sameLabels(m.GetLabel(), labels) && m.Histogram != nil {
			return m.GetHistogram().GetSampleSum()
		}
	}
	return 0
}

func sameLabels(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, l := range got {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

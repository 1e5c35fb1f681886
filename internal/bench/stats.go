package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of sorted using
// the nearest-rank method: the smallest sample such that at least p% of
// samples are <= it. Nearest-rank never interpolates, so every reported
// latency is one that a request actually saw. It returns 0 for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// latencySummary condenses samples into the metrics every scenario reports.
func latencySummary(samples []time.Duration) []metric {
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	var maxD time.Duration
	if len(sorted) > 0 {
		maxD = sorted[len(sorted)-1]
	}
	return []metric{
		{"p50_ms", ms(percentile(sorted, 50))},
		{"p90_ms", ms(percentile(sorted, 90))},
		{"p99_ms", ms(percentile(sorted, 99))},
		{"max_ms", ms(maxD)},
	}
}

// ms converts to milliseconds rounded to microseconds, enough precision
// for any network benchmark without printing float noise.
func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

// round3 rounds to three decimals.
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// metric is one scenario-specific key of a result line.
type metric struct {
	key   string
	value any
}

// result is one output line. It marshals flat and in a fixed key order
// (header, scenario metrics, trailer) so lines are easy to eyeball and diff.
type result struct {
	Scenario      string
	Run           int
	Server        string
	ServerVersion string
	// Count and Concurrency are omitted when zero (the ready scenario),
	// except Count for namespace-delete.
	Count       int
	Concurrency int
	Metrics     []metric
	Time        time.Time
}

func (r result) MarshalJSON() ([]byte, error) {
	fields := []metric{
		{"scenario", r.Scenario},
		{"run", r.Run},
		{"server", r.Server},
		{"server_version", r.ServerVersion},
	}
	// namespace-delete --count 0 (an empty namespace) is a real count.
	if r.Count != 0 || r.Scenario == ScenarioNamespaceDelete {
		fields = append(fields, metric{"count", r.Count})
	}
	if r.Concurrency != 0 {
		fields = append(fields, metric{"concurrency", r.Concurrency})
	}
	fields = append(fields, r.Metrics...)
	fields = append(fields,
		metric{"go_version", runtime.Version()},
		metric{"time", r.Time.UTC().Format(time.RFC3339)})

	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(f.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, fmt.Errorf("marshal %s: %w", f.key, err)
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// write emits r as one line.
func (r result) write(out io.Writer) error {
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	if _, err := out.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

package bench

import (
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func durations(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single p50", durations(7), 50, 7 * time.Millisecond},
		{"single p99", durations(7), 99, 7 * time.Millisecond},
		{"two p50 is lower", durations(1, 2), 50, 1 * time.Millisecond},
		{"two p51 is upper", durations(1, 2), 51, 2 * time.Millisecond},
		{"odd p50 is median", durations(1, 2, 3), 50, 2 * time.Millisecond},
		{"p100 is max", durations(1, 2, 3), 100, 3 * time.Millisecond},
		{"p0 clamps to min", durations(1, 2, 3), 0, 1 * time.Millisecond},
		{"p>100 clamps to max", durations(1, 2, 3), 150, 3 * time.Millisecond},
		{"hundred p50", hundred, 50, 50 * time.Millisecond},
		{"hundred p90", hundred, 90, 90 * time.Millisecond},
		{"hundred p99", hundred, 99, 99 * time.Millisecond},
		{"hundred p99.9", hundred, 99.9, 100 * time.Millisecond},
		{"ten p99 is max", durations(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestLatencySummarySortsInput(t *testing.T) {
	in := durations(30, 10, 20)
	got := latencySummary(in)
	want := []metric{{"p50_ms", 20.0}, {"p90_ms", 30.0}, {"p99_ms", 30.0}, {"max_ms", 30.0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("latencySummary = %v, want %v", got, want)
	}
	if in[0] != 30*time.Millisecond {
		t.Error("latencySummary modified its input")
	}
}

func TestMs(t *testing.T) {
	if got := ms(1234567 * time.Nanosecond); got != 1.235 {
		t.Errorf("ms = %v, want 1.235", got)
	}
}

func TestResultJSONOrder(t *testing.T) {
	r := result{
		Scenario: "create", Run: 1, Server: "127.0.0.1:6443", ServerVersion: "v1.2.3",
		Count: 10, Concurrency: 2,
		Metrics: []metric{{"p50_ms", 1.5}, {"errors", 0}},
		Time:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	var b strings.Builder
	if err := r.write(&b); err != nil {
		t.Fatal(err)
	}
	line := b.String()
	if !strings.HasSuffix(line, "}\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("not one line: %q", line)
	}
	wantPrefix := `{"scenario":"create","run":1,"server":"127.0.0.1:6443","server_version":"v1.2.3","count":10,"concurrency":2,"p50_ms":1.5,"errors":0,"go_version":"`
	if !strings.HasPrefix(line, wantPrefix) {
		t.Errorf("line = %s\nwant prefix %s", line, wantPrefix)
	}
	if !strings.HasSuffix(line, `"time":"2026-01-02T03:04:05Z"}`+"\n") {
		t.Errorf("line = %s, want time last", line)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}

	// The ready scenario has no count/concurrency.
	r.Count, r.Concurrency = 0, 0
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "count") {
		t.Errorf("zero count should be omitted: %s", data)
	}
	// ...except for namespace-delete, where --count 0 is a measurement.
	r.Scenario = ScenarioNamespaceDelete
	if data, err = json.Marshal(r); err != nil || !strings.Contains(string(data), `"count":0`) {
		t.Errorf("namespace-delete count 0 should be kept: %s, %v", data, err)
	}
}

func TestSplitCommandLine(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"  terminus  serve\t--data-dir /tmp/x ", []string{"terminus", "serve", "--data-dir", "/tmp/x"}, false},
		{`a 'b c' "d e"`, []string{"a", "b c", "d e"}, false},
		{`a '' ""`, []string{"a", "", ""}, false},
		{`a b\ c`, []string{"a", "b c"}, false},
		{`a "x\"y\\z"`, []string{"a", `x"y\z`}, false},
		{`a 'x\y'`, []string{"a", `x\y`}, false},
		{`pre'mid'post`, []string{"premidpost"}, false},
		{`--flag=$HOME`, []string{"--flag=$HOME"}, false},
		{`a 'unterminated`, nil, true},
		{`a "unterminated`, nil, true},
		{`a \`, nil, true},
	}
	for _, tt := range tests {
		got, err := splitCommandLine(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("splitCommandLine(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitCommandLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tterminus\nVmPeak:\t  99999 kB\nVmRSS:\t   12345 kB\nThreads:\t8\n"
	got, err := parseVmRSS(strings.NewReader(status))
	if err != nil || got != 12345*1024 {
		t.Errorf("parseVmRSS = %d, %v; want %d", got, err, 12345*1024)
	}
	if _, err := parseVmRSS(strings.NewReader("Name:\tzombie\n")); err == nil {
		t.Error("want error without VmRSS")
	}
	if _, err := parseVmRSS(strings.NewReader("VmRSS:\t12 MB\n")); err == nil {
		t.Error("want error for unexpected unit")
	}
}

func TestTailBuffer(t *testing.T) {
	tb := &tailBuffer{max: 8}
	for _, s := range []string{"hello ", "wonderful ", "world"} {
		if n, err := tb.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if got := tb.String(); got != "ul world" {
		t.Errorf("tail = %q", got)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		wantErr string
	}{
		{"create ok", Options{Scenario: ScenarioCreate}, ""},
		{"watch ok", Options{Scenario: ScenarioWatchLatency, Count: 10, Concurrency: 2, Runs: 3}, ""},
		{"ready ok", Options{Scenario: ScenarioReady, Launch: "terminus serve", LaunchKubeconfig: "/tmp/k"}, ""},
		{"no scenario", Options{}, "--scenario is required"},
		{"bad scenario", Options{Scenario: "delete"}, "unknown --scenario"},
		{"ready needs launch", Options{Scenario: ScenarioReady, LaunchKubeconfig: "/tmp/k"}, "--launch is required"},
		{"ready needs kubeconfig", Options{Scenario: ScenarioReady, Launch: "x"}, "--launch-kubeconfig is required"},
		{"ready bad quoting", Options{Scenario: ScenarioReady, Launch: "x 'y", LaunchKubeconfig: "k"}, "unterminated"},
		{"launch on create", Options{Scenario: ScenarioCreate, Launch: "x"}, "only apply to the ready scenario"},
		{"negative count", Options{Scenario: ScenarioCreate, Count: -1}, "--count"},
		{"negative concurrency", Options{Scenario: ScenarioCreate, Concurrency: -1}, "--concurrency"},
		{"negative runs", Options{Scenario: ScenarioCreate, Runs: -1}, "--runs"},
		{"bad content type", Options{Scenario: ScenarioCreate, ContentType: "yaml"}, "--content-type"},
		{"protobuf ok", Options{Scenario: ScenarioCreate, ContentType: ContentTypeProtobuf}, ""},
		{"negative payload", Options{Scenario: ScenarioCreate, PayloadBytes: -1}, "--payload-bytes"},
		{"cascade-background ok", Options{Scenario: ScenarioCascadeBackground}, ""},
		{"cascade-foreground ok", Options{Scenario: ScenarioCascadeForeground, Timeout: time.Minute}, ""},
		{"orphan ok", Options{Scenario: ScenarioOrphan, Count: 10}, ""},
		{"namespace-delete ok", Options{Scenario: ScenarioNamespaceDelete, CountSet: true}, ""},
		{"launch on orphan", Options{Scenario: ScenarioOrphan, LaunchKubeconfig: "k"}, "only apply to the ready scenario"},
		{"negative timeout", Options{Scenario: ScenarioCascadeBackground, Timeout: -time.Second}, "--timeout"},
		{"unknown lists new scenarios", Options{Scenario: "cascade"}, "cascade-foreground, orphan, namespace-delete, crd-ready, pod-start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	c := Options{Scenario: ScenarioCreate}.withDefaults()
	if c.Count != DefaultCreateCount || c.Concurrency != DefaultCreateConcurrency || c.Runs != 1 || c.PayloadBytes != DefaultPayloadBytes {
		t.Errorf("create defaults = %+v", c)
	}
	w := Options{Scenario: ScenarioWatchLatency}.withDefaults()
	if w.Count != DefaultWatchCount || w.Concurrency != DefaultWatchConcurrency {
		t.Errorf("watch defaults = %+v", w)
	}
	if e := (Options{Scenario: ScenarioCreate, Count: 7, Concurrency: 3}).withDefaults(); e.Count != 7 || e.Concurrency != 3 {
		t.Errorf("explicit values overridden: %+v", e)
	}
	for _, s := range []string{ScenarioCascadeBackground, ScenarioCascadeForeground, ScenarioOrphan, ScenarioNamespaceDelete} {
		d := Options{Scenario: s}.withDefaults()
		if d.Count != DefaultCascadeCount || d.Timeout != DefaultRunTimeout || d.Concurrency != DefaultCreateConcurrency {
			t.Errorf("%s defaults = %+v", s, d)
		}
	}
	// An explicit --count 0 is an empty namespace for namespace-delete,
	// and still "the default" elsewhere.
	if d := (Options{Scenario: ScenarioNamespaceDelete, CountSet: true}).withDefaults(); d.Count != 0 {
		t.Errorf("namespace-delete --count 0 became %d", d.Count)
	}
	if d := (Options{Scenario: ScenarioOrphan, CountSet: true}).withDefaults(); d.Count != DefaultCascadeCount {
		t.Errorf("orphan --count 0 became %d", d.Count)
	}
}

func TestCountFlag(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		count   int
		set     bool
		wantErr bool
	}{
		{nil, 0, false, false},
		{[]string{"--count", "0"}, 0, true, false},
		{[]string{"--count=250"}, 250, true, false},
		{[]string{"--count", "x"}, 0, false, true},
	} {
		var o Options
		fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		o.AddFlags(fs)
		err := fs.Parse(tt.args)
		if (err != nil) != tt.wantErr || o.Count != tt.count || o.CountSet != tt.set {
			t.Errorf("%q: Count %d, CountSet %v, err %v", tt.args, o.Count, o.CountSet, err)
		}
	}
	var o Options
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	o.AddFlags(fs)
	if f := fs.Lookup("count"); f.DefValue != "0" || f.Value.Type() != "int" {
		t.Errorf("--count: default %q, type %q", f.DefValue, f.Value.Type())
	}
	if u := fs.Lookup("scenario").Usage; !strings.Contains(u, "namespace-delete") || !strings.Contains(u, "cascade-background") {
		t.Errorf("--scenario usage = %q", u)
	}
	if f := fs.Lookup("timeout"); f == nil {
		t.Error("no --timeout flag")
	}
}

package imagegc

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy()
	want := Policy{HighThresholdPercent: 85, LowThresholdPercent: 80, MinAge: 2 * time.Minute}
	if p != want {
		t.Errorf("DefaultPolicy() = %+v, want %+v", p, want)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("DefaultPolicy().Validate() = %v", err)
	}
	if p.Disabled() {
		t.Error("DefaultPolicy().Disabled() = true")
	}
}

func TestDisabled(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Policy
		want bool
	}{
		{"high 100, no max age", Policy{HighThresholdPercent: 100, LowThresholdPercent: 80}, true},
		{"high 100, max age", Policy{HighThresholdPercent: 100, LowThresholdPercent: 80, MaxAge: time.Hour}, false},
		{"high 99, no max age", Policy{HighThresholdPercent: 99, LowThresholdPercent: 80}, false},
		{"default", DefaultPolicy(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Disabled(); got != tc.want {
				t.Errorf("Disabled() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Policy)
		want   []string // each error's message, in order; nil: valid
	}{
		{name: "default", mutate: func(*Policy) {}},
		{name: "high 100 low 99", mutate: func(p *Policy) { p.HighThresholdPercent, p.LowThresholdPercent = 100, 99 }},
		{name: "max age above min age", mutate: func(p *Policy) { p.MaxAge = time.Hour }},
		{
			name:   "high above 100",
			mutate: func(p *Policy) { p.HighThresholdPercent = 101 },
			want:   []string{"invalid configuration: imageGCHighThresholdPercent (--image-gc-high-threshold) 101 must be between 0 and 100, inclusive"},
		},
		{
			name:   "low negative",
			mutate: func(p *Policy) { p.LowThresholdPercent = -1 },
			want:   []string{"invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) -1 must be between 0 and 100, inclusive"},
		},
		{
			name:   "low equal to high",
			mutate: func(p *Policy) { p.HighThresholdPercent, p.LowThresholdPercent = 0, 0 },
			want:   []string{"invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) 0 must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) 0"},
		},
		{
			name:   "low above high",
			mutate: func(p *Policy) { p.HighThresholdPercent, p.LowThresholdPercent = 70, 90 },
			want:   []string{"invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) 90 must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) 70"},
		},
		{
			name:   "max age negative",
			mutate: func(p *Policy) { p.MaxAge = -time.Second },
			want:   []string{"invalid configuration: imageMaximumGCAge -1s must not be negative"},
		},
		{
			name:   "max age not above min age",
			mutate: func(p *Policy) { p.MaxAge = 2 * time.Minute },
			want:   []string{"invalid configuration: imageMaximumGCAge 2m0s must be greater than imageMinimumGCAge 2m0s"},
		},
		{
			name:   "several",
			mutate: func(p *Policy) { p.HighThresholdPercent, p.LowThresholdPercent = 101, 101 },
			want: []string{
				"invalid configuration: imageGCHighThresholdPercent (--image-gc-high-threshold) 101 must be between 0 and 100, inclusive",
				"invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) 101 must be between 0 and 100, inclusive",
				"invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) 101 must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) 101",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultPolicy()
			tc.mutate(&p)
			err := p.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.want)
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("Validate() =\n%s\nwant\n%s", got, want)
			}
			u, ok := err.(interface{ Unwrap() []error })
			if !ok || len(u.Unwrap()) != len(tc.want) {
				t.Errorf("Validate() does not join %d errors: %#v", len(tc.want), err)
			}
		})
	}
}

func TestNewChecksPolicyAsTheImageManagerDoes(t *testing.T) {
	store := newFakeStore()
	for _, tc := range []struct {
		name    string
		p       Policy
		wantErr string
	}{
		{name: "low equal to high is accepted", p: Policy{HighThresholdPercent: 100, LowThresholdPercent: 100}},
		{name: "high out of range", p: Policy{HighThresholdPercent: 101, LowThresholdPercent: 80}, wantErr: "invalid HighThresholdPercent 101, must be in range [0-100]"},
		{name: "low out of range", p: Policy{HighThresholdPercent: 85, LowThresholdPercent: -1}, wantErr: "invalid LowThresholdPercent -1, must be in range [0-100]"},
		{name: "low above high", p: Policy{HighThresholdPercent: 80, LowThresholdPercent: 85}, wantErr: "LowThresholdPercent 85 can not be higher than HighThresholdPercent 80"},
		{name: "negative min age", p: Policy{HighThresholdPercent: 85, LowThresholdPercent: 80, MinAge: -1}, wantErr: "invalid MinAge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{Store: store, Policy: tc.p, Stats: fixedStats(1, 1)})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("New: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	store := newFakeStore()
	c, err := New(Config{Store: store, Stats: fixedStats(1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Policy() != DefaultPolicy() {
		t.Errorf("zero Policy became %+v, want the default", c.Policy())
	}
	if c.period != DefaultPeriod {
		t.Errorf("period = %v, want %v", c.period, DefaultPeriod)
	}
	if _, err := New(Config{Store: store}); err == nil {
		t.Error("New without Stats, StatfsPath or a store with Dir() succeeded")
	}
	if _, err := New(Config{Store: store, Stats: fixedStats(1, 1), Recorder: nil, Period: -time.Second}); err == nil {
		t.Error("New with a negative Period succeeded")
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without a Store succeeded")
	}
}

func TestStatfs(t *testing.T) {
	st, err := statfsStats(t.TempDir())()
	if err != nil {
		t.Fatal(err)
	}
	if st.Capacity <= 0 || st.Available < 0 || st.Available > st.Capacity {
		t.Errorf("statfs = %+v", st)
	}
	if _, err := statfsStats("/does/not/exist")(); err == nil {
		t.Error("statfs of a missing path succeeded")
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{
		0:           "0 B",
		1023:        "1023 B",
		1024:        "1.0 KiB",
		1536:        "1.5 KiB",
		10 << 30:    "10.0 GiB",
		28346784153: "26.4 GiB",
		3 << 40:     "3.0 TiB",
	} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCapacityStats(t *testing.T) {
	s := newFakeStore(img("a", 300, 0, 0), img("b", 200, 0, 0))
	st, err := CapacityStats(1000, s)()
	if err != nil || st != (FSStats{Capacity: 1000, Available: 500}) {
		t.Errorf("CapacityStats = %+v, %v", st, err)
	}
	st, err = CapacityStats(400, s)()
	if err != nil || st != (FSStats{Capacity: 400, Available: 0}) {
		t.Errorf("CapacityStats over capacity = %+v, %v; want Available 0", st, err)
	}
}

package runner

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegister(t *testing.T) {
	newCounters := func() []prometheus.Collector {
		return []prometheus.Collector{
			prometheus.NewCounter(prometheus.CounterOpts{Name: "a_total", Help: "a"}),
			prometheus.NewCounter(prometheus.CounterOpts{Name: "b_total", Help: "b"}),
		}
	}
	tests := []struct {
		name string
		// taken is registered on the registry first, if set.
		taken   string
		nilReg  bool
		wantErr bool
	}{
		{name: "a nil registerer registers nothing", nilReg: true},
		{name: "all collectors are registered"},
		{name: "a taken name registers none", taken: "b_total", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.nilReg {
				if err := Register(nil, newCounters()...); err != nil {
					t.Fatal(err)
				}
				Unregister(nil, newCounters()...)
				return
			}
			reg := prometheus.NewRegistry()
			if tt.taken != "" {
				reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: tt.taken, Help: "b"}))
			}
			cs := newCounters()
			err := Register(reg, cs...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Register = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				var already prometheus.AlreadyRegisteredError
				if !errors.As(err, &already) {
					t.Errorf("error %v does not wrap AlreadyRegisteredError", err)
				}
				// Nothing of cs stayed: the first counter registers again.
				if err := reg.Register(cs[0]); err != nil {
					t.Errorf("the first collector stayed registered: %v", err)
				}
				return
			}
			Unregister(reg, cs...)
			if err := Register(reg, cs...); err != nil {
				t.Errorf("Register after Unregister: %v", err)
			}
		})
	}
}

package cronjob

import (
	"testing"
	"time"
)

func TestParseStandardErrors(t *testing.T) {
	for _, spec := range []string{
		"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 7",
		"5-1 * * * *", "*/0 * * * *", "a * * * *", "* * * foo *", "@fortnightly", "@every x", "TZ=Nowhere/Else * * * * *",
	} {
		if _, err := ParseStandard(spec, nil); err == nil {
			t.Errorf("ParseStandard(%q) = nil error", spec)
		}
	}
}

func TestNext(t *testing.T) {
	utc := func(s string) time.Time {
		tt, err := time.Parse("2006-01-02 15:04:05", s)
		if err != nil {
			panic(err)
		}
		return tt
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	tests := []struct {
		spec string
		loc  *time.Location
		from string
		want []string
	}{
		{"* * * * *", nil, "2026-01-01 00:00:00", []string{"2026-01-01 00:01:00", "2026-01-01 00:02:00"}},
		{"* * * * *", nil, "2026-01-01 00:00:30", []string{"2026-01-01 00:01:00"}},
		{"*/15 * * * *", nil, "2026-01-01 10:07:00", []string{"2026-01-01 10:15:00", "2026-01-01 10:30:00", "2026-01-01 10:45:00", "2026-01-01 11:00:00"}},
		{"5/20 * * * *", nil, "2026-01-01 10:00:00", []string{"2026-01-01 10:05:00", "2026-01-01 10:25:00", "2026-01-01 10:45:00", "2026-01-01 11:05:00"}},
		{"0 9-17/4 * * *", nil, "2026-01-01 10:00:00", []string{"2026-01-01 13:00:00", "2026-01-01 17:00:00", "2026-01-02 09:00:00"}},
		{"30 2 * * 1,3,5", nil, "2026-01-01 00:00:00", []string{"2026-01-02 02:30:00", "2026-01-05 02:30:00", "2026-01-07 02:30:00"}}, // 2026-01-01 is a Thursday
		{"0 0 * * MON-wed", nil, "2026-01-01 00:00:00", []string{"2026-01-05 00:00:00", "2026-01-06 00:00:00", "2026-01-07 00:00:00"}},
		{"0 12 1 JAN,jul *", nil, "2026-01-01 12:00:00", []string{"2026-07-01 12:00:00", "2027-01-01 12:00:00"}},
		{"0 0 13 * 5", nil, "2026-01-01 00:00:00", []string{"2026-01-02 00:00:00", "2026-01-09 00:00:00", "2026-01-13 00:00:00"}}, // dom OR dow
		{"0 0 29 2 *", nil, "2026-01-01 00:00:00", []string{"2028-02-29 00:00:00"}},
		{"0 0 30 2 *", nil, "2026-01-01 00:00:00", []string{"0001-01-01 00:00:00"}},
		{"@hourly", nil, "2026-01-01 10:59:59", []string{"2026-01-01 11:00:00", "2026-01-01 12:00:00"}},
		{"@daily", nil, "2026-01-01 10:00:00", []string{"2026-01-02 00:00:00"}},
		{"@weekly", nil, "2026-01-01 10:00:00", []string{"2026-01-04 00:00:00"}},
		{"@monthly", nil, "2026-01-15 10:00:00", []string{"2026-02-01 00:00:00"}},
		{"@yearly", nil, "2026-01-15 10:00:00", []string{"2027-01-01 00:00:00"}},
		{"@every 90s", nil, "2026-01-01 00:00:00", []string{"2026-01-01 00:01:30", "2026-01-01 00:03:00"}},
		// 09:00 in New York is 14:00 UTC in winter, 13:00 UTC in summer.
		{"0 9 * * *", ny, "2026-03-07 00:00:00", []string{"2026-03-07 14:00:00", "2026-03-08 13:00:00"}},
		{"TZ=America/New_York 0 9 * * *", nil, "2026-01-01 00:00:00", []string{"2026-01-01 14:00:00"}},
		// The spring-forward gap: 02:30 does not exist on 2026-03-08.
		{"30 2 * * *", ny, "2026-03-07 12:00:00", []string{"2026-03-09 06:30:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.spec+" from "+tt.from, func(t *testing.T) {
			s, err := ParseStandard(tt.spec, tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			at := utc(tt.from)
			for _, w := range tt.want {
				at = s.Next(at)
				if want := utc(w); !at.Equal(want) && !(at.IsZero() && want.IsZero()) {
					t.Fatalf("next = %v, want %v", at.UTC(), want)
				}
			}
		})
	}
}

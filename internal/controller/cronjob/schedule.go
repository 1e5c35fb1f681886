package cronjob

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed cron schedule: Next returns the first activation
// strictly after t, in t's location. A zero time means none within the
// search bound (e.g. "0 0 30 2 *").
type Schedule interface {
	Next(t time.Time) time.Time
}

// specSchedule is a standard 5-field schedule as bit sets, robfig/cron's
// SpecSchedule (which upstream uses through cron.ParseStandard) without
// seconds.
type specSchedule struct {
	minute, hour, dom, month, dow uint64
	// domStar and dowStar: the field was "*" or "?" (with no step > 1);
	// then the day matches on the other field alone, else on either.
	domStar, dowStar bool
	loc              *time.Location
}

// everySchedule is "@every <duration>": a constant delay, rounded down to
// whole seconds (robfig ConstantDelaySchedule).
type everySchedule struct{ delay time.Duration }

func (s everySchedule) Next(t time.Time) time.Time {
	return t.Add(s.delay - time.Duration(t.Nanosecond()))
}

type bounds struct {
	min, max int
	names    map[string]int
}

var (
	minutes = bounds{0, 59, nil}
	hours   = bounds{0, 23, nil}
	doms    = bounds{1, 31, nil}
	months  = bounds{1, 12, map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	}}
	dows = bounds{0, 6, map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}}
)

// macros are the standard descriptors.
var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// ParseStandard parses a standard cron expression: five fields (minute,
// hour, day of month, month, day of week) of "*", "?", values, names
// (jan–dec, sun–sat, case-insensitive), ranges "a-b", steps "/n" and
// comma lists; 7 is not a day of week (as robfig/cron). Or a macro
// (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly) or
// "@every <duration>". A leading "TZ=<zone>" or "CRON_TZ=<zone>" sets the
// location (the API forbids it, spec.timeZone is the way; the parser
// still reads it, as upstream's). Times are evaluated in loc (nil: UTC).
func ParseStandard(spec string, loc *time.Location) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if loc == nil {
		loc = time.UTC
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		tz, rest, _ := strings.Cut(spec, " ")
		_, name, _ := strings.Cut(tz, "=")
		l, err := time.LoadLocation(name)
		if err != nil {
			return nil, fmt.Errorf("provided bad location %s: %w", name, err)
		}
		loc, spec = l, strings.TrimSpace(rest)
	}
	if strings.HasPrefix(spec, "@every ") {
		d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(spec, "@every ")))
		if err != nil {
			return nil, fmt.Errorf("failed to parse duration %s: %w", spec, err)
		}
		if d < time.Second {
			d = time.Second
		}
		return everySchedule{delay: d - time.Duration(d.Nanoseconds())%time.Second}, nil
	}
	if strings.HasPrefix(spec, "@") {
		m, ok := macros[strings.ToLower(spec)]
		if !ok {
			return nil, fmt.Errorf("unrecognized descriptor: %s", spec)
		}
		spec = m
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return nil, fmt.Errorf("expected exactly 5 fields, found %d: %s", len(fields), spec)
	}
	s := &specSchedule{loc: loc}
	var err error
	if s.minute, _, err = parseField(fields[0], minutes); err != nil {
		return nil, err
	}
	if s.hour, _, err = parseField(fields[1], hours); err != nil {
		return nil, err
	}
	if s.dom, s.domStar, err = parseField(fields[2], doms); err != nil {
		return nil, err
	}
	if s.month, _, err = parseField(fields[3], months); err != nil {
		return nil, err
	}
	if s.dow, s.dowStar, err = parseField(fields[4], dows); err != nil {
		return nil, err
	}
	return s, nil
}

// parseField parses a comma list of ranges into a bit set; star reports a
// bare "*" or "?" (a star with a step > 1 is a range, not a star).
func parseField(field string, b bounds) (bits uint64, star bool, err error) {
	for part := range strings.SplitSeq(field, ",") {
		r, isStar, err := parseRange(part, b)
		if err != nil {
			return 0, false, err
		}
		bits |= r
		star = star || isStar
	}
	return bits, star, nil
}

func parseRange(expr string, b bounds) (uint64, bool, error) {
	rangePart, stepPart, hasStep := strings.Cut(expr, "/")
	var start, end int
	star := false
	if rangePart == "*" || rangePart == "?" {
		start, end, star = b.min, b.max, true
	} else {
		lo, hi, isRange := strings.Cut(rangePart, "-")
		var err error
		if start, err = parseValue(lo, b); err != nil {
			return 0, false, err
		}
		end = start
		if isRange {
			if end, err = parseValue(hi, b); err != nil {
				return 0, false, err
			}
		}
	}
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepPart)
		if err != nil || n <= 0 {
			return 0, false, fmt.Errorf("failed to parse step %q in %q", stepPart, expr)
		}
		step = n
		if !star && !strings.Contains(rangePart, "-") {
			// "N/step" means N through the maximum (robfig).
			end = b.max
		}
		if step > 1 {
			star = false
		}
	}
	switch {
	case start < b.min:
		return 0, false, fmt.Errorf("beginning of range (%d) below minimum (%d): %s", start, b.min, expr)
	case end > b.max:
		return 0, false, fmt.Errorf("end of range (%d) above maximum (%d): %s", end, b.max, expr)
	case start > end:
		return 0, false, fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", start, end, expr)
	}
	var bits uint64
	for i := start; i <= end; i += step {
		bits |= 1 << uint(i)
	}
	return bits, star, nil
}

func parseValue(s string, b bounds) (int, error) {
	if v, ok := b.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("failed to parse int from %q", s)
	}
	return n, nil
}

// Next returns the first activation after t, in t's location (robfig's
// walk: advance the largest unmatched unit, reset the smaller ones; the
// wall clock of loc decides, so DST gaps skip and overlaps repeat once).
func (s *specSchedule) Next(t time.Time) time.Time {
	orig := t.Location()
	t = t.In(s.loc)
	// Start at the next whole minute.
	t = t.Add(time.Minute - time.Duration(t.Second())*time.Second - time.Duration(t.Nanosecond()))
	added := false
	yearLimit := t.Year() + 5
wrap:
	if t.Year() > yearLimit {
		return time.Time{}
	}
	for 1<<uint(t.Month())&s.month == 0 {
		if !added {
			added = true
			t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, s.loc)
		}
		t = t.AddDate(0, 1, 0)
		if t.Month() == time.January {
			goto wrap
		}
	}
	for !s.dayMatches(t) {
		if !added {
			added = true
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, s.loc)
		}
		t = t.AddDate(0, 0, 1)
		// A DST change may leave midnight at 23:00 or 01:00.
		if t.Hour() != 0 {
			if t.Hour() > 12 {
				t = t.Add(time.Duration(24-t.Hour()) * time.Hour)
			} else {
				t = t.Add(time.Duration(-t.Hour()) * time.Hour)
			}
		}
		if t.Day() == 1 {
			goto wrap
		}
	}
	for 1<<uint(t.Hour())&s.hour == 0 {
		if !added {
			added = true
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, s.loc)
		}
		t = t.Add(time.Hour)
		if t.Hour() == 0 {
			goto wrap
		}
	}
	for 1<<uint(t.Minute())&s.minute == 0 {
		if !added {
			added = true
			t = t.Truncate(time.Minute)
		}
		t = t.Add(time.Minute)
		if t.Minute() == 0 {
			goto wrap
		}
	}
	return t.In(orig)
}

// dayMatches: with either day field a star, both must match; else either
// (the cron rule).
func (s *specSchedule) dayMatches(t time.Time) bool {
	dom := 1<<uint(t.Day())&s.dom > 0
	dow := 1<<uint(t.Weekday())&s.dow > 0
	if s.domStar || s.dowStar {
		return dom && dow
	}
	return dom || dow
}

package embedded

import (
	"context"
	"log/slog"
	"maps"
	"slices"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newZapLogger returns the zap logger etcd insists on, writing into log at
// level and above, or a no-op logger when log is nil, so that nothing
// reaches stderr unless the caller asked for it.
func newZapLogger(log *slog.Logger, level zapcore.Level) *zap.Logger {
	if log == nil {
		return zap.NewNop()
	}
	return zap.New(&slogCore{log: log, level: level})
}

// slogCore is a zapcore.Core that forwards entries to a *slog.Logger. etcd
// logs through zap only; this keeps terminus on one logger (DESIGN §4).
type slogCore struct {
	log    *slog.Logger
	level  zapcore.Level
	fields []zapcore.Field
}

func (c *slogCore) Enabled(l zapcore.Level) bool { return l >= c.level }

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{log: c.log, level: c.level, fields: append(c.fields[:len(c.fields):len(c.fields)], fields...)}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if benign(e) {
		// Demoted after Check let it through at its own level: it must
		// pass the core's level again as a debug entry.
		e.Level = zapcore.DebugLevel
		if !c.Enabled(e.Level) {
			return nil
		}
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	attrs := make([]slog.Attr, 0, len(enc.Fields)+1)
	if e.LoggerName != "" {
		attrs = append(attrs, slog.String("logger", e.LoggerName))
	}
	for _, k := range sortedKeys(enc.Fields) {
		attrs = append(attrs, slog.Any(k, enc.Fields[k]))
	}
	c.log.LogAttrs(context.Background(), slogLevel(e.Level), e.Message, attrs...)
	return nil
}

func (c *slogCore) Sync() error { return nil }

func sortedKeys(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

// benign reports etcd errors that are expected and harmless in terminus'
// use: on a fresh single member, etcd tries to record its storage version
// before the first raft term is persisted, logs an error, and succeeds on
// its next attempt. Such entries are demoted to debug so that a clean
// start prints nothing.
func benign(e zapcore.Entry) bool {
	return e.Message == "failed to update storage version"
}

package node

import (
	"os"
	"testing"
)

func TestMemTotal(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content string
		want          int64
		wantErr       bool
	}{
		{"kB to bytes", "MemTotal:       16384 kB\nMemFree: 1 kB\n", 16384 * 1024, false},
		{"missing", "MemFree: 1 kB\n", 0, true},
		{"garbage", "MemTotal: x kB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := dir + "/" + tt.name
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := memTotal(p)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("memTotal = %d, %v; want %d, err %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

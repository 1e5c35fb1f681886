package memory

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestKeyIndexMatchesSortedSlice drives the chunked index and a plain
// sorted slice with the same random inserts and removals, across chunk
// splits and emptied chunks.
func TestKeyIndexMatchesSortedSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var x keyIndex
	var want []string
	present := map[string]bool{}
	for range 20000 {
		k := fmt.Sprintf("/k/%d", rng.IntN(5000))
		if present[k] && rng.IntN(3) == 0 {
			x.remove(k)
			i, _ := slices.BinarySearch(want, k)
			want = slices.Delete(want, i, i+1)
			delete(present, k)
			continue
		}
		if !present[k] {
			x.insert(k)
			i, _ := slices.BinarySearch(want, k)
			want = slices.Insert(want, i, k)
			present[k] = true
		}
	}
	var got []string
	x.ascend("", func(k string) bool { got = append(got, k); return true })
	if !slices.Equal(got, want) {
		t.Fatalf("index holds %d keys, want %d (or order differs)", len(got), len(want))
	}
	for _, c := range x.chunks {
		if len(c) == 0 || len(c) > chunkMax {
			t.Fatalf("chunk of %d keys", len(c))
		}
	}
	// Ascend from a key between keys, and stop early.
	start := "/k/25"
	i, _ := slices.BinarySearch(want, start)
	var from []string
	x.ascend(start, func(k string) bool { from = append(from, k); return len(from) < 10 })
	if !slices.Equal(from, want[i:i+10]) {
		t.Fatalf("ascend from %s: %q, want %q", start, from, want[i:i+10])
	}
	x.remove("/absent")
}

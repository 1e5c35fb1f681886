package memory

import (
	"slices"
	"sort"
)

// chunkMax bounds a chunk of the key index: an insert or a removal moves
// at most this many strings, whatever the number of keys.
const chunkMax = 512

// keyIndex is the sorted set of keys, kept as a list of sorted chunks (a
// two-level B-tree, in effect). A single sorted slice costs a memmove of
// the whole index per new key, which at a million keys is most of the
// time of a create; chunks keep inserts O(log n + chunkMax) and ordered
// scans from any key O(log n) to start.
type keyIndex struct {
	chunks [][]string // non-empty, sorted, each chunk's keys below the next's
}

// find returns the position of the first key >= k: the chunk, and the
// index in it. c == len(x.chunks) when every key is below k.
func (x *keyIndex) find(k string) (c, i int) {
	c = sort.Search(len(x.chunks), func(j int) bool {
		ch := x.chunks[j]
		return ch[len(ch)-1] >= k
	})
	if c == len(x.chunks) {
		return c, 0
	}
	return c, sort.SearchStrings(x.chunks[c], k)
}

// insert adds k, which must not be present.
func (x *keyIndex) insert(k string) {
	if len(x.chunks) == 0 {
		x.chunks = [][]string{{k}}
		return
	}
	c, i := x.find(k)
	if c == len(x.chunks) {
		c--
		i = len(x.chunks[c])
	}
	ch := slices.Insert(x.chunks[c], i, k)
	if len(ch) <= chunkMax {
		x.chunks[c] = ch
		return
	}
	half := len(ch) / 2
	right := slices.Clone(ch[half:])
	clear(ch[half:])
	x.chunks[c] = ch[:half]
	x.chunks = slices.Insert(x.chunks, c+1, right)
}

// remove deletes k if present.
func (x *keyIndex) remove(k string) {
	c, i := x.find(k)
	if c == len(x.chunks) || x.chunks[c][i] != k {
		return
	}
	ch := slices.Delete(x.chunks[c], i, i+1)
	if len(ch) == 0 {
		x.chunks = slices.Delete(x.chunks, c, c+1)
		return
	}
	x.chunks[c] = ch
}

// ascend calls fn with every key >= start in order until fn returns false.
func (x *keyIndex) ascend(start string, fn func(string) bool) {
	c, i := x.find(start)
	for ; c < len(x.chunks); c, i = c+1, 0 {
		for _, k := range x.chunks[c][i:] {
			if !fn(k) {
				return
			}
		}
	}
}

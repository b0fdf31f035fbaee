package headwater

import (
	"sync"
	"sync/atomic"
)

// The table of pending sends: what a delivery's context (an integer, never a Go pointer) stands for.
// It has runtime/cgo.Handle's contract (an integer for C, resolved and released once on the Go
// side) without its cost: cgo.Handle's sync.Map took about a third of the send path's CPU (hashing,
// trie growth), where a slot index in a sharded slice is a few nanoseconds. Consecutive handles
// share a shard (blocks of handleRun), so a sender keeps one shard's lock and slots in its cache and
// the delivery of a batch takes its records' handles under few lock acquisitions.
const (
	handleShardBits = 5
	handleShards    = 1 << handleShardBits
	handleRun       = 64
)

type handleShard struct {
	mu    sync.Mutex
	slots []*ProduceOutput
	free  []uint32 // indices of empty slots
	_     [64]byte // keeps shards on their own cache lines
}

var (
	handleTable [handleShards]handleShard
	handleNext  atomic.Uint32
)

// newHandle files out and returns its handle (never 0).
func newHandle(out *ProduceOutput) uintptr {
	shard := (handleNext.Add(1) / handleRun) & (handleShards - 1)
	s := &handleTable[shard]
	s.mu.Lock()
	var i uint32
	if n := len(s.free); n > 0 {
		i = s.free[n-1]
		s.free = s.free[:n-1]
		s.slots[i] = out
	} else {
		i = uint32(len(s.slots))
		s.slots = append(s.slots, out)
	}
	s.mu.Unlock()
	return (uintptr(i)<<handleShardBits | uintptr(shard)) + 1
}

// takeHandle returns what h stands for and releases h (each handle is taken exactly once).
func takeHandle(h uintptr) *ProduceOutput {
	var out [1]*ProduceOutput
	takeHandles(func(int) uintptr { return h }, 1, out[:])
	return out[0]
}

// takeHandles releases the n handles handle(0..n-1) into outs (len(outs) >= n), locking each shard
// once per run of handles in it.
func takeHandles(handle func(i int) uintptr, n int, outs []*ProduceOutput) {
	var s *handleShard
	for i := 0; i < n; i++ {
		h := handle(i) - 1
		if next := &handleTable[h&(handleShards-1)]; next != s {
			if s != nil {
				s.mu.Unlock()
			}
			s = next
			s.mu.Lock()
		}
		idx := uint32(h >> handleShardBits)
		outs[i] = s.slots[idx]
		s.slots[idx] = nil
		s.free = append(s.free, idx)
	}
	if s != nil {
		s.mu.Unlock()
	}
}

// pendingHandles counts the filed outputs (tests: none may be left once every send has completed).
func pendingHandles() int {
	n := 0
	for i := range handleTable {
		s := &handleTable[i]
		s.mu.Lock()
		n += len(s.slots) - len(s.free)
		s.mu.Unlock()
	}
	return n
}

package headwater

// #include <stdlib.h>
// #include "headwater.h"
import "C"

import (
	"strconv"
	"unsafe"
)

// pairs are string options for the C ABI's keys/values arrays, in order.
type pairs [][2]string

// cPairs copies ps into C strings: keys and values arrays (Go memory holding C pointers only) and a
// function that frees them.
func cPairs(ps pairs) (keys, values []*C.char, free func(), err error) {
	keys = make([]*C.char, len(ps)+1)
	values = make([]*C.char, len(ps)+1)
	free = func() {
		for i := range ps {
			C.free(unsafe.Pointer(keys[i]))
			C.free(unsafe.Pointer(values[i]))
		}
	}
	for i, kv := range ps {
		if keys[i], err = cString("option key", kv[0]); err == nil {
			values[i], err = cString(kv[0], kv[1])
		}
		if err != nil {
			free()
			return nil, nil, nil, err
		}
	}
	return keys, values, free, nil
}

// TopicOptions are the options of a new topic (TestBroker.CreateTopic, Admin.CreateTopic).
type TopicOptions struct {
	// Partitions is the partition count: 1 to 2147483647 (the broker's limit is 1024). It is always
	// passed, so 0 (the zero value) is refused: INVALID_ARGUMENT.
	Partitions int
	// Replication is the replication factor (1 to 2147483647; more than the cluster's SPUs is BROKER
	// 2005); nil = 1.
	Replication *int
	// Compression is the topic's policy: "any" ("" = any: each producer picks) or "none", "gzip",
	// "snappy", "lz4", "zstd" (producers must then use that codec).
	Compression string
	// RetentionSecs is the retention time in seconds; nil = the cluster's.
	RetentionSecs *int64
	// SegmentSize is the segment size in bytes; nil = the cluster's.
	SegmentSize *int64
	// MaxPartitionSize is the largest partition size in bytes before old segments are deleted; nil =
	// the cluster's.
	MaxPartitionSize *int64
}

// pairs are the options as core's string options; numbers go as given, so core reports one out of
// range as the caller wrote it.
func (o TopicOptions) pairs() pairs {
	ps := pairs{{"partitions", strconv.Itoa(o.Partitions)}}
	if o.Replication != nil {
		ps = append(ps, [2]string{"replication", strconv.Itoa(*o.Replication)})
	}
	if o.Compression != "" {
		ps = append(ps, [2]string{"compression", o.Compression})
	}
	for _, n := range []struct {
		key string
		v   *int64
	}{{"retention_secs", o.RetentionSecs}, {"segment_size", o.SegmentSize}, {"max_partition_size", o.MaxPartitionSize}} {
		if n.v != nil {
			ps = append(ps, [2]string{n.key, strconv.FormatInt(*n.v, 10)})
		}
	}
	return ps
}

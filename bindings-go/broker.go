package headwater

// #include <stdlib.h>
// #include "headwater.h"
import "C"

import (
	"math"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

// BrokerOptions are the options of an embedded broker (StartTestBroker); the zero value is one SPU
// keeping records in memory.
type BrokerOptions struct {
	// Spus is the number of SPUs, 1 to 1024; 0 = 1.
	Spus int
	// DataDir is a directory for durable segment files; "" = in memory.
	DataDir string
	// Sync is when a durable broker fsyncs: "request" (the default: every produce request), "never",
	// or an interval ("250", "250ms", "2s").
	Sync string
	// TLSCert and TLSKey are PEM files (both or neither): every listener serves TLS.
	TLSCert string
	TLSKey  string
	// TLSClientCA is a PEM CA: clients must present a certificate it signed (mutual TLS).
	TLSClientCA string
}

func (o BrokerOptions) pairs() pairs {
	var ps pairs
	if o.Spus != 0 {
		ps = append(ps, [2]string{"spus", strconv.Itoa(o.Spus)})
	}
	for _, kv := range [][2]string{{"data_dir", o.DataDir}, {"sync", o.Sync}, {"tls_cert", o.TLSCert},
		{"tls_key", o.TLSKey}, {"tls_client_ca", o.TLSClientCA}} {
		if kv[1] != "" {
			ps = append(ps, kv)
		}
	}
	return ps
}

// TestBroker is an embedded Fluvio-protocol broker (SC and SPUs) on free loopback ports, for tests
// and demos, with fault injection. Stop it when done (one the garbage collector finds running is
// stopped). Its methods are safe for concurrent use; after Stop they fail with CLOSED.
type TestBroker struct {
	mu       sync.RWMutex // calls (read) against Stop (write)
	ptr      *C.hw_broker
	endpoint string
}

// StartTestBroker starts a broker. A bad option is CONFIG naming it.
func StartTestBroker(opts BrokerOptions) (*TestBroker, error) {
	keys, values, free, err := cPairs(opts.pairs())
	if err != nil {
		return nil, err
	}
	defer free()
	var out *C.hw_broker
	if err := takeError(C.hw_broker_start_with(&keys[0], &values[0], C.size_t(len(keys)-1), &out)); err != nil {
		return nil, err
	}
	b := &TestBroker{ptr: out, endpoint: C.GoString(C.hw_broker_endpoint(out))}
	runtime.SetFinalizer(b, (*TestBroker).Stop)
	return b, nil
}

// Endpoint is the SC endpoint ("127.0.0.1:PORT") producers and admins connect to.
func (b *TestBroker) Endpoint() string { return b.endpoint }

// Stop stops every listener and connection and frees the broker; clients then fail with TRANSPORT.
// Stopping twice is fine.
func (b *TestBroker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ptr != nil {
		C.hw_broker_stop(b.ptr)
		b.ptr = nil
		runtime.SetFinalizer(b, nil)
	}
}

// call runs f with the broker unless it was stopped.
func (b *TestBroker) call(f func(*C.hw_broker) *C.hw_error) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.ptr == nil {
		return newError(ErrClosed, "the broker was stopped")
	}
	return takeError(f(b.ptr))
}

// withName runs f with name as a C string.
func (b *TestBroker) withName(what, name string, f func(*C.hw_broker, *C.char) *C.hw_error) error {
	cname, err := cString(what, name)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cname))
	return b.call(func(p *C.hw_broker) *C.hw_error { return f(p, cname) })
}

// CreateTopic creates a topic in the broker directly, with the outcomes of Admin.CreateTopic: an
// existing topic is BROKER 2002, an invalid name BROKER 2006, a count out of range INVALID_ARGUMENT.
func (b *TestBroker) CreateTopic(name string, opts TopicOptions) error {
	keys, values, free, err := cPairs(opts.pairs())
	if err != nil {
		return err
	}
	defer free()
	return b.withName("name", name, func(p *C.hw_broker, cname *C.char) *C.hw_error {
		return C.hw_broker_create_topic_with(p, cname, &keys[0], &values[0], C.size_t(len(keys)-1))
	})
}

// DeleteTopic deletes a topic and its records; an unknown one is UNKNOWN_TOPIC.
func (b *TestBroker) DeleteTopic(name string) error {
	return b.withName("name", name, func(p *C.hw_broker, cname *C.char) *C.hw_error {
		return C.hw_broker_delete_topic(p, cname)
	})
}

// StoredRecord is a record as the broker stores it.
type StoredRecord struct {
	Offset int64
	// Key is nil for a record without a key (an empty key is present and empty).
	Key   []byte
	Value []byte
	// Timestamp is milliseconds since the epoch (-1 if the batch carried none).
	Timestamp int64
	// Compression is the codec of the batch that carried it: none, gzip, snappy, lz4 or zstd.
	Compression string
	// BatchBaseOffset is the base offset of that batch (records of one batch share it).
	BatchBaseOffset int64
}

// Records is what the broker stores for topic/partition from fromOffset on (0 = everything), in
// offset order. An unknown topic is UNKNOWN_TOPIC, an unknown partition UNKNOWN_PARTITION.
func (b *TestBroker) Records(topic string, partition uint32, fromOffset int64) ([]StoredRecord, error) {
	var out []StoredRecord
	err := b.withName("topic", topic, func(p *C.hw_broker, ctopic *C.char) *C.hw_error {
		var list *C.hw_record_list
		if e := C.hw_broker_records(p, ctopic, C.uint32_t(partition), C.int64_t(fromOffset), &list); e != nil {
			return e
		}
		defer C.hw_record_list_free(list)
		n := int(C.hw_record_list_len(list))
		out = make([]StoredRecord, n)
		for i := 0; i < n; i++ {
			var r C.hw_stored_record
			if e := C.hw_record_list_get(list, C.size_t(i), &r); e != nil {
				return e
			}
			s := &out[i]
			s.Offset = int64(r.offset)
			if r.key != nil {
				s.Key = C.GoBytes(unsafe.Pointer(r.key), C.int(r.key_len))
			}
			s.Value = C.GoBytes(unsafe.Pointer(r.value), C.int(r.value_len))
			s.Timestamp = int64(r.timestamp)
			s.Compression = C.GoString(r.compression)
			s.BatchBaseOffset = int64(r.batch_base_offset)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Offsets is the log start offset and the log end offset (the next offset to be written) of
// topic/partition.
func (b *TestBroker) Offsets(topic string, partition uint32) (start, end int64, err error) {
	var s, e C.int64_t
	err = b.withName("topic", topic, func(p *C.hw_broker, ctopic *C.char) *C.hw_error {
		return C.hw_broker_offsets(p, ctopic, C.uint32_t(partition), &s, &e)
	})
	return int64(s), int64(e), err
}

// Leader is the id of the SPU leading topic/partition.
func (b *TestBroker) Leader(topic string, partition uint32) (int32, error) {
	var id C.int32_t
	err := b.withName("topic", topic, func(p *C.hw_broker, ctopic *C.char) *C.hw_error {
		return C.hw_broker_leader(p, ctopic, C.uint32_t(partition), &id)
	})
	return int32(id), err
}

// HighWatermark is the offset below which every in-sync replica holds topic/partition's records.
func (b *TestBroker) HighWatermark(topic string, partition uint32) (int64, error) {
	var hw C.int64_t
	err := b.withName("topic", topic, func(p *C.hw_broker, ctopic *C.char) *C.hw_error {
		return C.hw_broker_high_watermark(p, ctopic, C.uint32_t(partition), &hw)
	})
	return int64(hw), err
}

// Pause holds every produce request (all SPUs) unanswered until Resume.
func (b *TestBroker) Pause() error {
	return b.call(func(p *C.hw_broker) *C.hw_error { return C.hw_broker_pause(p) })
}

// Resume serves the held produce requests and the later ones again.
func (b *TestBroker) Resume() error {
	return b.call(func(p *C.hw_broker) *C.hw_error { return C.hw_broker_resume(p) })
}

// SPUIDs are the ids of the broker's SPUs (5001, 5002, ...), in order.
func (b *TestBroker) SPUIDs() ([]int32, error) {
	var ids []int32
	err := b.call(func(p *C.hw_broker) *C.hw_error {
		for i := 0; ; i++ {
			var id C.int32_t
			e := C.hw_broker_spu_id(p, C.uint32_t(i), &id)
			if e != nil {
				if i > 0 && C.hw_error_number(e) == C.HW_ERROR_KIND_INVALID_ARGUMENT {
					C.hw_error_free(e) // past the last one
					return nil
				}
				return e
			}
			ids = append(ids, int32(id))
		}
	})
	return ids, err
}

// PauseSPU holds the produce requests of one SPU until ResumeSPU; an unknown id is INVALID_ARGUMENT.
func (b *TestBroker) PauseSPU(id int32) error {
	return b.call(func(p *C.hw_broker) *C.hw_error { return C.hw_broker_pause_spu(p, C.int32_t(id)) })
}

// ResumeSPU resumes an SPU paused by PauseSPU.
func (b *TestBroker) ResumeSPU(id int32) error {
	return b.call(func(p *C.hw_broker) *C.hw_error { return C.hw_broker_resume_spu(p, C.int32_t(id)) })
}

// StopSPU stops one SPU: its partitions fail over to an in-sync follower, or wait offline.
func (b *TestBroker) StopSPU(id int32) error {
	return b.call(func(p *C.hw_broker) *C.hw_error { return C.hw_broker_stop_spu(p, C.int32_t(id)) })
}

// StartSPU starts a stopped SPU again on the same port.
func (b *TestBroker) StartSPU(id int32) error {
	return b.call(func(p *C.hw_broker) *C.hw_error { return C.hw_broker_start_spu(p, C.int32_t(id)) })
}

// FailNext is fault injection: the next count requests of apiKey (0 = Produce) on any SPU are
// answered with the Fluvio error code (e.g. 6 NotLeaderForPartition, 56 StorageError); count 0
// clears.
func (b *TestBroker) FailNext(apiKey uint16, count uint32, code int16) error {
	return b.call(func(p *C.hw_broker) *C.hw_error {
		return C.hw_broker_fail_next(p, C.uint16_t(apiKey), C.uint32_t(count), C.int16_t(code))
	})
}

// DropNext is fault injection: the next count requests of apiKey close their connection unanswered;
// count 0 clears.
func (b *TestBroker) DropNext(apiKey uint16, count uint32) error {
	return b.call(func(p *C.hw_broker) *C.hw_error {
		return C.hw_broker_drop_next(p, C.uint16_t(apiKey), C.uint32_t(count))
	})
}

// Delay is fault injection: every request of apiKey waits d (whole milliseconds) before it is served;
// 0 clears.
func (b *TestBroker) Delay(apiKey uint16, d time.Duration) error {
	ms := d.Milliseconds()
	if ms < 0 || ms > math.MaxUint32 {
		return rangeError("delay_ms", 0, math.MaxUint32, ms)
	}
	return b.call(func(p *C.hw_broker) *C.hw_error {
		return C.hw_broker_delay(p, C.uint16_t(apiKey), C.uint32_t(ms))
	})
}

// BrokerStats are the broker's counters.
type BrokerStats struct {
	ProduceRequests  uint64 // produce requests received by the SPUs
	BatchesAppended  uint64 // batches appended to partition logs
	RecordsAppended  uint64 // records appended to partition logs
	BytesAppended    uint64 // bytes appended to partition logs
	Fsyncs           uint64 // fsyncs of segment files (0 in memory)
	SegmentsDeleted  uint64 // segments deleted by retention
	TruncatedBytes   uint64 // torn or unreachable bytes dropped when a log was recovered
	Connections      uint64 // client connections open now (gauge)
	ConnectionsTotal uint64 // client connections accepted so far
	RejectedFrames   uint64 // request frames refused (too large, undecodable)
	FetchResponses   uint64 // fetch responses sent
}

// Stats returns the broker's counters.
func (b *TestBroker) Stats() (BrokerStats, error) {
	var s C.hw_broker_counters
	if err := b.call(func(p *C.hw_broker) *C.hw_error { return C.hw_broker_stats(p, &s) }); err != nil {
		return BrokerStats{}, err
	}
	return BrokerStats{
		ProduceRequests:  uint64(s.produce_requests),
		BatchesAppended:  uint64(s.batches_appended),
		RecordsAppended:  uint64(s.records_appended),
		BytesAppended:    uint64(s.bytes_appended),
		Fsyncs:           uint64(s.fsyncs),
		SegmentsDeleted:  uint64(s.segments_deleted),
		TruncatedBytes:   uint64(s.truncated_bytes),
		Connections:      uint64(s.connections),
		ConnectionsTotal: uint64(s.connections_total),
		RejectedFrames:   uint64(s.rejected_frames),
		FetchResponses:   uint64(s.fetch_responses),
	}, nil
}

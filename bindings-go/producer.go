package headwater

// #include <stdlib.h>
// #include "hwgo.h"
import "C"

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Config is a producer configuration: the keys of every language (snake_case, or camelCase) with
// values in their string form ("10", "lz4"); README "Configuration" lists them. Core validates it
// when connecting: an unknown key or a bad value is CONFIG naming the key. nil means the defaults.
type Config map[string]string

// Producer sends records to one topic: partitioning, batching, compression and delivery happen in
// core. Every method is safe for concurrent use. Close it when done: Close releases its connections
// and memory. A producer the garbage collector finds unclosed is stopped, and its unsent records
// fail with CLOSED, with a warning in the log.
type Producer struct {
	c *producerCore
}

// producerCore is what the pending records keep: they must not keep the Producer itself alive, or a
// producer dropped without Close would never be collected while records are pending.
type producerCore struct {
	topic string
	// mu: every call on ptr holds it for reading, hw_producer_free for writing.
	mu  sync.RWMutex
	ptr *C.hw_producer // nil once freed
	// outputs is the unused rest of a block of ProduceOutputs, handed out one per Send: one
	// allocation per outputBlock records instead of one per record (the collector's cost is per
	// object). A block stays allocated while any of its outputs is referenced.
	outputsMu sync.Mutex
	outputs   []ProduceOutput
	// What the accessors answer once the producer is freed.
	final struct {
		stats       ProducerStats
		partitions  uint32
		compression string
	}
}

// errClosed is a send to a producer that Close has freed (core's words for a closed producer).
var errClosed = newError(ErrClosed, "the producer is closed")

// Connect connects a producer for topic to the SC at endpoint ("host:port") and waits for the
// topic's metadata (at most metadata_timeout_ms, and as long as ctx allows). A bad config key or
// value is CONFIG naming the key; a topic the cluster does not have, UNKNOWN_TOPIC; an unreachable
// endpoint, TRANSPORT.
func Connect(ctx context.Context, endpoint, topic string, cfg Config) (*Producer, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	ccfg, err := newConfig(cfg)
	if err != nil {
		return nil, err
	}
	cend, err := cString("endpoint", endpoint)
	if err != nil {
		C.hw_config_free(ccfg)
		return nil, err
	}
	ctopic, err := cString("topic", topic)
	if err != nil {
		C.hw_config_free(ccfg)
		C.free(unsafe.Pointer(cend))
		return nil, err
	}
	if err := ctxReady(ctx, "connect"); err != nil {
		C.hw_config_free(ccfg)
		C.free(unsafe.Pointer(cend))
		C.free(unsafe.Pointer(ctopic))
		return nil, err
	}
	var out *C.hw_producer
	err = blockingCall(ctx, "connect", func() error {
		// Freed by the call, which may outlive Connect when ctx ends first.
		defer C.hw_config_free(ccfg)
		defer C.free(unsafe.Pointer(cend))
		defer C.free(unsafe.Pointer(ctopic))
		return takeError(C.hw_producer_connect(cend, ctopic, ccfg, &out))
	}, func(err error) {
		if err == nil { // connected after the context ended: nobody will use it
			C.hw_error_free(C.hw_producer_close(out, C.HW_NO_WAIT))
			C.hw_error_free(C.hw_producer_free(out))
		}
	})
	if err != nil {
		return nil, err
	}
	p := &Producer{c: &producerCore{topic: topic, ptr: out}}
	runtime.SetFinalizer(p, func(p *Producer) {
		// Freeing waits for the pending delivery callbacks: not on the finalizer goroutine.
		go p.c.free()
	})
	return p, nil
}

// newConfig builds a C configuration from cfg, key by key in sorted order (so the key an error names
// does not depend on map order). The caller frees it.
func newConfig(cfg Config) (*C.hw_config, error) {
	c := C.hw_config_new()
	if c == nil {
		return nil, newError(ErrInternal, "hw_config_new: out of memory")
	}
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ck, err := cString("config key", k)
		if err != nil {
			C.hw_config_free(c)
			return nil, err
		}
		cv, err := cString(k, cfg[k])
		if err != nil {
			C.free(unsafe.Pointer(ck))
			C.hw_config_free(c)
			return nil, err
		}
		e := C.hw_config_set(c, ck, cv)
		C.free(unsafe.Pointer(ck))
		C.free(unsafe.Pointer(cv))
		if e != nil {
			C.hw_config_free(c)
			return nil, takeError(e)
		}
	}
	return c, nil
}

// checkConfig validates cfg with core's parser without connecting (tests).
func checkConfig(cfg Config) error {
	c, err := newConfig(cfg)
	if err == nil {
		C.hw_config_free(c)
	}
	return err
}

// free frees the C producer (stopping it if it is open: core then logs how many records were
// unsent, and their outputs fail with CLOSED), after the calls in progress. It waits for the pending
// delivery callbacks.
func (c *producerCore) free() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr == nil {
		return
	}
	c.final.stats = statsOf(c.ptr)
	c.final.partitions = uint32(C.hw_producer_partition_count(c.ptr))
	c.final.compression = C.GoString(C.hw_producer_compression(c.ptr))
	if err := takeError(C.hw_producer_free(c.ptr)); err != nil {
		logInternal(LogWarn, "headwater::go", "freeing a producer: "+err.Error())
	}
	c.ptr = nil
}

// sendNow sends the batch of partition with that id now if it is still open (a caller started
// waiting on one of its records); a batch already sent is left alone.
func (c *producerCore) sendNow(partition uint32, batch uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.ptr != nil {
		C.hw_error_free(C.hw_producer_send_now(c.ptr, C.uint32_t(partition), C.uint64_t(batch)))
	}
}

// Topic is the topic this producer sends to.
func (p *Producer) Topic() string { return p.c.topic }

// PartitionCount is the topic's partition count as last seen in the metadata.
func (p *Producer) PartitionCount() uint32 {
	c := p.c
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.ptr == nil {
		return c.final.partitions
	}
	return uint32(C.hw_producer_partition_count(c.ptr))
}

// Compression is the codec batches are compressed with (configuration and topic policy combined):
// "none", "gzip", "snappy", "lz4" or "zstd".
func (p *Producer) Compression() string {
	c := p.c
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.ptr == nil {
		return c.final.compression
	}
	return C.GoString(C.hw_producer_compression(c.ptr))
}

// Closed reports whether Close has started (later sends fail with CLOSED).
func (p *Producer) Closed() bool {
	c := p.c
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ptr == nil || bool(C.hw_producer_is_closed(c.ptr))
}

// Record is a record with options, for SendRecord and SendAll.
type Record struct {
	// Key: nil = no key (round-robin); a non-nil empty slice is an empty key (hashed).
	Key   []byte
	Value []byte
	// Partition is an explicit partition, or nil for the partitioner.
	Partition *uint32
	// Timestamp is milliseconds since the epoch; 0 = now.
	Timestamp int64
}

// Send sends one record to the partition the partitioner picks and returns at once (it blocks only
// while the partition's queue is full, at most send_timeout_ms: then QUEUE_FULL). A refused send
// (RECORD_TOO_LARGE, CLOSED, ...) enqueues nothing and is not reported again by Flush or Close. The
// bytes are copied before it returns.
func (p *Producer) Send(key, value []byte) (*ProduceOutput, error) {
	return p.send(key, value, -1, -1)
}

// SendTo sends one record to partition (overriding the partitioner); a partition at or past the
// partition count is UNKNOWN_PARTITION.
func (p *Producer) SendTo(partition uint32, key, value []byte) (*ProduceOutput, error) {
	return p.send(key, value, int64(partition), -1)
}

// SendRecord sends one record with its options (explicit partition, timestamp).
func (p *Producer) SendRecord(r Record) (*ProduceOutput, error) {
	partition, ts, err := recordOptions(&r)
	if err != nil {
		return nil, err
	}
	return p.send(r.Key, r.Value, partition, ts)
}

// recordOptions maps a Record's options to the C conventions (-1 = partitioner / now).
func recordOptions(r *Record) (partition, timestamp int64, err error) {
	partition, timestamp = -1, -1
	if r.Partition != nil {
		partition = int64(*r.Partition)
	}
	switch {
	case r.Timestamp < 0:
		return 0, 0, rangeError("timestamp", 0, math.MaxInt64, r.Timestamp)
	case r.Timestamp > 0:
		timestamp = r.Timestamp
	}
	return partition, timestamp, nil
}

// bytesPtr is b's data for C: NULL for a nil slice, a valid pointer for an empty non-nil one (an
// empty key is not no key).
func bytesPtr(b []byte) *C.uint8_t {
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b)))
}

// outputBlock is how many ProduceOutputs one allocation holds (about 6 KiB).
const outputBlock = 64

// newOutput returns a fresh ProduceOutput of c.
func (c *producerCore) newOutput() *ProduceOutput {
	c.outputsMu.Lock()
	if len(c.outputs) == 0 {
		c.outputs = make([]ProduceOutput, outputBlock)
	}
	out := &c.outputs[0]
	c.outputs = c.outputs[1:]
	c.outputsMu.Unlock()
	out.core = c
	return out
}

func (p *Producer) send(key, value []byte, partition, timestamp int64) (*ProduceOutput, error) {
	c := p.c
	out := c.newOutput()
	h := newHandle(out)
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		takeHandle(h)
		return nil, errClosed
	}
	sent := C.hwgo_send(c.ptr, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)),
		C.int64_t(partition), C.int64_t(timestamp), C.uintptr_t(h))
	c.mu.RUnlock()
	if sent.err != nil {
		takeHandle(h) // refused: never reported
		return nil, takeError(sent.err)
	}
	out.partition, out.batch = uint32(sent.partition), uint64(sent.batch)
	return out, nil
}

// notSent marks the partitions entries of records hw_producer_send_records did not send.
const notSent = math.MaxUint32

// SendAll sends many records in one call and returns one output per record, in order. Every record's
// size is checked first: one larger than max_request_size refuses the whole call (RECORD_TOO_LARGE)
// and nothing is sent. A failure while sending (a full queue, an unknown partition, CLOSED) stops
// there and is returned; the records before it were sent and are reported by the next Flush or Close.
func (p *Producer) SendAll(records []Record) ([]*ProduceOutput, error) {
	n := len(records)
	total := 1 // never empty: an empty key needs a non-NULL pointer
	for i := range records {
		total += len(records[i].Key) + len(records[i].Value)
	}
	buf := make([]byte, total)
	recs := make([]C.hwgo_record, n+1)
	ctxs := make([]C.uintptr_t, n+1)
	parts := make([]C.uint32_t, n+1)
	batches := make([]C.uint64_t, n+1)
	outs := make([]*ProduceOutput, n)
	// One allocation for the call's outputs, not one per record (the collector's work is per object).
	slab := make([]ProduceOutput, n)
	off := 0
	for i := range records {
		r := &records[i]
		partition, ts, err := recordOptions(r)
		if err != nil {
			for _, h := range ctxs[:i] {
				takeHandle(uintptr(h))
			}
			return nil, err
		}
		rec := &recs[i]
		rec.key_off = -1
		if r.Key != nil {
			rec.key_off = C.int64_t(off)
			off += copy(buf[off:], r.Key)
		}
		rec.key_len = C.size_t(len(r.Key))
		rec.value_off = C.size_t(off)
		off += copy(buf[off:], r.Value)
		rec.value_len = C.size_t(len(r.Value))
		rec.partition = C.int64_t(partition)
		rec.timestamp = C.int64_t(ts)
		slab[i].core = p.c
		outs[i] = &slab[i]
		ctxs[i] = C.uintptr_t(newHandle(outs[i]))
		parts[i] = notSent
	}
	var err error
	c := p.c
	c.mu.RLock()
	if c.ptr == nil {
		err = errClosed
	} else {
		err = takeError(C.hwgo_send_all(c.ptr, (*C.uint8_t)(&buf[0]), &recs[0], C.size_t(n), &ctxs[0], &parts[0],
			&batches[0]))
	}
	c.mu.RUnlock()
	if err != nil {
		for i := 0; i < n; i++ {
			if parts[i] == notSent { // not sent: never reported
				takeHandle(uintptr(ctxs[i]))
			}
		}
		return nil, err
	}
	for i, o := range outs {
		o.partition, o.batch = uint32(parts[i]), uint64(batches[i])
	}
	return outs, nil
}

// Flush seals every open batch and waits until every record sent before it is acknowledged or
// failed. It returns the first delivery failure since the last Flush or Close, once (also when that
// record's output was waited on), or TIMEOUT when ctx ends first (nothing is dropped). An expired
// ctx does not wait: it seals, then returns TIMEOUT if anything is pending.
func (p *Producer) Flush(ctx context.Context) error {
	return waitCall(ctx, "flush", p.c.call(func(cp *C.hw_producer, ms C.uint32_t) *C.hw_error {
		return C.hw_producer_flush(cp, ms)
	}))
}

// Close flushes (waiting as Flush does), then stops the producer: later sends fail with CLOSED, and
// records still unsent when ctx ends fail with CLOSED. It returns the flush's result. Once nothing
// is pending it frees the producer (its connections and memory); after a TIMEOUT that happens on a
// later Close, or when the producer is collected. Closing twice is fine (the second returns nil).
func (p *Producer) Close(ctx context.Context) error {
	err := waitCall(ctx, "close", p.c.call(func(cp *C.hw_producer, ms C.uint32_t) *C.hw_error {
		return C.hw_producer_close(cp, ms)
	}))
	if errors.Is(err, ErrTimeout) || errors.Is(err, ErrInvalidArgument) {
		return err // records may be pending (or nothing happened): freeing would wait for them
	}
	// Every delivery callback has run (core's close guarantees it unless it times out), so freeing
	// does not wait.
	p.c.free()
	return err
}

// call is a waiting C call (flush, close) on the producer for waitCall; freed, it is a no-op.
func (c *producerCore) call(f func(*C.hw_producer, C.uint32_t) *C.hw_error) func(C.uint32_t) *C.hw_error {
	return func(ms C.uint32_t) *C.hw_error {
		c.mu.RLock()
		defer c.mu.RUnlock()
		if c.ptr == nil {
			return nil // freed after a close: nothing is pending, nothing new to report
		}
		return f(c.ptr, ms)
	}
}

// ProducerStats is a snapshot of a producer's counters (the names of tests/vectors/config.json).
type ProducerStats struct {
	RecordsSent       uint64 // records enqueued by sends (refused sends are not counted)
	RecordsAcked      uint64 // records acknowledged by the broker
	RecordsFailed     uint64 // records whose delivery failed
	BytesUncompressed uint64 // record bytes of the batches sent, before compression
	BytesCompressed   uint64 // bytes of the batches sent, after compression
	BatchesSent       uint64 // batches sent (retries not counted again)
	RequestsSent      uint64 // produce requests sent
	Retries           uint64 // batch retries
	Errors            uint64 // failed produce attempts (retried or not)
	QueuedRecords     uint64 // records enqueued and not yet acknowledged or failed (gauge)
	QueuedBatches     uint64 // batches open, sealed or in flight (gauge)
}

// Stats returns a snapshot of the producer's counters.
func (p *Producer) Stats() ProducerStats {
	c := p.c
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.ptr == nil {
		return c.final.stats
	}
	return statsOf(c.ptr)
}

func statsOf(p *C.hw_producer) ProducerStats {
	var s C.hw_stats
	if e := C.hw_producer_stats(p, &s); e != nil { // only for NULL, which is never passed
		C.hw_error_free(e)
		return ProducerStats{}
	}
	return ProducerStats{
		RecordsSent:       uint64(s.records_sent),
		RecordsAcked:      uint64(s.records_acked),
		RecordsFailed:     uint64(s.records_failed),
		BytesUncompressed: uint64(s.bytes_uncompressed),
		BytesCompressed:   uint64(s.bytes_compressed),
		BatchesSent:       uint64(s.batches_sent),
		RequestsSent:      uint64(s.requests_sent),
		Retries:           uint64(s.retries),
		Errors:            uint64(s.errors),
		QueuedRecords:     uint64(s.queued_records),
		QueuedBatches:     uint64(s.queued_batches),
	}
}

// RecordMetadata is where a record landed.
type RecordMetadata struct {
	Topic     string
	Partition uint32
	// Offset is the record's offset in its partition; -1 when unknown (delivery=at_most_once).
	Offset int64
	// Timestamp is milliseconds since the epoch, as stored in the batch.
	Timestamp int64
}

// ProduceOutput is a pending send: its RecordMetadata or its delivery error once the broker has
// answered. Wait and Done may be used any number of times, from any goroutine; the first of them
// sends the record's batch at once if it is still open (a caller waiting on a record needs it now,
// not after linger_ms).
type ProduceOutput struct {
	core      *producerCore
	partition uint32
	urged     atomic.Bool
	// batch names the record's batch within its partition: what a wait sends at once.
	batch uint64
	// meta and err are written once, by the delivery callback, before finished is set (no allocation
	// per result: at millions of records/s the garbage collector's share is the cost). done is the
	// channel of the first Done, or doneSentinel once finished (whoever swaps a channel out closes it).
	meta     RecordMetadata
	err      error
	finished atomic.Bool
	done     atomic.Pointer[chan struct{}]
}

var (
	// closedChan is Done's channel for an output whose result came before anyone asked.
	closedChan   = func() chan struct{} { c := make(chan struct{}); close(c); return c }()
	doneSentinel = &closedChan
)

// Partition is the partition the record was assigned to, known at send time.
func (o *ProduceOutput) Partition() uint32 { return o.partition }

// Done returns a channel closed once the record's result is known, for select. Like Wait, it sends
// the record's batch at once; `select { case <-out.Done(): ... default: }` tells whether it is done.
func (o *ProduceOutput) Done() <-chan struct{} {
	o.urge()
	if p := o.done.Load(); p != nil {
		return *p
	}
	ch := make(chan struct{})
	if o.done.CompareAndSwap(nil, &ch) {
		return ch // complete closes it
	}
	return *o.done.Load() // another Done's channel, or closedChan
}

// Wait returns the record's metadata or its delivery error. It waits as long as ctx allows: an
// expired ctx returns the result if it is known, else TIMEOUT (the send goes on either way).
func (o *ProduceOutput) Wait(ctx context.Context) (RecordMetadata, error) {
	if o.finished.Load() {
		return o.meta, o.err
	}
	if ctx == nil {
		return RecordMetadata{}, errNilContext
	}
	ch := o.Done()
	select {
	case <-ch:
	default:
		select {
		case <-ch:
		case <-ctx.Done():
			return RecordMetadata{}, timeoutError("the record was not acknowledged in time (it may still be delivered)", ctx.Err())
		}
	}
	return o.meta, o.err
}

func (o *ProduceOutput) urge() {
	if !o.finished.Load() && o.urged.CompareAndSwap(false, true) {
		o.core.sendNow(o.partition, o.batch)
	}
}

// complete records the result (exactly once, from the delivery callback).
func (o *ProduceOutput) complete(meta RecordMetadata, err error) {
	o.meta, o.err = meta, err
	o.finished.Store(true)
	if p := o.done.Swap(doneSentinel); p != nil && p != doneSentinel {
		close(*p)
	}
}

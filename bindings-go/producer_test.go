package headwater

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBadInput(t *testing.T) {
	b := startBroker(t, BrokerOptions{})
	createTopic(t, b, "bad", 2)
	ctx := guard(t)

	//nolint:staticcheck // a nil context on purpose
	_, err := Connect(nil, b.Endpoint(), "bad", nil) //lint:ignore SA1012 on purpose
	wantCode(t, err, "INVALID_ARGUMENT")
	_, err = Connect(ctx, b.Endpoint(), "bad\x00topic", nil)
	wantCode(t, err, "INVALID_ARGUMENT")
	_, err = Connect(ctx, b.Endpoint(), "bad", Config{"linger_ms": "1\x00"})
	wantCode(t, err, "INVALID_ARGUMENT")
	_, err = Connect(ctx, "127.0.0.1:1", "bad", nil)
	wantCode(t, err, "TRANSPORT")
	_, err = Connect(ctx, b.Endpoint(), "nope", Config{"metadata_timeout_ms": "100"})
	wantCode(t, err, "UNKNOWN_TOPIC")
	// A bad config is reported before anything connects, whatever the order of the map.
	_, err = Connect(ctx, "127.0.0.1:1", "bad", Config{"batch_size": "0", "linger_ms": "x"})
	if he := wantCode(t, err, "CONFIG"); !strings.Contains(he.Message, "batch_size") {
		t.Errorf("the first key in order is not the one named: %s", he.Message)
	}

	p := connect(t, b, "bad", Config{"linger_ms": "0", "max_request_size": "1024"})
	_, err = p.SendTo(2, nil, []byte("x"))
	wantCode(t, err, "UNKNOWN_PARTITION")
	_, err = p.SendTo(math.MaxInt32+1, nil, []byte("x"))
	if he := wantCode(t, err, "INVALID_ARGUMENT"); !strings.Contains(he.Message, "`partition` must be in 0..=2147483647, got 2147483648") {
		t.Errorf("not core's range message: %s", he.Message)
	}
	_, err = p.SendRecord(Record{Value: []byte("x"), Timestamp: -5})
	if he := wantCode(t, err, "INVALID_ARGUMENT"); !strings.Contains(he.Message, "got -5") {
		t.Errorf("message: %s", he.Message)
	}
	_, err = p.Send(nil, make([]byte, 4096))
	if he := wantCode(t, err, "RECORD_TOO_LARGE"); he.Retriable {
		t.Errorf("retriable: %s", he.Message)
	}
	_, err = p.SendAll([]Record{{Value: []byte("fits")}, {Value: make([]byte, 4096)}})
	wantCode(t, err, "RECORD_TOO_LARGE")
	_, err = p.SendAll([]Record{{Value: []byte("fits")}, {Value: []byte("x"), Timestamp: -1}})
	wantCode(t, err, "INVALID_ARGUMENT")
	outs, err := p.SendAll(nil)
	if err != nil || len(outs) != 0 {
		t.Fatalf("an empty SendAll: %v %v", outs, err)
	}
	// None of the refusals is reported again, and none was stored.
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("flush after refusals: %v", err)
	}
	for part := uint32(0); part < 2; part++ {
		if recs, err := b.Records("bad", part, 0); err != nil || len(recs) != 0 {
			t.Fatalf("partition %d holds %d records (%v)", part, len(recs), err)
		}
	}
	// A failure while sending stops SendAll there: the records before it were sent (and are reported
	// like any other), the rest were not (their handles are released, never called back).
	handles := pendingHandles()
	_, err = p.SendAll([]Record{{Value: []byte("sent")}, {Value: []byte("x"), Partition: ptr(uint32(9))}, {Value: []byte("never")}})
	wantCode(t, err, "UNKNOWN_PARTITION")
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("flush after a partly sent SendAll: %v", err)
	}
	if n := pendingHandles(); n != handles {
		t.Fatalf("%d pending-send handles, %d before", n, handles)
	}
	stored := 0
	for part := uint32(0); part < 2; part++ {
		recs, _ := b.Records("bad", part, 0)
		stored += len(recs)
	}
	if stored != 1 {
		t.Fatalf("stored %d records, want the one sent before the failure", stored)
	}
	// An explicit partition and timestamp are kept; nil value = an empty value.
	out, err := p.SendRecord(Record{Key: []byte{}, Partition: ptr(uint32(1)), Timestamp: 1234567})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := out.Wait(ctx); err != nil || m.Partition != 1 || m.Timestamp != 1234567 || m.Topic != "bad" {
		t.Fatalf("%+v %v", m, err)
	}
	recs, err := b.Records("bad", 1, 0)
	if err != nil || len(recs) == 0 {
		t.Fatalf("partition 1: %d records (%v)", len(recs), err)
	}
	recs = recs[len(recs)-1:] // the last one (the partly sent SendAll may have put one before it)
	if len(recs) != 1 || recs[0].Key == nil || len(recs[0].Key) != 0 || len(recs[0].Value) != 0 || recs[0].Timestamp != 1234567 {
		t.Fatalf("stored %+v (%v)", recs, err)
	}
	//nolint:staticcheck // nil contexts on purpose
	if _, err := out.Wait(nil); err != nil { //lint:ignore SA1012 a known result needs no context
		t.Errorf("a known result: %v", err)
	}
	wantCode(t, p.Flush(nil), "INVALID_ARGUMENT") //lint:ignore SA1012 on purpose
	wantCode(t, p.Close(nil), "INVALID_ARGUMENT") //lint:ignore SA1012 on purpose
	if p.Closed() {
		t.Fatal("a refused close closed the producer")
	}

	// The broker and the admin.
	_, err = StartTestBroker(BrokerOptions{Spus: 2000})
	if he := wantCode(t, err, "CONFIG"); !strings.Contains(he.Message, "spus") {
		t.Errorf("spus not named: %s", he.Message)
	}
	wantCode(t, b.CreateTopic("x\x00y", TopicOptions{Partitions: 1}), "INVALID_ARGUMENT")
	wantCode(t, b.CreateTopic("zero", TopicOptions{}), "INVALID_ARGUMENT")
	wantCode(t, b.DeleteTopic("never-made"), "UNKNOWN_TOPIC")
	wantCode(t, b.Delay(0, -time.Second), "INVALID_ARGUMENT")
	wantCode(t, b.PauseSPU(1), "INVALID_ARGUMENT")
	wantCode(t, SetLogger(nil, -1), "INVALID_ARGUMENT")
	wantCode(t, SetLogger(func(LogLevel, string, string) {}, LogTrace+1), "INVALID_ARGUMENT")
	_, err = ParseLogLevel("verbose")
	if he := wantCode(t, err, "CONFIG"); !strings.Contains(he.Message, "log_level") {
		t.Errorf("log_level not named: %s", he.Message)
	}
	if l, err := ParseLogLevel("TRACE"); err != nil || l != LogTrace || l.String() != "trace" {
		t.Errorf("ParseLogLevel(TRACE) = %v, %v", l, err)
	}
	_, err = ConnectAdmin(ctx, b.Endpoint(), Config{"tls_nope": "1"})
	if he := wantCode(t, err, "CONFIG"); !strings.Contains(he.Message, "tls_nope") {
		t.Errorf("key not named: %s", he.Message)
	}
	a, err := ConnectAdmin(ctx, b.Endpoint(), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, a.CreateTopic(ctx, "adm", TopicOptions{Partitions: 1, Replication: ptr(0)}), "INVALID_ARGUMENT")
	wantCode(t, a.CreateTopic(ctx, "adm", TopicOptions{Partitions: 1, Replication: ptr(5)}), "BROKER")
	a.Close()
	a.Close()
	wantCode(t, a.DeleteTopic(ctx, "bad"), "CLOSED")
	_, err = a.ListTopics(ctx)
	wantCode(t, err, "CLOSED")

	b.Stop()
	b.Stop()
	_, err = b.Records("bad", 0, 0)
	wantCode(t, err, "CLOSED")
}

// Waiting on a record sends its batch at once (issue 19): with linger_ms at a minute, a wait the
// hang guard bounds well below it can only succeed because the wait sealed the batch. Records sent
// before share that batch; records nobody waits on keep lingering.
func TestWaitSendsItsBatch(t *testing.T) {
	b := startBroker(t, BrokerOptions{})
	createTopic(t, b, "linger", 1)
	p := connect(t, b, "linger", Config{"linger_ms": "60000"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	first, _ := p.Send(nil, []byte("a"))
	second, err := p.Send(nil, []byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := second.Wait(ctx)
	if err != nil || m.Offset != 1 {
		t.Fatalf("wait: %+v %v", m, err)
	}
	select {
	case <-first.Done():
	case <-ctx.Done():
		t.Fatal("the record sent before the waited one was not in its batch")
	}
	recs, _ := b.Records("linger", 0, 0)
	if len(recs) != 2 || recs[0].BatchBaseOffset != recs[1].BatchBaseOffset {
		t.Fatalf("one batch expected: %+v", recs)
	}

	// Done alone sends the batch too.
	third, _ := p.Send(nil, []byte("c"))
	select {
	case <-third.Done():
	case <-ctx.Done():
		t.Fatal("Done did not send the record's batch")
	}
	if m, err := third.Wait(ctx); err != nil || m.Offset != 2 {
		t.Fatalf("%+v %v", m, err)
	}

	// Nobody waits: the record lingers (a no-wait flush would send it; Stats shows it queued).
	if _, err := p.Send(nil, []byte("d")); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.QueuedRecords != 1 {
		t.Fatalf("queued %d", s.QueuedRecords)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// A wait sends its own record's batch only: another partition's batch keeps lingering, and waiting
// again on a record whose batch already went sends nothing new.
func TestWaitSendsOnlyItsOwnBatch(t *testing.T) {
	b := startBroker(t, BrokerOptions{})
	createTopic(t, b, "own", 2)
	p := connect(t, b, "own", Config{"linger_ms": "60000"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	waited, err := p.SendTo(0, nil, []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := p.SendTo(1, nil, []byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := waited.Wait(ctx); err != nil || m.Partition != 0 || m.Offset != 0 {
		t.Fatalf("wait: %+v %v", m, err)
	}
	later, err := p.SendTo(0, nil, []byte("c"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waited.Wait(ctx); err != nil { // its batch went: this wait sends nothing
		t.Fatal(err)
	}
	s, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.ProduceRequests != 1 {
		t.Fatalf("%d produce requests: a wait sent more than its own batch", s.ProduceRequests)
	}
	if st := p.Stats(); st.QueuedRecords != 2 {
		t.Fatalf("queued %d, want partition 1's record and the later one lingering", st.QueuedRecords)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if m, err := other.Wait(ctx); err != nil || m.Partition != 1 || m.Offset != 0 {
		t.Fatalf("partition 1's record: %+v %v", m, err)
	}
	if m, err := later.Wait(ctx); err != nil || m.Partition != 0 || m.Offset != 1 {
		t.Fatalf("the later record: %+v %v", m, err)
	}
}

func TestContexts(t *testing.T) {
	b := startBroker(t, BrokerOptions{})
	createTopic(t, b, "ctx", 1)
	p := connect(t, b, "ctx", Config{"linger_ms": "0"})
	if err := b.Pause(); err != nil {
		t.Fatal(err)
	}
	out, err := p.Send([]byte("k"), []byte("held"))
	if err != nil {
		t.Fatal(err)
	}
	// An expired context: no wait, TIMEOUT, the context's error inside.
	_, err = out.Wait(expired())
	if he := wantCode(t, err, "TIMEOUT"); !he.Retriable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v", err)
	}
	err = p.Flush(expired())
	wantCode(t, err, "TIMEOUT")
	// A deadline: core's TIMEOUT (the C call had the same bound).
	dl, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	wantCode(t, p.Flush(dl), "TIMEOUT")
	cancel()
	// A cancellation: TIMEOUT at once, wrapping context.Canceled; the flush goes on in the background.
	cctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	err = p.Flush(cctx)
	if wantCode(t, err, "TIMEOUT"); !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
	wctx, wcancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); wcancel() }()
	_, err = out.Wait(wctx)
	if wantCode(t, err, "TIMEOUT"); !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
	// Nothing was dropped.
	if err := b.Resume(); err != nil {
		t.Fatal(err)
	}
	if m, err := out.Wait(guard(t)); err != nil || m.Offset != 0 {
		t.Fatalf("%+v %v", m, err)
	}
	if err := p.Flush(guard(t)); err != nil {
		t.Fatal(err)
	}
	if recs, _ := b.Records("ctx", 0, 0); len(recs) != 1 {
		t.Fatalf("stored %d records", len(recs))
	}

	// Connect: an expired context does not start; a deadline ends a connect that hangs.
	_, err = Connect(expired(), b.Endpoint(), "ctx", nil)
	wantCode(t, err, "TIMEOUT")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept() // accept, never answer
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	dl, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err = Connect(dl, ln.Addr().String(), "ctx", nil)
	cancel()
	if wantCode(t, err, "TIMEOUT"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v", err)
	}
	dl, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err = ConnectAdmin(dl, ln.Addr().String(), nil)
	cancel()
	wantCode(t, err, "TIMEOUT")
	ln.Close()
	mu.Lock()
	for _, c := range conns {
		c.Close() // the abandoned connects now fail in the background
	}
	mu.Unlock()

	// Close with a deadline while requests are held, then again: both return, the second at once.
	if err := b.Pause(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(nil, []byte("late")); err != nil {
		t.Fatal(err)
	}
	dl, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	wantCode(t, p.Close(dl), "TIMEOUT")
	cancel()
	if !p.Closed() {
		t.Fatal("not closed")
	}
	_ = b.Resume()
	if err := p.Close(guard(t)); err != nil {
		t.Fatalf("second close: %v", err)
	}
	_, err = p.Send(nil, []byte("after"))
	wantCode(t, err, "CLOSED")
}

// Many goroutines send at once; every record gets exactly one offset, contiguous per partition.
func TestConcurrentSends(t *testing.T) {
	const goroutines, each, partitions = 16, 300, 4
	b := startBroker(t, BrokerOptions{})
	createTopic(t, b, "conc", partitions)
	p := connect(t, b, "conc", Config{"linger_ms": "2"})
	ctx := guard(t)
	metas := make(chan RecordMetadata, goroutines*each)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var outs []*ProduceOutput
			for i := 0; i < each; i++ {
				var key []byte
				if i%3 != 0 {
					key = []byte(fmt.Sprintf("g%d-%d", g, i%17))
				}
				var out *ProduceOutput
				var err error
				if i%50 == 0 {
					var o []*ProduceOutput
					o, err = p.SendAll([]Record{{Key: key, Value: []byte("all")}})
					if err == nil {
						out = o[0]
					}
				} else {
					out, err = p.Send(key, []byte(fmt.Sprintf("%d/%d", g, i)))
				}
				if err != nil {
					errs <- err
					return
				}
				outs = append(outs, out)
			}
			for _, o := range outs {
				m, err := o.Wait(ctx)
				if err != nil {
					errs <- err
					return
				}
				if m.Partition != o.Partition() {
					errs <- fmt.Errorf("delivered to %d, assigned %d", m.Partition, o.Partition())
					return
				}
				metas <- m
			}
		}(g)
	}
	// Several goroutines waiting on the same output all get its result.
	shared, err := p.Send(nil, []byte("shared"))
	if err != nil {
		t.Fatal(err)
	}
	var sharedWG sync.WaitGroup
	for i := 0; i < 8; i++ {
		sharedWG.Add(1)
		go func() {
			defer sharedWG.Done()
			if _, err := shared.Wait(ctx); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	sharedWG.Wait()
	close(metas)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint32]map[int64]bool{}
	n := 0
	for m := range metas {
		if seen[m.Partition] == nil {
			seen[m.Partition] = map[int64]bool{}
		}
		if seen[m.Partition][m.Offset] {
			t.Fatalf("offset %d of partition %d given twice", m.Offset, m.Partition)
		}
		seen[m.Partition][m.Offset] = true
		n++
	}
	if n != goroutines*each {
		t.Fatalf("%d results", n)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	total := 0
	for part := uint32(0); part < partitions; part++ {
		recs, err := b.Records("conc", part, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range recs {
			if r.Offset != int64(i) {
				t.Fatalf("partition %d: record %d has offset %d", part, i, r.Offset)
			}
		}
		// The offsets handed out are exactly the stored ones (the shared record is extra, somewhere).
		for off := range seen[part] {
			if off >= int64(len(recs)) {
				t.Fatalf("partition %d: offset %d past the %d stored", part, off, len(recs))
			}
		}
		total += len(recs)
	}
	if total != goroutines*each+1 {
		t.Fatalf("the broker holds %d records, %d were sent", total, goroutines*each+1)
	}
	if s := p.Stats(); s.RecordsAcked != uint64(total) || s.RecordsFailed != 0 || s.QueuedRecords != 0 {
		t.Fatalf("%+v", s)
	}
}

// goroutines returns the goroutines running Go code: not the idle ones cgo keeps bound to a library
// thread after that thread called into Go (one per such thread, reused by its later callbacks; they
// end with the thread), and their stacks.
func goroutines() (int, string) {
	buf := make([]byte, 1<<22)
	dump := string(buf[:runtime.Stack(buf, true)])
	n := 0
	var kept []string
	for _, g := range strings.Split(strings.TrimSpace(dump), "\n\n") {
		lines := strings.Split(g, "\n")
		if strings.Contains(lines[0], "locked to thread]") && len(lines) == 3 && strings.HasPrefix(lines[1], "runtime.goexit") {
			continue
		}
		n++
		kept = append(kept, g)
	}
	return n, strings.Join(kept, "\n\n")
}

// After Close (and Stop), no goroutine of the binding is left, and no pending-send handle.
func TestNoLeaksAfterClose(t *testing.T) {
	// settle waits (at most 10 s) until at most limit goroutines run, or, with limit < 0, until the
	// count holds still.
	settle := func(limit int) (int, string) {
		deadline := time.Now().Add(10 * time.Second)
		last := -1
		for {
			runtime.GC()
			n, dump := goroutines()
			if (limit >= 0 && n <= limit) || (limit < 0 && n == last) || time.Now().After(deadline) {
				return n, dump
			}
			last = n
			time.Sleep(50 * time.Millisecond)
		}
	}
	before, _ := settle(-1)
	for round := 0; round < 3; round++ {
		b, err := StartTestBroker(BrokerOptions{Spus: 2})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.CreateTopic("leak", TopicOptions{Partitions: 3}); err != nil {
			t.Fatal(err)
		}
		ctx := guard(t)
		p, err := Connect(ctx, b.Endpoint(), "leak", Config{"linger_ms": "5"})
		if err != nil {
			t.Fatal(err)
		}
		var outs []*ProduceOutput
		for i := 0; i < 200; i++ {
			o, err := p.Send([]byte{byte(i)}, []byte("v"))
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, o)
		}
		all, err := p.SendAll([]Record{{Value: []byte("a")}, {Value: []byte("b")}})
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, all...)
		_, _ = outs[0].Wait(ctx)
		_ = outs[1].Done()
		fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := p.Flush(fctx); err != nil { // through the goroutine path: ctx can end
			t.Fatal(err)
		}
		cancel()
		a, err := ConnectAdmin(fctx, b.Endpoint(), nil)
		if err == nil {
			_, _ = a.ListTopics(ctx)
			a.Close()
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
		for _, o := range outs {
			select {
			case <-o.Done():
			default:
				t.Fatal("Close returned before a record's result was known")
			}
		}
		b.Stop()
	}
	if after, dump := settle(before); after > before {
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, after, dump)
	}
	if n := pendingHandles(); n != 0 {
		t.Fatalf("%d pending-send handles left", n)
	}
}

// dropUnclosed connects a producer to topic, sends n records that linger, drops the producer without
// closing it, and returns their outputs once the garbage collector has freed it (they are done then).
func dropUnclosed(t *testing.T, b *TestBroker, topic string, n int) []*ProduceOutput {
	t.Helper()
	outs := func() []*ProduceOutput {
		p, err := Connect(guard(t), b.Endpoint(), topic, Config{"linger_ms": "60000"})
		if err != nil {
			t.Fatal(err)
		}
		var outs []*ProduceOutput
		for i := 0; i < n; i++ {
			o, err := p.Send(nil, []byte("unsent"))
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, o)
		}
		return outs // p is unreachable from here on
	}()
	deadline := time.Now().Add(30 * time.Second)
	for _, o := range outs {
		for done := false; !done; {
			runtime.GC()
			select {
			case <-o.Done():
				done = true
			case <-time.After(50 * time.Millisecond):
				if time.Now().After(deadline) {
					t.Fatal("the unclosed producer was not collected")
				}
			}
		}
	}
	return outs
}

// A producer the garbage collector finds unclosed is freed: core stops it, logs how many records
// were unsent, and their outputs fail with CLOSED.
func TestCollectedWithoutClose(t *testing.T) {
	var mu sync.Mutex
	var logs []string
	if err := SetLogger(func(l LogLevel, target, msg string) {
		mu.Lock()
		logs = append(logs, l.String()+" "+msg)
		mu.Unlock()
	}, LogWarn); err != nil {
		t.Fatal(err)
	}
	defer SetLogger(nil, LogWarn)
	b := startBroker(t, BrokerOptions{})
	createTopic(t, b, "dropped", 1)
	for _, o := range dropUnclosed(t, b, "dropped", 3) {
		if _, err := o.Wait(guard(t)); !errors.Is(err, ErrClosed) {
			t.Fatalf("an unsent record of a collected producer: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !regexp.MustCompile(`warn .*3 unsent records`).MatchString(strings.Join(logs, "\n")) {
		t.Fatalf("no warning with the unsent count: %q", logs)
	}
	if recs, _ := b.Records("dropped", 0, 0); len(recs) != 0 {
		t.Fatalf("stored %d", len(recs))
	}
}

func TestLoggerLevelAndVersion(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repo, "Cargo.toml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^version\s*=\s*"([^"]+)"`).FindSubmatch(data)
	if m == nil || Version() != string(m[1]) {
		t.Fatalf("Version() = %q, Cargo.toml %q", Version(), m)
	}
	// Below the sink's level nothing arrives: the unsent-records warning is filtered at LogError and
	// at LogOff.
	b := startBroker(t, BrokerOptions{})
	createTopic(t, b, "quiet", 1)
	for _, level := range []LogLevel{LogError, LogOff} {
		var mu sync.Mutex
		var got []string
		if err := SetLogger(func(l LogLevel, target, msg string) {
			mu.Lock()
			got = append(got, l.String()+" "+msg)
			mu.Unlock()
		}, level); err != nil {
			t.Fatal(err)
		}
		dropUnclosed(t, b, "quiet", 1)
		if err := SetLogger(nil, LogWarn); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if len(got) != 0 {
			t.Errorf("at %v the sink received %q", level, got)
		}
		mu.Unlock()
	}
}

// Close releases the producer's connections at once (not when the garbage collector gets to it), and
// the producer keeps answering: sends are CLOSED, flush and close report nothing new, the
// accessors and counters keep their last values.
func TestCloseReleases(t *testing.T) {
	b := startBroker(t, BrokerOptions{})
	createTopic(t, b, "released", 2)
	ctx := guard(t)
	p, err := Connect(ctx, b.Endpoint(), "released", Config{"compression": "gzip"})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := p.Send(nil, []byte("x"))
	if _, err := out.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := b.Stats(); st.Connections == 0 {
		t.Fatal("no connection counted while the producer is open")
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if st, _ := b.Stats(); st.Connections == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the closed producer's connections are still open")
		}
	}
	runtime.KeepAlive(p) // not collected: closing released them
	_, err = p.Send(nil, []byte("after"))
	wantCode(t, err, "CLOSED")
	_, err = p.SendAll([]Record{{Value: []byte("after")}})
	wantCode(t, err, "CLOSED")
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(expired()); err != nil {
		t.Fatal(err)
	}
	if !p.Closed() || p.PartitionCount() != 2 || p.Compression() != "gzip" || p.Topic() != "released" {
		t.Fatalf("closed %v, %d partitions, %s", p.Closed(), p.PartitionCount(), p.Compression())
	}
	if s := p.Stats(); s.RecordsSent != 1 || s.RecordsAcked != 1 {
		t.Fatalf("%+v", s)
	}
	if _, err := out.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

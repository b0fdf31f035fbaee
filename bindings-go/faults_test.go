package headwater

import (
	"context"
	"testing"
	"time"
)

// The fault-injection classes of the embedded broker, and what the producer makes of each.
func TestFaults(t *testing.T) {
	const produce = 0 // api key
	b := startBroker(t, BrokerOptions{Spus: 2})
	ids, err := b.SPUIDs()
	if err != nil || len(ids) != 2 || ids[0] != 5001 || ids[1] != 5002 {
		t.Fatalf("SPU ids %v (%v)", ids, err)
	}
	if err := b.CreateTopic("faults", TopicOptions{Partitions: 1, Replication: ptr(2)}); err != nil {
		t.Fatal(err)
	}
	p := connect(t, b, "faults", Config{"linger_ms": "0", "retry_backoff_ms": "1", "retry_backoff_max_ms": "20"})
	ctx := guard(t)
	send := func(value string) RecordMetadata {
		t.Helper()
		out, err := p.Send(nil, []byte(value))
		if err != nil {
			t.Fatal(err)
		}
		m, err := out.Wait(ctx)
		if err != nil {
			t.Fatalf("%s: %v", value, err)
		}
		return m
	}

	t.Run("fail_next_retriable", func(t *testing.T) {
		before := p.Stats()
		if err := b.FailNext(produce, 2, 6); err != nil { // NotLeaderForPartition: retried
			t.Fatal(err)
		}
		send("retried")
		if s := p.Stats(); s.Retries < before.Retries+2 || s.RecordsFailed != before.RecordsFailed {
			t.Fatalf("retries %d, failed %d", s.Retries-before.Retries, s.RecordsFailed-before.RecordsFailed)
		}
	})
	t.Run("fail_next_fatal", func(t *testing.T) {
		if err := b.FailNext(produce, 1, 56); err != nil { // StorageError: not retried
			t.Fatal(err)
		}
		out, _ := p.Send(nil, []byte("lost"))
		_, err := out.Wait(ctx)
		if he := wantCode(t, err, "BROKER"); he.BrokerCode != 56 || he.Retriable {
			t.Fatalf("%+v", he)
		}
		if err := p.Flush(ctx); err == nil || err.(*Error).BrokerCode != 56 {
			t.Fatalf("flush: %v", err)
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatalf("reported twice: %v", err)
		}
		// Count 0 clears a pending injection.
		if err := b.FailNext(produce, 5, 56); err != nil {
			t.Fatal(err)
		}
		if err := b.FailNext(produce, 0, 56); err != nil {
			t.Fatal(err)
		}
		send("after clear")
	})
	t.Run("drop_next", func(t *testing.T) {
		before := p.Stats()
		if err := b.DropNext(produce, 1); err != nil { // the connection closes unanswered: retried
			t.Fatal(err)
		}
		send("after a drop")
		if s := p.Stats(); s.Retries <= before.Retries {
			t.Fatal("no retry after a dropped request")
		}
	})
	t.Run("delay", func(t *testing.T) {
		if err := b.Delay(produce, 500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		out, _ := p.Send(nil, []byte("slow"))
		short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		wantCode(t, p.Flush(short), "TIMEOUT")
		cancel()
		if err := b.Delay(produce, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := out.Wait(ctx); err != nil {
			t.Fatalf("a delayed record: %v", err)
		}
	})
	t.Run("pause_spu", func(t *testing.T) {
		leader, err := b.Leader("faults", 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.PauseSPU(leader); err != nil {
			t.Fatal(err)
		}
		out, _ := p.Send(nil, []byte("held by one SPU"))
		_, err = out.Wait(expired())
		wantCode(t, err, "TIMEOUT")
		if err := b.ResumeSPU(leader); err != nil {
			t.Fatal(err)
		}
		if _, err := out.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("stop_spu_failover", func(t *testing.T) {
		leader, err := b.Leader("faults", 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.StopSPU(leader); err != nil {
			t.Fatal(err)
		}
		m := send("after failover") // the in-sync follower leads now
		next, err := b.Leader("faults", 0)
		if err != nil || next == leader {
			t.Fatalf("leader %d after stopping %d (%v)", next, leader, err)
		}
		if err := b.StartSPU(leader); err != nil {
			t.Fatal(err)
		}
		_, end, err := b.Offsets("faults", 0)
		if err != nil || end != m.Offset+1 {
			t.Fatalf("log end %d after offset %d (%v)", end, m.Offset, err)
		}
		if hw, err := b.HighWatermark("faults", 0); err != nil || hw > end {
			t.Fatalf("high watermark %d, end %d (%v)", hw, end, err)
		}
	})
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := b.Stats()
	if err != nil || st.RecordsAppended == 0 || st.ProduceRequests == 0 || st.ConnectionsTotal == 0 {
		t.Fatalf("%+v (%v)", st, err)
	}
}

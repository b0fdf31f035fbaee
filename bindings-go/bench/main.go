// Command bench is the Go binding under the cross-language benchmark's workload (see
// ../../bench/README.md):
//
//	bench --endpoint E --topic T --records N --seconds S --size B --compression C --linger-ms L
//	      [--latency] [--mode send|send_all] [--batch-size BYTES] [--cpuprofile FILE]
//
// It creates the topic (1 partition) if it is missing, then either
//   - throughput: keyless Send in a loop (or SendAll of slices of 1000 records with --mode
//     send_all) until N records or S seconds, then Flush; every record must be acknowledged;
//   - latency (--latency): linger 0, one record in flight (Send, then Wait), p50/p99/p999.
//
// Every other producer setting is core's default (--batch-size overrides batch_size; the harness
// does not pass it). It prints one JSON line and exits non-zero on any failure. Built by
// `make -C bindings-go bench-build [PROFILE=release|debug]` into bindings-go/build/bench.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"time"

	headwater "github.com/headwater-io/headwater-go"
)

const (
	sendAllChunk = 1000
	// The clock is read once per this many records in the send loop.
	clockEvery = 4096
)

type args struct {
	endpoint, topic, compression, mode, batchSize string
	records                                       int
	seconds                                       float64
	size, lingerMS                                int
	latency                                       bool
	cpuProfile                                    string
}

func parseArgs() (args, error) {
	var a args
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&a.endpoint, "endpoint", "", "SC endpoint host:port")
	fs.StringVar(&a.topic, "topic", "", "topic (created with 1 partition if missing)")
	fs.IntVar(&a.records, "records", 1_000_000, "records to send at most")
	fs.Float64Var(&a.seconds, "seconds", 5, "seconds to send at most")
	fs.IntVar(&a.size, "size", 100, "value size in bytes")
	fs.StringVar(&a.compression, "compression", "none", "codec")
	fs.IntVar(&a.lingerMS, "linger-ms", 0, "linger_ms")
	fs.BoolVar(&a.latency, "latency", false, "one record in flight: latency percentiles")
	fs.StringVar(&a.mode, "mode", "send", "send or send_all")
	fs.StringVar(&a.batchSize, "batch-size", "", "batch_size (default: core's)")
	fs.StringVar(&a.cpuProfile, "cpuprofile", "", "write a pprof CPU profile of the run to this file")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return a, err
	}
	switch {
	case a.endpoint == "" || a.topic == "":
		return a, errors.New("--endpoint and --topic are required")
	case a.records < 1 || !(a.seconds > 0) || a.size < 0 || a.lingerMS < 0:
		return a, errors.New("--records must be >= 1, --seconds > 0, --size and --linger-ms >= 0")
	case a.mode != "send" && a.mode != "send_all":
		return a, fmt.Errorf("--mode must be send or send_all, not %q", a.mode)
	}
	return a, nil
}

func ensureTopic(ctx context.Context, endpoint, topic string) error {
	admin, err := headwater.ConnectAdmin(ctx, endpoint, nil)
	if err != nil {
		return err
	}
	defer admin.Close()
	exists := func() (bool, error) {
		topics, err := admin.ListTopics(ctx)
		for _, t := range topics {
			if t.Name == topic {
				return true, nil
			}
		}
		return false, err
	}
	if ok, err := exists(); ok || err != nil {
		return err
	}
	if err := admin.CreateTopic(ctx, topic, headwater.TopicOptions{Partitions: 1}); err != nil {
		// Created concurrently by someone else is fine; anything else is not.
		if ok, _ := exists(); !ok {
			return err
		}
	}
	return nil
}

func throughputSend(ctx context.Context, p *headwater.Producer, value []byte, records int, seconds float64) (int, time.Duration, error) {
	t0 := time.Now()
	deadline := t0.Add(time.Duration(seconds * float64(time.Second)))
	sent := 0
	for sent < records {
		n := min(clockEvery, records-sent)
		for i := 0; i < n; i++ {
			if _, err := p.Send(nil, value); err != nil {
				return sent, 0, err
			}
		}
		sent += n
		if !time.Now().Before(deadline) {
			break
		}
	}
	err := p.Flush(ctx)
	return sent, time.Since(t0), err
}

func throughputSendAll(ctx context.Context, p *headwater.Producer, value []byte, records int, seconds float64) (int, time.Duration, error) {
	full := make([]headwater.Record, sendAllChunk)
	for i := range full {
		full[i] = headwater.Record{Value: value}
	}
	t0 := time.Now()
	deadline := t0.Add(time.Duration(seconds * float64(time.Second)))
	sent := 0
	for sent < records {
		n := min(sendAllChunk, records-sent)
		if _, err := p.SendAll(full[:n]); err != nil {
			return sent, 0, err
		}
		sent += n
		if !time.Now().Before(deadline) { // once per 1000 records
			break
		}
	}
	err := p.Flush(ctx)
	return sent, time.Since(t0), err
}

func latency(ctx context.Context, p *headwater.Producer, value []byte, records int, seconds float64) (int, time.Duration, []time.Duration, error) {
	lat := make([]time.Duration, 0, min(records, 1_000_000))
	t0 := time.Now()
	deadline := t0.Add(time.Duration(seconds * float64(time.Second)))
	for len(lat) < records && time.Now().Before(deadline) {
		t := time.Now()
		out, err := p.Send(nil, value)
		if err == nil {
			_, err = out.Wait(ctx)
		}
		if err != nil {
			return len(lat), 0, nil, err
		}
		lat = append(lat, time.Since(t))
	}
	if len(lat) == 0 {
		return 0, 0, nil, errors.New("no round trip completed within --seconds")
	}
	err := p.Flush(ctx)
	return len(lat), time.Since(t0), lat, err
}

// percentileUS is the element at floor(len * q), clamped: the rule of `headwater bench`.
func percentileUS(sorted []time.Duration, q float64) float64 {
	i := min(int(float64(len(sorted))*q), len(sorted)-1)
	return math.Round(float64(sorted[i].Nanoseconds())/100) / 10
}

func run() error {
	a, err := parseArgs()
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := ensureTopic(ctx, a.endpoint, a.topic); err != nil {
		return fmt.Errorf("creating the topic: %w", err)
	}
	linger := a.lingerMS
	if a.latency {
		linger = 0
	}
	cfg := headwater.Config{"compression": a.compression, "linger_ms": strconv.Itoa(linger)}
	if a.batchSize != "" {
		cfg["batch_size"] = a.batchSize
	}
	p, err := headwater.Connect(ctx, a.endpoint, a.topic, cfg)
	if err != nil {
		return err
	}
	if a.cpuProfile != "" {
		// Where the Go side's time goes (go tool pprof -top bench FILE); not used by the harness.
		f, err := os.Create(a.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	value := make([]byte, a.size)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	var (
		n    int
		secs time.Duration
		lat  []time.Duration
	)
	switch {
	case a.latency:
		n, secs, lat, err = latency(ctx, p, value, a.records, a.seconds)
	case a.mode == "send_all":
		n, secs, err = throughputSendAll(ctx, p, value, a.records, a.seconds)
	default:
		n, secs, err = throughputSend(ctx, p, value, a.records, a.seconds)
	}
	stats := p.Stats()
	if cerr := p.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if stats.RecordsFailed != 0 || stats.RecordsAcked != uint64(n) || stats.RecordsSent != uint64(n) {
		return fmt.Errorf("sent %d records but the producer reports sent=%d acked=%d failed=%d",
			n, stats.RecordsSent, stats.RecordsAcked, stats.RecordsFailed)
	}
	s := secs.Seconds()
	out := map[string]any{
		"client":          "headwater-go",
		"records":         n,
		"seconds":         math.Round(s*1e4) / 1e4,
		"records_per_sec": math.Round(float64(n) / s),
		"mb_per_sec":      math.Round(float64(n)*float64(a.size)/s/1e6*100) / 100,
	}
	if a.latency {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		out["p50_us"] = percentileUS(lat, 0.5)
		out["p99_us"] = percentileUS(lat, 0.99)
		out["p999_us"] = percentileUS(lat, 0.999)
	}
	if a.mode != "send" {
		out["mode"] = a.mode
	}
	line, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(line))
	return err
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

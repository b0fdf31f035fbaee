package headwater

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// tests/vectors/errors.json: every code with its number and retriability, through the sentinels and
// the C ABI's table; and every Fluvio code injected into a produce response, as a delivery outcome.
func TestVectorsErrors(t *testing.T) {
	var v struct {
		Cases []struct {
			Code      string `json:"code"`
			Number    int    `json:"number"`
			Retriable *bool  `json:"retriable"`
		} `json:"cases"`
		FluvioCodes []struct {
			Code      int16   `json:"code"`
			Name      string  `json:"name"`
			Retriable bool    `json:"retriable"`
			MapsTo    *string `json:"maps_to"`
		} `json:"fluvio_codes"`
	}
	loadJSON(t, "tests/vectors/errors.json", &v)
	if len(v.Cases) != len(sentinels) {
		t.Fatalf("errors.json has %d codes, the package %d sentinels", len(v.Cases), len(sentinels))
	}
	for _, c := range v.Cases {
		s := sentinelOf(c.Code)
		if s == nil {
			t.Errorf("no sentinel for %s", c.Code)
			continue
		}
		if s.Number != c.Number || (c.Retriable != nil && s.Retriable != *c.Retriable) {
			t.Errorf("%s: sentinel number %d retriable %v, errors.json %d %v", c.Code, s.Number, s.Retriable, c.Number, c.Retriable)
		}
		if got := codeName(c.Number); got != c.Code {
			t.Errorf("hw_error_code_name(%d) = %q, want %q", c.Number, got, c.Code)
		}
	}
	if codeName(0) != "OK" || codeName(len(v.Cases)+1) != "" {
		t.Errorf("code names outside the kinds: %q %q", codeName(0), codeName(len(v.Cases)+1))
	}

	b := startBroker(t, BrokerOptions{})
	createTopic(t, b, "codes", 1)
	p := connect(t, b, "codes", Config{"linger_ms": "0", "retry_backoff_ms": "1", "retry_backoff_max_ms": "5"})
	ctx := guard(t)
	for _, c := range v.FluvioCodes {
		if c.MapsTo == nil {
			continue // 0: success
		}
		t.Run(fmt.Sprintf("fluvio_%d_%s", c.Code, c.Name), func(t *testing.T) {
			if err := b.FailNext(0, 1, c.Code); err != nil {
				t.Fatal(err)
			}
			before := p.Stats()
			out, err := p.Send(nil, []byte(c.Name))
			if err != nil {
				t.Fatal(err)
			}
			_, err = out.Wait(ctx)
			if c.Retriable {
				// Retried by the producer, then stored.
				if err != nil {
					t.Fatalf("a retriable code failed the record: %v", err)
				}
				if p.Stats().Retries <= before.Retries {
					t.Fatalf("no retry counted")
				}
				return
			}
			he := wantCode(t, err, *c.MapsTo)
			if he.Retriable {
				t.Errorf("retriable: %s", he.Message)
			}
			if *c.MapsTo == "BROKER" && he.BrokerCode != c.Code {
				t.Errorf("broker code %d, want %d: %s", he.BrokerCode, c.Code, he.Message)
			}
			// The failure is reported once by the next flush.
			if err := p.Flush(ctx); err == nil {
				t.Errorf("the flush after a failure reported nothing")
			}
		})
	}
}

// tests/vectors/config.json: core's one parser through Config, key by key, both spellings.
func TestVectorsConfig(t *testing.T) {
	var v struct {
		Cases []struct {
			Key      string                   `json:"key"`
			Camel    string                   `json:"camel"`
			Valid    []struct{ Input string } `json:"valid"`
			ValidTLS []struct{ Input string } `json:"valid_tls"`
			Invalid  []string                 `json:"invalid"`
		} `json:"cases"`
		UnknownKeys []string `json:"unknown_keys"`
	}
	loadJSON(t, "tests/vectors/config.json", &v)
	b := startBroker(t, BrokerOptions{})
	createTopic(t, b, "cfg", 1)
	n := 0
	for _, c := range v.Cases {
		for _, key := range []string{c.Key, c.Camel} {
			for _, in := range append(append([]struct{ Input string }{}, c.Valid...), c.ValidTLS...) {
				if err := checkConfig(Config{key: in.Input}); err != nil {
					t.Errorf("%s=%q refused: %v", key, in.Input, err)
				}
				n++
			}
			for _, in := range c.Invalid {
				err := checkConfig(Config{key: in})
				if err == nil {
					t.Errorf("%s=%q accepted", key, in)
					continue
				}
				if he := wantCode(t, err, "CONFIG"); !strings.Contains(he.Message, key) {
					t.Errorf("%s=%q: the message does not name the key: %s", key, in, he.Message)
				}
				n++
			}
		}
		// Connect accepts every valid value the same way. (It may still fail for what the value means:
		// metadata_timeout_ms=0 gives the metadata no time to arrive.)
		for _, in := range c.Valid {
			p, err := Connect(guard(t), b.Endpoint(), "cfg", Config{c.Key: in.Input})
			if errors.Is(err, ErrConfig) {
				t.Errorf("connect refused %s=%q: %v", c.Key, in.Input, err)
			}
			if err != nil {
				continue
			}
			if err := p.Close(guard(t)); err != nil {
				t.Errorf("close with %s=%q: %v", c.Key, in.Input, err)
			}
		}
	}
	for _, k := range v.UnknownKeys {
		_, err := Connect(guard(t), b.Endpoint(), "cfg", Config{k: "1"})
		if he := wantCode(t, err, "CONFIG"); !strings.Contains(he.Message, k) {
			t.Errorf("unknown key %q not named: %s", k, he.Message)
		}
		n++
	}
	t.Logf("%d configuration inputs checked", n)
}

// tests/vectors/partitioner.json through the producer: the partition each keyed record is assigned
// at send time (ProduceOutput.Partition), for every partition count a topic can have here (the C ABI
// has no key-to-partition function for the others), and the keyless round-robin sequences.
func TestVectorsPartitioner(t *testing.T) {
	var v struct {
		Cases []struct {
			KeyHex         string `json:"key_hex"`
			PartitionCount int    `json:"partition_count"`
			Partition      uint32 `json:"partition"`
		} `json:"cases"`
		Keyless []struct {
			PartitionCount int      `json:"partition_count"`
			Expected       []uint32 `json:"expected"`
		} `json:"keyless_sequences"`
	}
	loadJSON(t, "tests/vectors/partitioner.json", &v)
	b := startBroker(t, BrokerOptions{})
	ctx := guard(t)
	byCount := map[int][]int{}
	var counts []int
	for i, c := range v.Cases {
		if c.PartitionCount > 1024 { // the embedded broker's limit
			continue
		}
		if byCount[c.PartitionCount] == nil {
			counts = append(counts, c.PartitionCount)
		}
		byCount[c.PartitionCount] = append(byCount[c.PartitionCount], i)
	}
	checked := 0
	for _, n := range counts {
		topic := fmt.Sprintf("keys-%d", n)
		createTopic(t, b, topic, n)
		p := connect(t, b, topic, Config{"linger_ms": "5"})
		if got := p.PartitionCount(); got != uint32(n) {
			t.Fatalf("%s: partition count %d", topic, got)
		}
		recs := make([]Record, 0, len(byCount[n]))
		for _, i := range byCount[n] {
			key, err := hex.DecodeString(v.Cases[i].KeyHex)
			if err != nil {
				t.Fatal(err)
			}
			if key == nil {
				key = []byte{} // "" is the empty key, not no key
			}
			recs = append(recs, Record{Key: key, Value: []byte("v")})
		}
		outs, err := p.SendAll(recs)
		if err != nil {
			t.Fatal(err)
		}
		for j, i := range byCount[n] {
			if got, want := outs[j].Partition(), v.Cases[i].Partition; got != want {
				t.Errorf("key %q over %d partitions: partition %d, want %d", v.Cases[i].KeyHex, n, got, want)
			}
			checked++
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// Where each landed is where it was assigned.
		for _, o := range outs {
			m, err := o.Wait(ctx)
			if err != nil || m.Partition != o.Partition() {
				t.Fatalf("delivered to %d (%v), assigned %d", m.Partition, err, o.Partition())
			}
		}
	}
	for _, seq := range v.Keyless {
		topic := fmt.Sprintf("keyless-%d", seq.PartitionCount)
		createTopic(t, b, topic, seq.PartitionCount)
		p := connect(t, b, topic, nil)
		for i, want := range seq.Expected {
			// A keyed record in between does not advance the counter.
			if _, err := p.Send([]byte("k"), []byte("keyed")); err != nil {
				t.Fatal(err)
			}
			out, err := p.Send(nil, []byte("keyless"))
			if err != nil {
				t.Fatal(err)
			}
			if out.Partition() != want {
				t.Errorf("%d partitions, keyless record %d: partition %d, want %d", seq.PartitionCount, i, out.Partition(), want)
			}
			checked++
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d partition assignments checked", checked)
}

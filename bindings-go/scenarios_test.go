package headwater

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The cross-language scenario suite (tests/vectors/scenarios.json), one subtest per scenario: every
// step for "go" or for every language runs against the embedded broker, and its outcome must be the
// one the suite states. Beyond the steps, every accepted send must have its result once the
// scenario's producers are closed (a refused send has no output to report).

type scStep struct {
	Op            string                       `json:"op"`
	Languages     []string                     `json:"languages"`
	WithinMS      int                          `json:"within_ms"`
	Options       map[string]json.RawMessage   `json:"options"`
	Name          string                       `json:"name"`
	Topic         string                       `json:"topic"`
	Config        map[string]string            `json:"config"`
	Partition     *int64                       `json:"partition"`
	FromOffset    int64                        `json:"from_offset"`
	As            string                       `json:"as"`
	Output        string                       `json:"output"`
	Outputs       string                       `json:"outputs"`
	TimeoutMS     *int64                       `json:"timeout_ms"`
	APIKey        uint16                       `json:"api_key"`
	Count         uint32                       `json:"count"`
	Code          int16                        `json:"code"`
	Level         json.RawMessage              `json:"level"`
	Records       []map[string]json.RawMessage `json:"records"`
	Expect        json.RawMessage              `json:"expect"`
	ExpectError   *scError                     `json:"expect_error"`
	ExpectAtLeast map[string]uint64            `json:"expect_at_least"`
	ExpectContain []map[string]json.RawMessage `json:"expect_contains"`
	ExpectAbsent  []string                     `json:"expect_absent"`
	raw           map[string]json.RawMessage
}

type scError struct {
	Code            string   `json:"code"`
	Retriable       *bool    `json:"retriable"`
	BrokerCode      *int16   `json:"broker_code"`
	MessageContains []string `json:"message_contains"`
	MessageNamesKey string   `json:"message_names_key"`
}

type scenario struct {
	Name  string            `json:"name"`
	Steps []json.RawMessage `json:"steps"`
}

type scRun struct {
	t        *testing.T
	broker   *TestBroker
	producer *Producer
	admin    *Admin
	outputs  map[string][]*ProduceOutput
	all      []*ProduceOutput
	logSet   bool
}

func TestScenarios(t *testing.T) {
	var suite struct {
		Scenarios []scenario `json:"scenarios"`
	}
	loadJSON(t, "tests/vectors/scenarios.json", &suite)
	if len(suite.Scenarios) == 0 {
		t.Fatal("no scenarios")
	}
	for _, sc := range suite.Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			r := &scRun{t: t, outputs: map[string][]*ProduceOutput{}}
			defer r.cleanup()
			for i, raw := range sc.Steps {
				var st scStep
				if err := json.Unmarshal(raw, &st); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if err := json.Unmarshal(raw, &st.raw); err != nil {
					t.Fatal(err)
				}
				if len(st.Languages) > 0 && !contains(st.Languages, "go") {
					continue
				}
				if err := r.guarded(&st); err != nil {
					t.Fatalf("step %d (%s): %v", i, st.Op, err)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// guarded runs a step under its hang guard (within_ms, else two minutes): not a timing assertion.
func (r *scRun) guarded(st *scStep) error {
	limit := 120 * time.Second
	if st.WithinMS > 0 {
		limit = time.Duration(st.WithinMS) * time.Millisecond
	}
	done := make(chan error, 1)
	go func() { done <- r.step(st) }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		return fmt.Errorf("hung past its guard of %v", limit)
	}
}

func (r *scRun) cleanup() {
	r.closeProducer()
	if r.admin != nil {
		r.admin.Close()
	}
	if r.broker != nil {
		r.broker.Stop()
	}
	if r.logSet {
		_ = SetLogger(nil, LogWarn)
	}
	for i, o := range r.all {
		select {
		case <-o.Done():
		case <-time.After(30 * time.Second):
			r.t.Errorf("output %d of an accepted send was never reported", i)
			return
		}
	}
}

func (r *scRun) closeProducer() {
	if r.producer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.producer.Close(ctx)
	r.producer = nil
}

// waitCtx is the step's timeout_ms as a context: none = no deadline, 0 = already expired.
func waitCtx(st *scStep) (context.Context, context.CancelFunc) {
	if st.TimeoutMS == nil {
		return context.WithCancel(context.Background())
	}
	return context.WithTimeout(context.Background(), time.Duration(*st.TimeoutMS)*time.Millisecond)
}

// outcome checks a call's error against expect_error (or success).
func outcome(st *scStep, err error) error {
	want := st.ExpectError
	if want == nil {
		if err != nil {
			return fmt.Errorf("expected success, got %v", err)
		}
		return nil
	}
	if err == nil {
		return fmt.Errorf("expected %s, got success", want.Code)
	}
	he, ok := err.(*Error)
	if !ok {
		return fmt.Errorf("expected a *Error, got %T: %v", err, err)
	}
	var problems []string
	if he.Code != want.Code {
		problems = append(problems, "code "+he.Code+", want "+want.Code)
	}
	if want.Retriable != nil && he.Retriable != *want.Retriable {
		problems = append(problems, fmt.Sprintf("retriable %v", he.Retriable))
	}
	if want.BrokerCode != nil && he.BrokerCode != *want.BrokerCode {
		problems = append(problems, fmt.Sprintf("broker code %d, want %d", he.BrokerCode, *want.BrokerCode))
	}
	for _, s := range want.MessageContains {
		if !strings.Contains(he.Message, s) {
			problems = append(problems, fmt.Sprintf("%q missing", s))
		}
	}
	// Config keys are passed as scenarios.json spells them (snake_case).
	if want.MessageNamesKey != "" && !strings.Contains(he.Message, want.MessageNamesKey) {
		problems = append(problems, "the key "+want.MessageNamesKey+" is not named")
	}
	if problems != nil {
		return fmt.Errorf("%s: %s", strings.Join(problems, "; "), he.Message)
	}
	return nil
}

// bytesOf reads `<name>`, `<name>_hex` or `<name>_fill`: nil when absent or null (no key).
func bytesOf(fields map[string]json.RawMessage, name string) ([]byte, error) {
	if raw, ok := fields[name]; ok {
		var s *string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		if s == nil {
			return nil, nil
		}
		return append([]byte{}, *s...), nil // non-nil even when empty: "" is an empty key
	}
	if raw, ok := fields[name+"_hex"]; ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		b, err := hex.DecodeString(s)
		return append([]byte{}, b...), err
	}
	if raw, ok := fields[name+"_fill"]; ok {
		var f struct {
			ByteHex string `json:"byte_hex"`
			Len     int    `json:"len"`
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, err
		}
		b, err := hex.DecodeString(f.ByteHex)
		if err != nil || len(b) != 1 {
			return nil, fmt.Errorf("bad value_fill %+v", f)
		}
		return bytes.Repeat(b, f.Len), nil
	}
	return nil, nil
}

func (r *scRun) need(what string, ok bool) error {
	if !ok {
		return fmt.Errorf("no %s (an earlier step should have made one)", what)
	}
	return nil
}

func topicOptions(opts map[string]json.RawMessage) (TopicOptions, error) {
	var o TopicOptions
	for k, raw := range opts {
		var err error
		switch k {
		case "partitions":
			err = json.Unmarshal(raw, &o.Partitions)
		case "replication":
			err = json.Unmarshal(raw, &o.Replication)
		case "compression":
			err = json.Unmarshal(raw, &o.Compression)
		case "retention_secs":
			err = json.Unmarshal(raw, &o.RetentionSecs)
		case "segment_size":
			err = json.Unmarshal(raw, &o.SegmentSize)
		case "max_partition_size":
			err = json.Unmarshal(raw, &o.MaxPartitionSize)
		default:
			err = fmt.Errorf("the runner does not know the topic option %q", k)
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

func (r *scRun) step(st *scStep) error {
	switch st.Op {
	case "start_broker":
		var o BrokerOptions
		for k, raw := range st.Options {
			var err error
			switch k {
			case "spus":
				err = json.Unmarshal(raw, &o.Spus)
			case "data_dir":
				err = json.Unmarshal(raw, &o.DataDir)
			case "sync":
				err = json.Unmarshal(raw, &o.Sync)
			default:
				err = fmt.Errorf("the runner does not know the broker option %q", k)
			}
			if err != nil {
				return err
			}
		}
		b, err := StartTestBroker(o)
		if err == nil {
			r.broker = b
		}
		return outcome(st, err)
	case "stop_broker":
		if err := r.need("broker", r.broker != nil); err != nil {
			return err
		}
		r.broker.Stop()
		r.broker.Stop() // twice is fine
		return nil
	case "create_topic", "admin_create_topic":
		o, err := topicOptions(st.Options)
		if err != nil {
			return err
		}
		if st.Op == "create_topic" {
			if err := r.need("broker", r.broker != nil); err != nil {
				return err
			}
			return outcome(st, r.broker.CreateTopic(st.Name, o))
		}
		if err := r.need("admin", r.admin != nil); err != nil {
			return err
		}
		return outcome(st, r.admin.CreateTopic(context.Background(), st.Name, o))
	case "read_back":
		return r.readBack(st)
	case "broker_pause", "broker_resume", "broker_fail_next":
		if err := r.need("broker", r.broker != nil); err != nil {
			return err
		}
		switch st.Op {
		case "broker_pause":
			return outcome(st, r.broker.Pause())
		case "broker_resume":
			return outcome(st, r.broker.Resume())
		}
		return outcome(st, r.broker.FailNext(st.APIKey, st.Count, st.Code))
	case "connect":
		if err := r.need("broker", r.broker != nil); err != nil {
			return err
		}
		r.closeProducer() // the new producer replaces it
		p, err := Connect(context.Background(), r.broker.Endpoint(), st.Topic, Config(st.Config))
		if err == nil {
			r.producer = p
		}
		return outcome(st, err)
	case "producer_state":
		return r.producerState(st)
	case "send", "send_to", "send_all":
		return r.send(st)
	case "wait", "wait_all":
		return r.wait(st)
	case "flush", "close":
		if err := r.need("producer", r.producer != nil); err != nil {
			return err
		}
		ctx, cancel := waitCtx(st)
		defer cancel()
		if st.Op == "flush" {
			return outcome(st, r.producer.Flush(ctx))
		}
		return outcome(st, r.producer.Close(ctx))
	case "stats":
		return r.stats(st)
	case "admin_connect":
		if err := r.need("broker", r.broker != nil); err != nil {
			return err
		}
		a, err := ConnectAdmin(context.Background(), r.broker.Endpoint(), nil)
		if err == nil {
			r.admin = a
		}
		return outcome(st, err)
	case "admin_delete_topic":
		if err := r.need("admin", r.admin != nil); err != nil {
			return err
		}
		return outcome(st, r.admin.DeleteTopic(context.Background(), st.Name))
	case "admin_list_topics":
		return r.listTopics(st)
	case "set_log_level":
		return r.setLogLevel(st)
	}
	return fmt.Errorf("the runner does not know the op %q", st.Op)
}

func (r *scRun) send(st *scStep) error {
	if err := r.need("producer", r.producer != nil); err != nil {
		return err
	}
	var outs []*ProduceOutput
	var err error
	switch st.Op {
	case "send_all":
		recs := make([]Record, len(st.Records))
		for i, rec := range st.Records {
			if recs[i].Key, err = bytesOf(rec, "key"); err != nil {
				return err
			}
			if recs[i].Value, err = bytesOf(rec, "value"); err != nil {
				return err
			}
		}
		outs, err = r.producer.SendAll(recs)
	default:
		key, kerr := bytesOf(st.raw, "key")
		value, verr := bytesOf(st.raw, "value")
		if kerr != nil || verr != nil {
			return fmt.Errorf("bad bytes: %v %v", kerr, verr)
		}
		var out *ProduceOutput
		if st.Op == "send_to" {
			if st.Partition == nil || *st.Partition < 0 {
				return fmt.Errorf("send_to needs an unsigned partition in Go")
			}
			out, err = r.producer.SendTo(uint32(*st.Partition), key, value)
		} else {
			out, err = r.producer.Send(key, value)
		}
		if out != nil {
			outs = []*ProduceOutput{out}
		}
	}
	if err != nil && outs != nil {
		return fmt.Errorf("a refused send returned outputs")
	}
	r.all = append(r.all, outs...)
	if st.As != "" {
		r.outputs[st.As] = outs
	}
	return outcome(st, err)
}

type scMeta struct {
	Topic     *string `json:"topic"`
	Partition *uint32 `json:"partition"`
	Offset    *int64  `json:"offset"`
}

func checkMeta(m RecordMetadata, want scMeta) error {
	switch {
	case want.Topic != nil && m.Topic != *want.Topic:
		return fmt.Errorf("topic %q, want %q", m.Topic, *want.Topic)
	case want.Partition != nil && m.Partition != *want.Partition:
		return fmt.Errorf("partition %d, want %d", m.Partition, *want.Partition)
	case want.Offset != nil && m.Offset != *want.Offset:
		return fmt.Errorf("offset %d, want %d", m.Offset, *want.Offset)
	}
	return nil
}

func (r *scRun) wait(st *scStep) error {
	name := st.Output
	if st.Op == "wait_all" {
		name = st.Outputs
	}
	outs, ok := r.outputs[name]
	if !ok {
		return fmt.Errorf("no output named %s", name)
	}
	var metas []scMeta
	if st.Op == "wait" {
		var m scMeta
		if len(st.Expect) > 0 && string(st.Expect) != `"ok"` {
			if err := json.Unmarshal(st.Expect, &m); err != nil {
				return err
			}
		}
		metas = []scMeta{m}
	} else if err := json.Unmarshal(st.Expect, &metas); err != nil {
		return err
	}
	if len(metas) != len(outs) {
		return fmt.Errorf("expected %d outputs, the send made %d", len(metas), len(outs))
	}
	for i, o := range outs {
		ctx, cancel := waitCtx(st)
		m, err := o.Wait(ctx)
		cancel()
		if err := outcome(st, err); err != nil {
			return fmt.Errorf("output %d: %w", i, err)
		}
		if st.ExpectError != nil {
			continue
		}
		if m.Partition != o.Partition() {
			return fmt.Errorf("output %d: delivered to partition %d, assigned %d", i, m.Partition, o.Partition())
		}
		if err := checkMeta(m, metas[i]); err != nil {
			return fmt.Errorf("output %d: %w", i, err)
		}
	}
	return nil
}

func (r *scRun) producerState(st *scStep) error {
	if err := r.need("producer", r.producer != nil); err != nil {
		return err
	}
	var want struct {
		Topic          *string `json:"topic"`
		PartitionCount *uint32 `json:"partition_count"`
		Compression    *string `json:"compression"`
		Closed         *bool   `json:"closed"`
	}
	if err := json.Unmarshal(st.Expect, &want); err != nil {
		return err
	}
	p := r.producer
	switch {
	case want.Topic != nil && p.Topic() != *want.Topic:
		return fmt.Errorf("topic %q", p.Topic())
	case want.PartitionCount != nil && p.PartitionCount() != *want.PartitionCount:
		return fmt.Errorf("partition count %d", p.PartitionCount())
	case want.Compression != nil && p.Compression() != *want.Compression:
		return fmt.Errorf("compression %q", p.Compression())
	case want.Closed != nil && p.Closed() != *want.Closed:
		return fmt.Errorf("closed %v", p.Closed())
	}
	return nil
}

// statField is the ProducerStats field of a config.json stats name (records_sent -> RecordsSent).
func statField(s ProducerStats, name string) (uint64, error) {
	var goName strings.Builder
	for _, part := range strings.Split(name, "_") {
		goName.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	f := reflect.ValueOf(s).FieldByName(goName.String())
	if !f.IsValid() {
		return 0, fmt.Errorf("ProducerStats has no field %s (%s)", goName.String(), name)
	}
	return f.Uint(), nil
}

func (r *scRun) stats(st *scStep) error {
	if err := r.need("producer", r.producer != nil); err != nil {
		return err
	}
	s := r.producer.Stats()
	var exact map[string]uint64
	if err := json.Unmarshal(st.Expect, &exact); err != nil {
		return err
	}
	for name, want := range exact {
		got, err := statField(s, name)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s = %d, want %d (%+v)", name, got, want, s)
		}
	}
	for name, want := range st.ExpectAtLeast {
		got, err := statField(s, name)
		if err != nil {
			return err
		}
		if got < want {
			return fmt.Errorf("%s = %d, want at least %d", name, got, want)
		}
	}
	return nil
}

func (r *scRun) readBack(st *scStep) error {
	if err := r.need("broker", r.broker != nil); err != nil {
		return err
	}
	if st.Partition == nil {
		return fmt.Errorf("read_back needs a partition")
	}
	recs, err := r.broker.Records(st.Topic, uint32(*st.Partition), st.FromOffset)
	if st.ExpectError != nil || err != nil {
		return outcome(st, err)
	}
	var want []map[string]json.RawMessage
	if err := json.Unmarshal(st.Expect, &want); err != nil {
		return err
	}
	if len(recs) != len(want) {
		return fmt.Errorf("expected %d records, the broker holds %d", len(want), len(recs))
	}
	for i, w := range want {
		var off int64
		if err := json.Unmarshal(w["offset"], &off); err != nil {
			return err
		}
		key, err := bytesOf(w, "key")
		if err != nil {
			return err
		}
		value, err := bytesOf(w, "value")
		if err != nil {
			return err
		}
		got := recs[i]
		switch {
		case got.Offset != off:
			return fmt.Errorf("record %d: offset %d, want %d", i, got.Offset, off)
		case (key == nil) != (got.Key == nil) || !bytes.Equal(key, got.Key):
			return fmt.Errorf("record %d: key %q (nil %v), want %q (nil %v)", i, got.Key, got.Key == nil, key, key == nil)
		case !bytes.Equal(value, got.Value):
			return fmt.Errorf("record %d: value %q, want %q", i, got.Value, value)
		}
	}
	return nil
}

func (r *scRun) listTopics(st *scStep) error {
	if err := r.need("admin", r.admin != nil); err != nil {
		return err
	}
	topics, err := r.admin.ListTopics(context.Background())
	if st.ExpectError != nil || err != nil {
		return outcome(st, err)
	}
	for _, want := range st.ExpectContain {
		found := false
		for _, tp := range topics {
			got := map[string]any{"name": tp.Name, "partitions": tp.Partitions, "replication": tp.Replication,
				"compression": tp.Compression, "retention_secs": tp.RetentionSecs, "status": tp.Status}
			match := true
			for k, raw := range want {
				g, ok := got[k]
				if !ok {
					return fmt.Errorf("the runner does not know the TopicInfo field %q", k)
				}
				gj, _ := json.Marshal(g)
				if !bytes.Equal(bytes.TrimSpace(raw), gj) {
					match = false
				}
			}
			found = found || match
		}
		if !found {
			return fmt.Errorf("no listed topic matches %s (listed: %+v)", mustJSON(want), topics)
		}
	}
	for _, name := range st.ExpectAbsent {
		for _, tp := range topics {
			if tp.Name == name {
				return fmt.Errorf("%s is still listed", name)
			}
		}
	}
	return nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (r *scRun) setLogLevel(st *scStep) error {
	discard := func(LogLevel, string, string) {}
	r.logSet = true
	var name string
	if err := json.Unmarshal(st.Level, &name); err == nil {
		l, err := ParseLogLevel(name)
		if err != nil {
			return outcome(st, err)
		}
		return outcome(st, SetLogger(discard, l))
	}
	var n int
	if err := json.Unmarshal(st.Level, &n); err != nil {
		return fmt.Errorf("level %s is neither a name nor a number", st.Level)
	}
	return outcome(st, SetLogger(discard, LogLevel(n)))
}

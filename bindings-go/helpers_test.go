package headwater

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// repo is the repository root (bindings-go's parent).
var repo = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}()

func loadJSON(t *testing.T, rel string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repo, rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// startBroker starts a broker stopped when the test ends.
func startBroker(t *testing.T, opts BrokerOptions) *TestBroker {
	t.Helper()
	b, err := StartTestBroker(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	return b
}

// connect connects a producer closed when the test ends (bounded: a test may leave the broker paused).
func connect(t *testing.T, b *TestBroker, topic string, cfg Config) *Producer {
	t.Helper()
	p, err := Connect(context.Background(), b.Endpoint(), topic, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

func createTopic(t *testing.T, b *TestBroker, name string, partitions int) {
	t.Helper()
	if err := b.CreateTopic(name, TopicOptions{Partitions: partitions}); err != nil {
		t.Fatal(err)
	}
}

// guard is a hang guard for one wait (not a timing assertion).
func guard(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// expired is a context that has already ended: "don't wait".
func expired() context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	cancel()
	return ctx
}

// wantCode fails unless err is an *Error with code (checked both ways: errors.Is and errors.As).
func wantCode(t *testing.T, err error, code string) *Error {
	t.Helper()
	var he *Error
	if !errors.As(err, &he) {
		t.Fatalf("want a %s *Error, got %T %v", code, err, err)
	}
	if he.Code != code || !errors.Is(err, sentinelOf(code)) {
		t.Fatalf("want %s, got %s: %s", code, he.Code, he.Message)
	}
	return he
}

var sentinels = []*Error{ErrConfig, ErrTimeout, ErrQueueFull, ErrRecordTooLarge, ErrUnknownTopic,
	ErrUnknownPartition, ErrCompression, ErrTransport, ErrProtocol, ErrBroker, ErrClosed, ErrForked,
	ErrInvalidArgument, ErrInternal}

func sentinelOf(code string) *Error {
	for _, s := range sentinels {
		if s.Code == code {
			return s
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

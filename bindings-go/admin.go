package headwater

// #include <stdlib.h>
// #include "headwater.h"
import "C"

import (
	"context"
	"runtime"
	"sort"
	"sync"
	"unsafe"
)

// Admin administers topics over the network. Close it when done (one the garbage collector finds
// open is freed). Its methods are safe for concurrent use; after Close they fail with CLOSED.
type Admin struct {
	mu  sync.RWMutex // calls (read) against Close (write)
	ptr *C.hw_admin
}

// ConnectAdmin connects to the SC at endpoint. opts are the producer's five client TLS keys (tls,
// tls_ca_file, tls_cert_file, tls_key_file, tls_server_name); nil = plaintext. A bad key or value is
// CONFIG naming it; a failed handshake, TRANSPORT.
func ConnectAdmin(ctx context.Context, endpoint string, opts Config) (*Admin, error) {
	if err := ctxReady(ctx, "connecting the admin"); err != nil {
		return nil, err
	}
	ps := make(pairs, 0, len(opts))
	for k, v := range opts {
		ps = append(ps, [2]string{k, v})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i][0] < ps[j][0] })
	keys, values, free, err := cPairs(ps)
	if err != nil {
		return nil, err
	}
	cend, err := cString("endpoint", endpoint)
	if err != nil {
		free()
		return nil, err
	}
	var out *C.hw_admin
	err = blockingCall(ctx, "connecting the admin", func() error {
		defer free()
		defer C.free(unsafe.Pointer(cend))
		return takeError(C.hw_admin_connect_with(cend, &keys[0], &values[0], C.size_t(len(keys)-1), &out))
	}, func(err error) {
		if err == nil {
			C.hw_admin_free(out)
		}
	})
	if err != nil {
		return nil, err
	}
	a := &Admin{ptr: out}
	runtime.SetFinalizer(a, (*Admin).Close)
	return a, nil
}

// Close frees the admin. Closing twice is fine.
func (a *Admin) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ptr != nil {
		C.hw_admin_free(a.ptr)
		a.ptr = nil
		runtime.SetFinalizer(a, nil)
	}
	return nil
}

// call runs f under ctx, unless the admin was closed; release (what f uses) runs once either way.
// ctx may end first: f then finishes in the background, and Close waits for it.
func (a *Admin) call(ctx context.Context, what, name string, release func(), f func(*C.hw_admin, *C.char) *C.hw_error) error {
	if err := ctxReady(ctx, what); err != nil {
		release()
		return err
	}
	cname, err := cString("name", name)
	if err != nil {
		release()
		return err
	}
	return blockingCall(ctx, what, func() error {
		defer release()
		defer C.free(unsafe.Pointer(cname))
		a.mu.RLock()
		defer a.mu.RUnlock()
		if a.ptr == nil {
			return newError(ErrClosed, "the admin was closed")
		}
		return takeError(f(a.ptr, cname))
	}, nil)
}

// CreateTopic creates a topic and waits until it is usable. Existing: BROKER 2002; invalid name:
// BROKER 2006; more replication than SPUs: BROKER 2005; a count out of range: INVALID_ARGUMENT.
func (a *Admin) CreateTopic(ctx context.Context, name string, opts TopicOptions) error {
	keys, values, free, err := cPairs(opts.pairs())
	if err != nil {
		return err
	}
	return a.call(ctx, "creating a topic", name, free, func(p *C.hw_admin, cname *C.char) *C.hw_error {
		return C.hw_admin_create_topic_with(p, cname, &keys[0], &values[0], C.size_t(len(keys)-1))
	})
}

// DeleteTopic deletes a topic and waits until it is gone; an unknown one is UNKNOWN_TOPIC.
func (a *Admin) DeleteTopic(ctx context.Context, name string) error {
	return a.call(ctx, "deleting a topic", name, func() {}, func(p *C.hw_admin, cname *C.char) *C.hw_error {
		return C.hw_admin_delete_topic(p, cname)
	})
}

// TopicInfo is a topic as ListTopics reports it.
type TopicInfo struct {
	Name        string
	Partitions  int
	Replication int
	// Compression is the policy: any, none, gzip, snappy, lz4 or zstd.
	Compression string
	// RetentionSecs is the retention in seconds; 0 when the topic has none.
	RetentionSecs int64
	// Status is the SC's resolution ("Provisioned", ...).
	Status string
}

// ListTopics lists the user (non-system) topics.
func (a *Admin) ListTopics(ctx context.Context) ([]TopicInfo, error) {
	var out []TopicInfo
	err := a.call(ctx, "listing topics", "", func() {}, func(p *C.hw_admin, _ *C.char) *C.hw_error {
		var list *C.hw_topic_list
		if e := C.hw_admin_list_topics(p, &list); e != nil {
			return e
		}
		defer C.hw_topic_list_free(list)
		n := int(C.hw_topic_list_len(list))
		topics := make([]TopicInfo, n)
		for i := range topics {
			var t C.hw_topic_info
			if e := C.hw_topic_list_get(list, C.size_t(i), &t); e != nil {
				return e
			}
			topics[i] = TopicInfo{
				Name:          C.GoString(t.name),
				Partitions:    int(t.partitions),
				Replication:   int(t.replication),
				Compression:   C.GoString(t.compression),
				RetentionSecs: max(int64(t.retention_secs), 0),
				Status:        C.GoString(t.status),
			}
		}
		out = topics
		return nil
	})
	if err != nil {
		return nil, err // out may still be written by a call ctx abandoned
	}
	return out, nil
}

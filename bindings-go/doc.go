// Package headwater is the Go binding of Headwater, a Fluvio-protocol producer with an embedded
// broker: the same Producer as the Rust, Python, Node, Java and C APIs, over the C ABI
// (include/headwater.h), linked statically against libheadwater.a.
//
// Connect a producer, send (it returns at once with a *ProduceOutput), wait for a record's metadata
// with ProduceOutput.Wait or select on ProduceOutput.Done, Flush, Close:
//
//	p, err := headwater.Connect(ctx, endpoint, "events", headwater.Config{"linger_ms": "10"})
//	out, err := p.Send([]byte("user-1"), []byte("clicked"))
//	meta, err := out.Wait(ctx)
//	err = p.Close(ctx)
//
// Configuration keys are the snake_case keys of every language (README "Configuration"); core
// validates them. A nil key is no key, an empty non-nil key is an empty key (they partition
// differently). Every call that can wait takes a context.Context: no deadline waits as long as it
// takes, an expired context does not wait, and a wait the context ends fails with TIMEOUT without
// dropping anything. Every error is an *Error (see the Err* sentinels).
package headwater

// #cgo CFLAGS: -I${SRCDIR}/../include -Wall
import "C"

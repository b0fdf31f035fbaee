package headwater

// #include "hwgo.h"
import "C"

import (
	"fmt"
	"os"
	"unsafe"
)

// hwgoDeliver receives the results of one completed batch (hwgo.c passes it to the library as the
// hw_deliveries_cb of every send), from a library thread: each sent record exactly once, its ctx the
// handle of its *ProduceOutput (handles.go). One call per batch, not per record: crossing from a
// library thread into Go is the costly part.
//
//export hwgoDeliver
func hwgoDeliver(deliveries *C.hw_delivery, n C.size_t) {
	ds := unsafe.Slice(deliveries, int(n)) // library memory, valid during the call
	var buf [handleRun]*ProduceOutput
	var err error
	for start := 0; start < len(ds); start += len(buf) {
		chunk := ds[start:min(start+len(buf), len(ds))]
		// The contexts are handles (integers in pointer fields): read them as integers.
		takeHandles(func(i int) uintptr { return *(*uintptr)(unsafe.Pointer(&chunk[i].ctx)) }, len(chunk), buf[:])
		for i := range chunk {
			d, out := &chunk[i], buf[i]
			if d.err != nil {
				if err == nil { // a batch fails as a whole: one error for its records
					err = errorOf(d.err) // the library owns d.err
				}
				out.complete(RecordMetadata{}, err)
				continue
			}
			out.complete(RecordMetadata{
				Topic:     out.core.topic,
				Partition: uint32(d.partition),
				Offset:    int64(d.offset),
				Timestamp: int64(d.timestamp),
			}, nil)
		}
	}
}

// hwgoLog is the log callback while a sink is set (SetLogger), from any thread.
//
//export hwgoLog
func hwgoLog(level C.int, target, message *C.char) {
	sink := logSink.Load()
	if sink == nil {
		return
	}
	defer func() {
		// A panic must not unwind into the library's frames (that would abort the process).
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "headwater: the log sink panicked: %v\n", r)
		}
	}()
	(*sink)(LogLevel(level), C.GoString(target), C.GoString(message))
}

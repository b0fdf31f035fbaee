package headwater

// #include "headwater.h"
import "C"

import (
	"context"
	"errors"
	"math"
	"time"
)

var errNilContext = newError(ErrInvalidArgument, "`ctx` must not be nil")

// timeoutMS is a context's deadline as the C ABI's uint32 milliseconds: HW_WAIT_FOREVER without a
// deadline, HW_NO_WAIT once it has passed, else rounded up (C then times out no earlier than ctx).
func timeoutMS(ctx context.Context) (ms C.uint32_t, bounded bool) {
	dl, ok := ctx.Deadline()
	if !ok {
		return C.HW_WAIT_FOREVER, false
	}
	left := time.Until(dl)
	if left <= 0 || ctx.Err() != nil {
		return C.HW_NO_WAIT, true
	}
	n := (left + time.Millisecond - 1) / time.Millisecond
	if n >= math.MaxUint32 {
		n = math.MaxUint32 - 1
	}
	return C.uint32_t(n), true
}

// waitCall runs a C call that waits at most its timeout argument (flush, close) under ctx: the
// deadline becomes the timeout, an expired context does not wait, and a cancellation returns TIMEOUT
// at once while the call finishes in the background.
func waitCall(ctx context.Context, what string, call func(C.uint32_t) *C.hw_error) error {
	if ctx == nil {
		return errNilContext
	}
	ms, bounded := timeoutMS(ctx)
	if ctx.Done() == nil || ms == C.HW_NO_WAIT {
		return takeError(call(ms))
	}
	done := make(chan error, 1)
	go func() { done <- takeError(call(ms)) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if bounded && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The call has the same deadline, so its own answer follows at once; it may be a delivery
			// failure that a later flush would no longer report.
			return <-done
		}
		return timeoutError(what, ctx.Err())
	}
}

// blockingCall runs a call that has no timeout of its own (connect, admin requests) under ctx: a
// context that ends first returns TIMEOUT while the call finishes in the background; late (if not
// nil) then receives its result, to free what it made. Callers check ctxReady first, so that call
// always runs (it frees what it uses).
func blockingCall(ctx context.Context, what string, call func() error, late func(error)) error {
	if ctx.Done() == nil {
		return call()
	}
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if late != nil {
			go func() { late(<-done) }()
		}
		return timeoutError(what, ctx.Err())
	}
}

// ctxReady refuses a nil context, and an expired one for a call that cannot complete without waiting.
func ctxReady(ctx context.Context, what string) error {
	if ctx == nil {
		return errNilContext
	}
	if err := ctx.Err(); err != nil {
		return timeoutError(what, err)
	}
	return nil
}

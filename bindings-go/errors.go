package headwater

// #include <stdlib.h>
// #include "headwater.h"
import "C"

import (
	"fmt"
	"strings"
)

// Error is the one error type of the package: every failure the library reports is an *Error with
// the code string and number of tests/vectors/errors.json, whether retrying may succeed, and the
// Fluvio error code of a BROKER error. Compare kinds with errors.Is and the sentinels
// (errors.Is(err, headwater.ErrQueueFull)); errors.As gives the facts.
type Error struct {
	// Code is the stable code string ("QUEUE_FULL").
	Code string
	// Number is the stable number (1 to 14), the C enum hw_error_kind.
	Number int
	// Retriable tells whether retrying the operation may succeed.
	Retriable bool
	// BrokerCode is the Fluvio error code of a BROKER error; 0 for every other code.
	BrokerCode int16
	// Message is core's text: "[CODE] text", for BROKER "[BROKER <n> <Name>] text".
	Message string
	// cause is what ended a wait on the Go side (a context's error), for errors.Is/As.
	cause error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Is reports whether target is an *Error with the same code: errors.Is(err, ErrTimeout).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Unwrap returns the context error that ended a wait (context.DeadlineExceeded or
// context.Canceled) for a TIMEOUT raised by a context, else nil.
func (e *Error) Unwrap() error { return e.cause }

func sentinel(code string, number int, retriable bool) *Error {
	return &Error{Code: code, Number: number, Retriable: retriable, Message: "[" + code + "]"}
}

// Sentinels, one per code of errors.json, for errors.Is (which compares codes).
var (
	ErrConfig           = sentinel("CONFIG", 1, false)
	ErrTimeout          = sentinel("TIMEOUT", 2, true)
	ErrQueueFull        = sentinel("QUEUE_FULL", 3, false)
	ErrRecordTooLarge   = sentinel("RECORD_TOO_LARGE", 4, false)
	ErrUnknownTopic     = sentinel("UNKNOWN_TOPIC", 5, false)
	ErrUnknownPartition = sentinel("UNKNOWN_PARTITION", 6, false)
	ErrCompression      = sentinel("COMPRESSION", 7, false)
	ErrTransport        = sentinel("TRANSPORT", 8, true)
	ErrProtocol         = sentinel("PROTOCOL", 9, false)
	// ErrBroker matches every BROKER error; its BrokerCode says which Fluvio error it was.
	ErrBroker          = sentinel("BROKER", 10, false)
	ErrClosed          = sentinel("CLOSED", 11, false)
	ErrForked          = sentinel("FORKED", 12, false)
	ErrInvalidArgument = sentinel("INVALID_ARGUMENT", 13, false)
	ErrInternal        = sentinel("INTERNAL", 14, false)
)

// errorOf copies a library error (not freed: see takeError).
func errorOf(e *C.hw_error) *Error {
	return &Error{
		Code:       C.GoString(C.hw_error_code(e)),
		Number:     int(C.hw_error_number(e)),
		Retriable:  bool(C.hw_error_is_retriable(e)),
		BrokerCode: int16(C.hw_error_broker_code(e)),
		Message:    C.GoString(C.hw_error_message(e)),
	}
}

// takeError converts and frees an error the caller owns; nil (an untyped nil error) for success.
func takeError(e *C.hw_error) error {
	if e == nil {
		return nil
	}
	defer C.hw_error_free(e)
	return errorOf(e)
}

// newError is an error made on the Go side (arguments cgo cannot pass, waits a context ended),
// with the facts of its sentinel and the message format of core.
func newError(kind *Error, format string, args ...any) *Error {
	return &Error{
		Code:      kind.Code,
		Number:    kind.Number,
		Retriable: kind.Retriable,
		Message:   "[" + kind.Code + "] " + fmt.Sprintf(format, args...),
	}
}

// timeoutError is the TIMEOUT of a wait a context ended; the records stay queued or in flight.
func timeoutError(what string, cause error) *Error {
	e := newError(ErrTimeout, "%s: %v (nothing was dropped: the records stay queued or in flight)", what, cause)
	e.cause = cause
	return e
}

// rangeError is core's range message (api.json vocabulary.ranges), for values cgo cannot carry to
// core unchanged (a negative number where C takes an unsigned one).
func rangeError(name string, lo, hi, got int64) *Error {
	return newError(ErrInvalidArgument, "`%s` must be in %d..=%d, got %d", name, lo, hi, got)
}

// cString copies s for C; a NUL inside would silently cut it, so it is refused.
func cString(name, s string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, newError(ErrInvalidArgument, "`%s` contains a NUL byte", name)
	}
	return C.CString(s), nil
}

// codeName is hw_error_code_name: the code string of an error number ("" outside the enum).
func codeName(number int) string {
	s := C.hw_error_code_name(C.int32_t(number))
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

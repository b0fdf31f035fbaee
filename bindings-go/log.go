package headwater

// #include <stdlib.h>
// #include "hwgo.h"
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"unsafe"
)

// LogLevel is the one order of log levels of every language: LogOff (nothing) to LogTrace
// (everything).
type LogLevel int

// The levels, numbered as in every language (api.json vocabulary.log_levels).
const (
	LogOff LogLevel = iota
	LogError
	LogWarn
	LogInfo
	LogDebug
	LogTrace
)

var levelNames = [...]string{"off", "error", "warn", "info", "debug", "trace"}

// String is the level's name ("warn"), or its number outside the order.
func (l LogLevel) String() string {
	if l >= 0 && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "LogLevel(" + strconv.Itoa(int(l)) + ")"
}

// ParseLogLevel is the level named name ("off", "error", "warn", "info", "debug" or "trace", in any
// case), as HEADWATER_LOG is read; another name is CONFIG naming log_level.
func ParseLogLevel(name string) (LogLevel, error) {
	cname, err := cString("log_level", name)
	if err != nil {
		return 0, err
	}
	defer C.free(unsafe.Pointer(cname))
	var l C.hw_log_level
	if err := takeError(C.hw_log_level_parse(cname, &l)); err != nil {
		return 0, err
	}
	return LogLevel(l), nil
}

// logSink is the sink SetLogger installed (nil: events are dropped until the C side is reset).
var logSink atomic.Pointer[func(level LogLevel, target, message string)]

// SetLogger routes the library's log events at level and more severe to sink(level, target,
// message), called from library threads (it must not block for long); LogOff forwards nothing.
// A level outside LogOff..LogTrace is INVALID_ARGUMENT. A nil sink restores the default: warnings and
// errors on stderr, or the level the HEADWATER_LOG variable names. Process-wide; a later call
// replaces the sink.
func SetLogger(sink func(level LogLevel, target, message string), level LogLevel) error {
	if level < 0 {
		// C takes a uint32: a negative level is reported here, in core's words (core checks the rest).
		return rangeError("log_level", 0, int64(LogTrace), int64(level))
	}
	if sink == nil {
		if err := takeError(C.hwgo_set_log_callback(0, C.uint32_t(level))); err != nil {
			return err
		}
		logSink.Store(nil)
		return nil
	}
	prev := logSink.Swap(&sink)
	if err := takeError(C.hwgo_set_log_callback(1, C.uint32_t(level))); err != nil {
		logSink.Store(prev)
		return err
	}
	return nil
}

// logInternal reports a problem of the binding itself: to the sink if one is set, else on stderr
// (the default sink's place).
func logInternal(level LogLevel, target, message string) {
	if sink := logSink.Load(); sink != nil {
		(*sink)(level, target, message)
		return
	}
	fmt.Fprintf(os.Stderr, "%s %s: %s\n", level, target, message)
}

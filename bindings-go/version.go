package headwater

// #include "headwater.h"
import "C"

// Version is the library's version ("0.1.0"), the same in every language.
func Version() string { return C.GoString(C.hw_version()) }

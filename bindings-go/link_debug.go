//go:build !headwater_release

package headwater

// The dev-profile library `make -C ../bindings-c build` writes (the default, what `make test` uses).

// #cgo LDFLAGS: ${SRCDIR}/../target/debug/libheadwater.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
import "C"

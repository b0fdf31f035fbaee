//go:build headwater_release

package headwater

// `-tags headwater_release`: the release-profile library (`cargo build -p headwater-c --release`),
// what the benchmark and production builds link.

// #cgo LDFLAGS: ${SRCDIR}/../target/release/libheadwater.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
import "C"

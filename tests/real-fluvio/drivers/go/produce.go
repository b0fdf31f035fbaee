// Produce driver for the Go binding (format: ../README.md). Its own module (go.mod
// here, the binding through a replace line), built by build.sh.
package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"

	headwater "github.com/headwater-io/headwater-go"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "produce.go: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: produce ENDPOINT TOPIC CODEC [key=value ...]")
		os.Exit(2)
	}
	cfg := headwater.Config{"compression": os.Args[3]}
	for _, kv := range os.Args[4:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			os.Exit(2)
		}
		cfg[k] = v
	}
	ctx := context.Background()
	p, err := headwater.Connect(ctx, os.Args[1], os.Args[2], cfg)
	if err != nil {
		fail("connect: %v", err)
	}

	var outs []*headwater.ProduceOutput
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<16), 1<<24)
	for in.Scan() {
		words := strings.Fields(in.Text())
		if len(words) == 0 {
			continue
		}
		if len(words) != 3 {
			fail("bad line %q", in.Text())
		}
		var key []byte // nil: no key; a non-nil empty slice: the empty key
		if words[1] != "-" {
			if key, err = hex.DecodeString(strings.TrimPrefix(words[1], "=")); err != nil {
				fail("key: %v", err)
			}
			if key == nil {
				key = []byte{}
			}
		}
		value, err := hex.DecodeString(words[2])
		if err != nil {
			fail("value: %v", err)
		}
		var out *headwater.ProduceOutput
		if words[0] == "-" {
			out, err = p.Send(key, value)
		} else {
			part, perr := strconv.ParseUint(words[0], 10, 32)
			if perr != nil {
				fail("partition: %v", perr)
			}
			out, err = p.SendTo(uint32(part), key, value)
		}
		if err != nil {
			fail("send: %v", err)
		}
		outs = append(outs, out)
	}
	if err := in.Err(); err != nil {
		fail("stdin: %v", err)
	}
	if err := p.Flush(ctx); err != nil {
		fail("flush: %v", err)
	}
	w := bufio.NewWriter(os.Stdout)
	for i, out := range outs {
		meta, err := out.Wait(ctx)
		if err != nil {
			fail("record %d: %v", i, err)
		}
		fmt.Fprintf(w, "%d %d\n", meta.Partition, meta.Offset)
	}
	if err := w.Flush(); err != nil {
		fail("stdout: %v", err)
	}
	if err := p.Close(ctx); err != nil {
		fail("close: %v", err)
	}
}

"""Produce driver for the Python binding (format: README.md beside this file)."""

import sys

from headwater import Producer


def parse(line: str):
    part, key, value = line.split()
    return (
        None if part == "-" else int(part),
        None if key == "-" else bytes.fromhex(key[1:]),
        bytes.fromhex(value),
    )


def main() -> int:
    endpoint, topic, codec, *extra = sys.argv[1:]
    config = dict(kv.split("=", 1) for kv in extra)
    config["compression"] = codec
    records = [parse(line) for line in sys.stdin if line.strip()]
    with Producer.connect(endpoint, topic, **config) as p:
        outs = [p.send(key, value, partition=part) for part, key, value in records]
        p.flush()
        for out in outs:
            meta = out.wait()
            print(meta.partition, meta.offset)
    return 0


if __name__ == "__main__":
    sys.exit(main())

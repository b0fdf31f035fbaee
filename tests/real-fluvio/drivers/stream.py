"""Streams keyless records at a steady rate through the Python binding and records every result.

    stream.py ENDPOINT TOPIC RATE SECONDS OUT.json [key=value ...]   (extra args: producer config)

Record i carries the value `i` (decimal). Prints `STARTED` once connected (so a test can time its
faults), then sends for SECONDS, flushes and waits on every output. OUT.json gets
{"sent": n, "acked": {i: offset}, "failed": {i: [code, message]}, "stats": {...}, "seconds": s}.
"""

import dataclasses
import json
import sys
import time

from headwater import HeadwaterError, Producer


def main() -> int:
    endpoint, topic, rate, seconds, out_path, *extra = sys.argv[1:]
    config = dict(kv.split("=", 1) for kv in extra)
    rate_f, seconds_f = float(rate), float(seconds)
    p = Producer.connect(endpoint, topic, **config)
    print("STARTED", flush=True)
    outs = []
    start = time.monotonic()
    send_errors = {}
    while (now := time.monotonic() - start) < seconds_f:
        due = int(now * rate_f)
        while len(outs) + len(send_errors) < due:
            i = len(outs) + len(send_errors)
            try:
                outs.append((i, p.send(None, str(i).encode())))
            except HeadwaterError as e:  # e.g. QueueFull while the partition has no leader
                send_errors[i] = [e.code, str(e)]
        time.sleep(0.005)
    try:
        p.flush()
    except HeadwaterError:
        pass  # each record's own result is collected below
    acked, failed = {}, dict(send_errors)
    for i, out in outs:
        try:
            acked[i] = out.wait().offset
        except HeadwaterError as e:
            failed[i] = [e.code, str(e)]
    stats = p.stats()
    p.close()
    with open(out_path, "w") as f:
        json.dump({"sent": len(outs) + len(send_errors), "acked": acked, "failed": failed,
                   "stats": dataclasses.asdict(stats),
                   "seconds": time.monotonic() - start}, f)
    print("DONE", len(acked), len(failed), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

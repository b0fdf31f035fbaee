"""Soak-test producer through the Python binding; same contract as core/examples/soak_producer.rs.

usage: py_producer.py ENDPOINT TOPIC SECONDS OUT_FILE LABEL
"""
import sys
import time

from headwater import HeadwaterError, Producer


def main() -> None:
    endpoint, topic, seconds, out_file, label = sys.argv[1:6]
    p = Producer.connect(
        endpoint,
        topic,
        linger_ms=5,
        retry_backoff_ms=50,
        retry_backoff_max_ms=1000,
        max_retries=1000,
        delivery_timeout_ms=30000,
        metadata_timeout_ms=30000,
    )
    sent = []
    seq = [0] * 8
    start = time.monotonic()
    while time.monotonic() - start < float(seconds):
        for _ in range(20):
            k = len(sent) % 8
            key = f"{label}-k{k}"
            value = f"{key}:{seq[k]}"
            seq[k] += 1
            try:
                sent.append((value, p.send(key, value), None))
            except HeadwaterError as e:
                sent.append((value, None, e.code))
        time.sleep(0.01)
    try:
        p.close(timeout=90)
    except HeadwaterError:
        pass
    with open(out_file, "w") as f:
        for value, out, early in sent:
            if out is None:
                f.write(f"err {value} {early}\n")
            elif not out.done():
                f.write(f"pending {value}\n")
            else:
                try:
                    m = out.wait(timeout=0)
                    f.write(f"ok {value} {m.partition} {m.offset}\n")
                except HeadwaterError as e:
                    f.write(f"err {value} {e.code}\n")


if __name__ == "__main__":
    main()

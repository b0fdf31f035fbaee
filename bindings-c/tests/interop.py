#!/usr/bin/env python3
"""Records produced from C are read back intact by the OFFICIAL Fluvio Python client (fluvio==0.21.0).

Usage: interop.py INTEROP_PRODUCE_BIN VENV_PYTHON OFFICIAL_PY
Runs the C helper (tests/interop_produce.c), which keeps its embedded broker up until its stdin closes,
then `official_py.py consume` for every topic/partition with a hard timeout, and compares offsets, keys
(NULL stays null) and values. Prints "interop: N passed, M failed".
"""
import json
import os
import subprocess
import sys

COUNT = 40
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def main() -> int:
    helper, python, official = sys.argv[1:4]
    env = dict(os.environ, FLV_METADATA_TIMEOUT="5000", FLV_SOCKET_WAIT="10")
    proc = subprocess.Popen([helper], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    passed = failed = 0
    try:
        line = proc.stdout.readline().strip()
        if not line.startswith("ENDPOINT "):
            print(f"interop: the C helper did not start: {line!r}", file=sys.stderr)
            print("interop: 0 passed, 1 failed")
            return 1
        endpoint = line.split()[1]
        targets = [(f"c-interop-{c}", 0) for c in CODECS] + [("c-interop-parts", p) for p in range(3)]
        for topic, partition in targets:
            cmd = [python, official, "consume", "--endpoint", endpoint, "--topic", topic,
                   "--partition", str(partition), "--count", str(COUNT)]
            try:
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
            except subprocess.TimeoutExpired:
                print(f"FAIL {topic}/{partition}: official client timed out")
                failed += 1
                continue
            if out.returncode != 0:
                print(f"FAIL {topic}/{partition}: official client exited {out.returncode}: {out.stderr.strip()[-500:]}")
                failed += 1
                continue
            got = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
            want = [{"offset": i, "key": f"k-{i}" if i % 2 == 0 else None, "value": f"v-{topic}-{i}"}
                    for i in range(COUNT)]
            seen = [{"offset": r["offset"], "key": r["key"], "value": r["value"]} for r in got]
            if seen == want:
                print(f"ok   {topic}/{partition}: {len(got)} records read back by fluvio (Python) intact")
                passed += 1
            else:
                print(f"FAIL {topic}/{partition}: got {seen[:3]}... ({len(seen)} records), want {want[:3]}...")
                failed += 1
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    if proc.returncode not in (0, None):
        print(f"interop: the C helper exited {proc.returncode}")
        failed += 1
    print(f"interop: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

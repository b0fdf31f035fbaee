#!/usr/bin/env python3
"""The cross-language producer benchmark: one embedded broker, every producer we ship and the official
Fluvio clients, each as its own process, one after another, same workloads. Medians of repetitions.
Then Headwater's CLI and the official Rust client against one real Fluvio SPU (tests/real-fluvio),
in the same run, so the table shows the ratio on the real engine too.

Writes results/latest.json, results/latest.md, results/throughput.png and results/latency.png
(matplotlib, if available).
BENCH_SMOKE=1 runs a tiny version (few records, one repetition) into results/smoke/ so it cannot rot.
BENCH_PROFILE=debug uses debug binaries (the smoke test does).
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMOKE = os.environ.get("BENCH_SMOKE") == "1"
PROFILE = os.environ.get("BENCH_PROFILE", "debug" if SMOKE else "release")
# BENCH_WORKLOADS=real runs only the rows against the real Fluvio SPU, into results/real/.
REAL_ONLY = os.environ.get("BENCH_WORKLOADS") == "real"
OUT = ROOT / "bench" / "results" / ("smoke" if SMOKE else "real" if REAL_ONLY else "")
REPS = 1 if SMOKE else int(os.environ.get("BENCH_REPS", "3"))
RECORDS = 2_000 if SMOKE else 2_000_000
SECONDS = 1.0 if SMOKE else 5.0
HW = ROOT / "target" / PROFILE / "headwater"
FLUVIO_RUST = ROOT / "target" / "interop" / PROFILE / "fluvio-interop"
INTEROP_PY = ROOT / ".venv-interop" / "bin" / "python"


def linger_of(w, official=False):
    """The "default config" workloads run each client with its own default linger: Headwater's 100 ms
    (a waited-on record is sent at once), the official clients' 0."""
    return 0 if official and w.get("default_config") else w["linger"]


def common(w, ep, topic, official=False):
    args = ["--endpoint", ep, "--topic", topic, "--records", str(w["records"]), "--seconds", str(w["seconds"]),
            "--size", str(w["size"]), "--compression", w["codec"], "--linger-ms", str(linger_of(w, official))]
    if w.get("latency"):
        args.append("--latency")
    if w.get("mode"):
        args += ["--mode", w["mode"]]
    return args


def headwater_rust(w, ep, topic):
    a = [str(HW), "bench", "--partitions", "1"] + common(w, ep, topic)
    return a + (["--keyed"] if w.get("keyed") else [])


def fluvio_rust(w, ep, topic):
    a = [str(FLUVIO_RUST), "bench", "--create-partitions", "1", "--endpoint", ep, "--topic", topic, "--records", str(w["records"]),
         "--seconds", str(w["seconds"]), "--size", str(w["size"]), "--linger-ms", str(linger_of(w, True)), "--compression", w["codec"]]
    return a + (["--latency"] if w.get("latency") else [])


def fluvio_python(w, ep, topic):
    return [str(INTEROP_PY), str(ROOT / "tests/interop/official_py.py"), "bench", "--create-partitions", "1",
            "--timeout-secs", "300"] + common(w, ep, topic, official=True)


def binding(entry):
    """A binding's bench program: `<entry> --endpoint E --topic T --records N --seconds S --size B
    --compression C --linger-ms L [--latency]`, printing one JSON line (see bench/README.md)."""
    def cmd(w, ep, topic):
        return entry() + common(w, ep, topic)
    return cmd


def py_binding():
    return [str(ROOT / "bindings-python/.venv/bin/python"), str(ROOT / "bindings-python/bench/bench.py")]


def node_binding():
    return ["node", str(ROOT / "bindings-node/bench/bench.js")]


def java_binding():
    jar = next(iter(sorted((ROOT / "bindings-java/target").glob("headwater-*.jar"))), None)
    return ["java", "-cp", f"{jar}:{ROOT / 'bindings-java/target/test-classes'}", "io.headwater.Bench"]


def c_binding():
    return [str(ROOT / "bindings-c/build/bench")]


def go_binding():
    return [str(ROOT / "bindings-go/build/bench")]


CLIENTS = {
    "headwater-rust": (headwater_rust, lambda: HW.exists()),
    "headwater-python": (binding(py_binding), lambda: (ROOT / "bindings-python/bench/bench.py").exists() and (ROOT / "bindings-python/.venv/bin/python").exists()),
    "headwater-node": (binding(node_binding), lambda: (ROOT / "bindings-node/bench/bench.js").exists()),
    "headwater-java": (binding(java_binding), lambda: any((ROOT / "bindings-java/target").glob("headwater-*.jar")) and (ROOT / "bindings-java/target/test-classes/io/headwater/Bench.class").exists()),
    "headwater-c": (binding(c_binding), lambda: (ROOT / "bindings-c/build/bench").exists()),
    "headwater-go": (binding(go_binding), lambda: (ROOT / "bindings-go/build/bench").exists()),
    "fluvio-rust (official)": (fluvio_rust, lambda: FLUVIO_RUST.exists()),
    "fluvio-python (official)": (fluvio_python, lambda: INTEROP_PY.exists()),
}
OFFICIAL = "fluvio-rust (official)"
# Bindings whose bench program also has `--mode send_all` (lists of 1000 records per call).
SEND_ALL_CLIENTS = ["headwater-python", "headwater-node", "headwater-java", "headwater-go"]
# BENCH_CLIENTS=headwater-rust,headwater-c,... runs a subset; the others are reported as not run.
ONLY = [c for c in os.environ.get("BENCH_CLIENTS", "").split(",") if c]


def workloads():
    base = dict(records=RECORDS, seconds=SECONDS)
    subset = [dict(base, size=100, keyed=False, codec=c, linger=l) for c in ("none", "lz4") for l in (0, 100)]
    subset.append(dict(base, size=1024, keyed=False, codec="none", linger=100))
    subset.append(dict(base, size=100, keyed=False, codec="none", linger=0, latency=True, records=20_000 if not SMOKE else 200))
    # The newcomer's loop: send one record, wait for it, repeat, every client at its default settings.
    subset.append(dict(base, size=100, keyed=False, codec="none", linger=100, latency=True, default_config=True,
                       records=20_000 if not SMOKE else 200))
    send_all = [dict(base, size=100, keyed=False, codec="none", linger=l, mode="send_all") for l in (0, 100)]
    # Peak RSS while a burst of records far larger than the queue bound goes through: memory stays
    # within batch_queue_size batches per partition plus the language runtime's base.
    burst = [dict(base, size=100, keyed=False, codec="none", linger=100, memory=True,
                  records=2_000 if SMOKE else 10_000_000, seconds=1.0 if SMOKE else 120.0)]
    if SMOKE:
        full = []
    else:
        full = [dict(base, size=s, keyed=k, codec=c, linger=l)
                for s in (100, 1024) for k in (False, True) for c in ("none", "gzip", "snappy", "lz4", "zstd") for l in (0, 100)]
        full = [w for w in full if w not in subset]
    return subset, send_all, burst, full


def real_workloads():
    """Against one real Fluvio SPU: Headwater's CLI and the official Rust client only."""
    base = dict(records=RECORDS, seconds=SECONDS, keyed=False, real=True)
    return [dict(base, size=100, codec="none", linger=0), dict(base, size=1024, codec="none", linger=0),
            dict(base, size=100, codec="lz4", linger=100),
            dict(base, size=100, codec="none", linger=0, latency=True, records=20_000 if not SMOKE else 200)]


def label(w):
    where = " [real SPU]" if w.get("real") else ""
    return _label(w) + where


def _label(w):
    if w.get("default_config"):
        return "send+wait each 100B default config"
    if w.get("latency"):
        return "latency 100B linger0"
    if w.get("memory"):
        return f"{w['records'] / 1e6:g}M burst 100B (RSS)"
    batch = " sendAll×1000" if w.get("mode") == "send_all" else ""
    return f"{w['size']}B {'keyed' if w['keyed'] else 'keyless'} {w['codec']} linger{w['linger']}{batch}"


def run_one(cmd, timeout):
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, FLV_SOCKET_WAIT="30", FLV_METADATA_TIMEOUT="10000"))
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return {"error": f"timed out after {timeout}s", "stderr": err[-500:]}
    usage = proc_usage(proc)
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}", "stderr": err[-800:]}
    line = next((l for l in reversed(out.splitlines()) if l.startswith("{")), None)
    if line is None:
        return {"error": "no JSON line", "stderr": err[-800:]}
    r = json.loads(line)
    r.update(usage)
    r["wall_seconds"] = time.time() - t0
    return r


_usage = {}


def proc_usage(proc):
    return _usage.pop(proc.pid, {})


_orig_wait = subprocess.Popen._try_wait


def _try_wait(self, wait_flags):
    # Collect the child's rusage (CPU seconds, peak RSS) with wait4 instead of waitpid.
    try:
        pid, sts, ru = os.wait4(self.pid, wait_flags)
    except ChildProcessError:
        return (self.pid, 0)
    if pid == self.pid:
        _usage[pid] = {"cpu_seconds_total": ru.ru_utime + ru.ru_stime, "peak_rss_mb": ru.ru_maxrss / 1024}
    return (pid, sts)


subprocess.Popen._try_wait = _try_wait


def start_broker():
    p = subprocess.Popen([str(HW), "broker", "--sc-addr", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline().strip()
    if not line.startswith("HEADWATER_ENDPOINT="):
        p.kill()
        sys.exit(f"broker did not start: {line!r}")
    return p, line.split("=", 1)[1]


def delete_topic(ep, topic):
    subprocess.run([str(HW), "topic", "delete", topic, "--endpoint", ep], capture_output=True, timeout=60)


def median_of(runs, key):
    vals = [r[key] for r in runs if key in r]
    return statistics.median(vals) if vals else None


def start_real_cluster():
    """One real Fluvio SPU (tests/real-fluvio: built once, cached)."""
    sys.path.insert(0, str(ROOT / "tests/real-fluvio"))
    from cluster import RealCluster
    return RealCluster(1).start()


def main():
    if not HW.exists():
        sys.exit(f"{HW} is missing: build it first (bench/run.sh does)")
    broker, ep = start_broker()
    real = start_real_cluster()
    subset, send_all, burst, full = workloads()
    results = []
    try:
        real_plan = [(c, w) for c in ("headwater-rust", OFFICIAL) for w in real_workloads()]
        plan = real_plan if REAL_ONLY else (
            [(c, w) for c in CLIENTS for w in subset] + [(c, w) for c in SEND_ALL_CLIENTS for w in send_all]
            + [(c, w) for c in CLIENTS if c.startswith("headwater-") for w in burst]
            + real_plan + [("headwater-rust", w) for w in full])
        for i, (client, w) in enumerate(plan):
            cmd_of, available = CLIENTS[client]
            entry = {"client": client, "workload": label(w), **{k: v for k, v in w.items() if k not in ("records", "seconds")}}
            where = real.endpoint if w.get("real") else ep
            if ONLY and not any(client.startswith(o) for o in ONLY):
                entry["skipped"] = True
                results.append(entry)
                continue
            if not available():
                entry["missing"] = True
                results.append(entry)
                continue
            runs = []
            for _ in range(REPS):
                topic = f"bench-{uuid.uuid4().hex[:10]}"
                r = run_one(cmd_of(w, where, topic), timeout=w["seconds"] * 6 + 60)
                delete_topic(where, topic)
                if w.get("real"):
                    # The real engine never brings online a topic created within about a second of
                    # deleting one that held records: give it time.
                    time.sleep(4)
                runs.append(r)
                if "error" in r:
                    break
            errors = [r for r in runs if "error" in r]
            if errors:
                entry["error"] = errors[0]["error"] + ": " + errors[0].get("stderr", "").strip().splitlines()[-1:][0] if errors[0].get("stderr", "").strip() else errors[0]["error"]
            else:
                for key in ("records_per_sec", "mb_per_sec", "p50_us", "p99_us", "p999_us", "peak_rss_mb", "records"):
                    m = median_of(runs, key)
                    if m is not None:
                        entry[key] = m
                cpu = [r["cpu_seconds_total"] / r["records"] * 1e6 for r in runs if r.get("records")]
                entry["cpu_s_per_million"] = statistics.median(cpu) if cpu else None
                entry["reps"] = len(runs)
            results.append(entry)
            status = entry.get("error") or f"{entry.get('records_per_sec', 0):,.0f} rec/s"
            print(f"[{i + 1}/{len(plan)}] {client:<26} {label(w):<28} {status}", flush=True)
    finally:
        broker.terminate()
        broker.wait(timeout=30)
        real.stop()
    write(results)
    failed = [r for r in results if r.get("error")]
    if failed:
        sys.exit(f"{len(failed)} benchmark runs failed: " + "; ".join(f"{r['client']} {r['workload']}: {r['error']}" for r in failed))


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores, {cpu}, {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, {platform.system()} {platform.release()}"


def write(results):
    OUT.mkdir(parents=True, exist_ok=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(), "reps": REPS, "profile": PROFILE,
            "command": "make bench", "smoke": SMOKE}
    (OUT / "latest.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    official = {r["workload"]: r.get("records_per_sec") for r in results if r["client"] == OFFICIAL}
    lines = [f"Measured {meta['date']} on {meta['machine']}; median of {REPS} runs; `{meta['command']}`.", "",
             "| client | workload | records/s | MB/s | × official Rust | CPU s / M records | peak RSS MB | p50 / p99 / p999 µs |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        if r.get("missing"):
            lines.append(f"| {r['client']} | {r['workload']} | not built yet | | | | | |")
            continue
        if r.get("skipped"):
            continue
        if r.get("error"):
            lines.append(f"| {r['client']} | {r['workload']} | error: {r['error'][:80]} | | | | | |")
            continue
        base = official.get(r["workload"])
        ratio = f"{r['records_per_sec'] / base:.1f}×" if base else ""
        lat = f"{r['p50_us']:.0f} / {r['p99_us']:.0f} / {r['p999_us']:.0f}" if "p50_us" in r else ""
        lines.append(f"| {r['client']} | {r['workload']} | {r['records_per_sec']:,.0f} | {r['mb_per_sec']:,.1f} | {ratio} | "
                     f"{r['cpu_s_per_million']:.2f} | {r.get('peak_rss_mb', 0):.0f} | {lat} |")
    (OUT / "latest.md").write_text("\n".join(lines) + "\n")
    if not REAL_ONLY:
        chart(results)
    print("\n".join(lines))


def chart(results):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not available: no chart", file=sys.stderr)
        return
    loads = ["100B keyless none linger0", "100B keyless none linger100", "100B keyless lz4 linger0", "100B keyless lz4 linger100"]
    clients = [c for c in CLIENTS if any(r["client"] == c and r.get("records_per_sec") for r in results)]
    fig, ax = plt.subplots(figsize=(11, 5.5))
    width = 0.8 / max(len(clients), 1)
    for i, c in enumerate(clients):
        vals = [next((r.get("records_per_sec", 0) for r in results if r["client"] == c and r["workload"] == l), 0) / 1e6 for l in loads]
        ax.bar([x + i * width for x in range(len(loads))], vals, width, label=c, hatch="//" if "official" in c else None)
    ax.set_xticks([x + width * (len(clients) - 1) / 2 for x in range(len(loads))])
    ax.set_xticklabels(loads)
    ax.set_ylabel("million records / s (median)")
    ax.set_title("Producer throughput against one embedded broker (higher is better)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT / "throughput.png", dpi=110)
    plt.close(fig)
    latency_chart(plt, results)


def latency_chart(plt, results):
    """p50 / p99 / p999 of one record's round trip (send, wait; linger 0) per client, log scale."""
    rows = [r for r in results if r["workload"] == "latency 100B linger0" and "p50_us" in r]
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(11, 5.5))
    width = 0.8 / 3
    for i, (key, name) in enumerate((("p50_us", "p50"), ("p99_us", "p99"), ("p999_us", "p99.9"))):
        ax.bar([x + i * width for x in range(len(rows))], [r[key] for r in rows], width, label=name)
    ax.set_xticks([x + width for x in range(len(rows))])
    ax.set_xticklabels([r["client"] for r in rows], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("µs, send to acknowledgement (log scale)")
    ax.set_title("Round-trip latency of one record, linger 0, embedded broker (lower is better)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(OUT / "latency.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Summarises one perf/run.sh run: raw outputs in, foundation.json + markdown out.

`summarize.py kafka ...` summarises run.sh's kafka section instead (the JSON
lines of perf/kafka_load and the fio runs of the disk limit): kafka.json +
markdown out. `summarize.py groups ...` does the same for the groups section
(perf/group_bench's JSON lines): groups.json + markdown out, and
`summarize.py metrics ...` for the metrics section (kafka_load latency runs
with and without a 1 s /metrics scrape, metrics_scraper.py's lines, the
broker's CPU per run): metrics.json + markdown out. `summarize.py peers ...`
summarises perf/peers.sh (Tidelog against Redis Streams and NATS JetStream,
with the machine's limits): see perf/peers_report.py. `summarize.py feeds ...`
summarises perf/feed_bench.sh (DPDK feed ingest per shard next to dpdk-testpmd
and the disk, the highest zero-drop rate, the shard's profile): see
perf/feeds_report.py.

Reads the Google Benchmark JSON of perf_reactor (aggregates over repetitions)
and, per block size and queue depth, the JSON of every fio run and every
perf_uring_write run; writes a JSON summary and prints markdown tables with
the median, the spread and the ours/fio ratio. Targets are reported, never
asserted: the exit status says only whether the inputs could be read.
"""

import argparse
import glob
import json
import os
import platform
import re
import statistics
import subprocess
import sys

ROUND_TRIP_TARGET_NS = 2000.0
WRITE_RATIO_TARGET = 0.95


def stats_of(samples):
    """Median and spread of a list of numbers (sample stddev, cv = stddev/mean)."""
    mean = statistics.fmean(samples)
    stddev = statistics.stdev(samples) if len(samples) > 1 else 0.0
    return {
        "n": len(samples),
        "median": statistics.median(samples),
        "mean": mean,
        "stddev": stddev,
        "cv": stddev / mean if mean else 0.0,
        "min": min(samples),
        "max": max(samples),
        "samples": samples,
    }


def command_output(args):
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine(build_dir, data_dir):
    cpu = {}
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "cpu family", "model", "stepping") and key not in cpu:
                cpu[key] = value.strip()
            if not line.strip() and cpu:
                break
    cpu_model = cpu.get("model name", "")
    if "cpu family" in cpu:
        cpu_model += f" (family {cpu['cpu family']} model {cpu.get('model', '?')})"
    hypervisor = ""
    for line in command_output(["lscpu"]).splitlines():
        if line.startswith("Hypervisor vendor:"):
            hypervisor = line.split(":", 1)[1].strip()
    mount = command_output(["findmnt", "-n", "-T", data_dir, "-o", "SOURCE,FSTYPE,OPTIONS"])
    source, fstype, options = (mount.split(None, 2) + ["", "", ""])[:3]
    device = os.path.basename(source)
    disk = {}
    for key, path in (("rotational", "queue/rotational"), ("scheduler", "queue/scheduler"),
                      ("model", "device/model"), ("vendor", "device/vendor")):
        try:
            with open(f"/sys/block/{device}/{path}") as f:
                disk[key] = f.read().strip()
        except OSError:
            pass
    buildtype = ""
    try:
        with open(os.path.join(build_dir, "meson-info", "intro-buildoptions.json")) as f:
            for option in json.load(f):
                if option["name"] == "buildtype":
                    buildtype = option["value"]
    except (OSError, ValueError, KeyError):
        pass
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return {
        "cpu_model": cpu_model,
        "cpus_online": os.cpu_count(),
        "hypervisor": hypervisor,
        "kernel": platform.release(),
        "data_dir": data_dir,
        "filesystem": {"source": source, "type": fstype, "options": options},
        "disk": disk,
        "fio_version": command_output(["fio", "--version"]),
        "build_dir": build_dir,
        "buildtype": buildtype,
        "git_commit": command_output(["git", "-C", repo, "rev-parse", "HEAD"]),
        "git_dirty": bool(command_output(["git", "-C", repo, "status", "--porcelain",
                                          "perf", "src", "drivers"])),
    }


def reactor_results(raw_dir):
    benchmarks = []
    for path in sorted(glob.glob(os.path.join(raw_dir, "reactor-*.json")),
                       key=lambda p: int(re.sub(r"\D", "", os.path.basename(p)) or 0)):
        with open(path) as f:
            benchmarks += json.load(f)["benchmarks"]
    results = {}
    for bench in benchmarks:
        if bench.get("run_type") != "aggregate" or bench.get("error_occurred"):
            continue
        name = bench["run_name"]
        aggregate = bench["aggregate_name"]
        entry = results.setdefault(name, {"repetitions": bench.get("repetitions")})
        for key, value in bench.items():
            if key in ("ns_per_round_trip", "round_trips_per_s", "calls_per_s", "ns_per_call",
                       "median_ns", "p99_ns"):
                entry.setdefault(key, {})[aggregate] = value
    return results


def device_requests(json_path):
    """Write requests the device completed during one run (run.sh's .diskstats)."""
    try:
        with open(json_path + ".diskstats") as f:
            counters = [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return None
    if len(counters) != 6 or counters[0] == counters[3] == 0:
        return None
    return counters[3] - counters[0]


def write_results(raw_dir):
    pattern = re.compile(r"^(fio\w*|ours-(\w+))-bs(\d+)-qd(\d+)-rep(\d+)\.json$")
    cases = {}
    devices = {}
    sleeps = {}
    for path in sorted(glob.glob(os.path.join(raw_dir, "*.json"))):
        match = pattern.match(os.path.basename(path))
        if not match:
            continue
        is_fio = match.group(1).startswith("fio")
        tool = match.group(1) if is_fio else match.group(2)
        bs_kib, qd = int(match.group(3)), int(match.group(4))
        with open(path) as f:
            report = json.load(f)
        if is_fio:
            job = report["jobs"][0]
            if job.get("error"):
                sys.exit(f"{path}: fio error {job['error']}")
            value = float(job["write"]["bw_bytes"])
        else:
            runs = [b for b in report["benchmarks"] if b.get("run_type") == "iteration"]
            if len(runs) != 1 or runs[0].get("error_occurred"):
                sys.exit(f"{path}: benchmark failed: {runs}")
            value = float(runs[0]["write_bytes_per_s"])
            if "sleeps_per_write" in runs[0]:
                sleeps.setdefault((bs_kib, qd), {}).setdefault(tool, []).append(
                    float(runs[0]["sleeps_per_write"]))
        cases.setdefault((bs_kib, qd), {}).setdefault(tool, []).append(value)
        requests = device_requests(path)
        if requests:
            devices.setdefault((bs_kib, qd), {}).setdefault(tool, []).append(requests)
    results = []
    for (bs_kib, qd), tools in sorted(cases.items()):
        entry = {"block_kib": bs_kib, "queue_depth": qd, "bytes_per_s": {}}
        for tool, samples in sorted(tools.items()):
            entry["bytes_per_s"][tool] = stats_of(samples)
        # Ratios of medians, ours over each fio variant ("fio" is the target's).
        for fio_tool in [t for t in entry["bytes_per_s"] if t.startswith("fio")]:
            fio_median = entry["bytes_per_s"][fio_tool]["median"]
            entry["ratio_to_" + fio_tool] = {
                tool: s["median"] / fio_median
                for tool, s in entry["bytes_per_s"].items() if not tool.startswith("fio")
            }
        # Device requests per run: fewer, larger requests mean the block
        # layer merged adjacent writes (submission batching).
        entry["device_write_requests"] = {
            tool: stats_of(samples)
            for tool, samples in sorted(devices.get((bs_kib, qd), {}).items())
        }
        # Adaptive polling: how often the shard slept in io_uring per write.
        entry["shard_sleeps_per_write"] = {
            tool: stats_of(samples)
            for tool, samples in sorted(sleeps.get((bs_kib, qd), {}).items())
        }
        results.append(entry)
    return results


def short_name(run_name):
    """cross_shard_round_trip/busy/calls:10000/iterations:20/manual_time -> .../busy"""
    name = re.sub(r"/iterations:\d+|/manual_time|/calls:\d+", "", run_name)
    return name.replace("concurrency:", "concurrency ")


def block_label(block_kib):
    return f"{block_kib} KiB" if block_kib < 1024 else f"{block_kib // 1024} MiB"


def gbps(value):
    return f"{value / 1e9:.2f}"


def print_markdown(summary):
    out = []
    out.append(f"## Foundation benchmarks ({summary['mode']})\n")
    m = summary["machine"]
    out.append(f"{m['cpu_model']}, {m['cpus_online']} CPUs, kernel {m['kernel']}, "
               f"{m['filesystem']['type']} on {m['filesystem']['source']}, "
               f"build {m['buildtype']}, {m['fio_version']}; load average "
               f"{summary['load_average']['before']} before, "
               f"{summary['load_average']['after']} after.\n")

    out.append("### Cross-shard calls (perf_reactor, "
               f"{summary['reactor_repetitions']} repetitions)\n")
    out.append("| benchmark | median | mean | stddev | cv |")
    out.append("|---|---:|---:|---:|---:|")
    for name, entry in summary["reactor"].items():
        for counter, unit in (("ns_per_round_trip", "ns/round trip"),
                              ("median_ns", "ns/call, batch median"),
                              ("p99_ns", "ns/call, batch p99"), ("calls_per_s", "calls/s")):
            agg = entry.get(counter)
            if not agg:
                continue
            scale, fmt = (1e6, "{:.2f} M") if counter == "calls_per_s" else (1.0, "{:.0f}")
            cells = [fmt.format(agg[k] / scale) for k in ("median", "mean", "stddev")]
            cells.append(f"{agg['cv'] * 100:.1f} %")
            out.append(f"| {short_name(name)} ({unit}) | " + " | ".join(cells) + " |")
    target = summary["targets"]["round_trip_busy_median_ns"]
    out.append(f"\nTarget: busy-polling round trip median < {target['limit']:.0f} ns: "
               f"{target['value']:.0f} ns, {'met' if target['met'] else 'NOT met'}.\n")

    out.append(f"### O_DIRECT sequential write, GB/s ({summary['file_mib']} MiB per run, "
               f"{summary['write_repetitions']} runs each; median [min-max], cv)\n")
    all_tools = {t for e in summary["writes"] for t in e["bytes_per_s"]}
    fio_tools = sorted(t for t in all_tools if t.startswith("fio"))
    tools = sorted(t for t in all_tools if not t.startswith("fio"))
    ratio_columns = [(t, f) for f in fio_tools for t in tools]
    header = "| bs | QD | " + " | ".join(fio_tools + [f"ours {t}" for t in tools]) + " | " + \
        " | ".join(f"{t}/{f}" for t, f in ratio_columns) + " |"
    out.append(header)
    out.append("|---|---:|" + "---:|" * (len(fio_tools) + len(tools) + len(ratio_columns)))
    for e in summary["writes"]:
        cells = []
        for tool in fio_tools + tools:
            s = e["bytes_per_s"].get(tool)
            cells.append(f"{gbps(s['median'])} [{gbps(s['min'])}-{gbps(s['max'])}], "
                         f"{s['cv'] * 100:.1f} %" if s else "-")
        ratios = [f"{e['ratio_to_' + f][t] * 100:.0f} %" if t in e.get("ratio_to_" + f, {})
                  else "-" for t, f in ratio_columns]
        row = [block_label(e["block_kib"]), str(e["queue_depth"])] + cells + ratios
        out.append("| " + " | ".join(row) + " |")
    if any(e.get("device_write_requests") for e in summary["writes"]):
        out.append("\nDevice write requests per run (median, /proc/diskstats; "
                   "fewer = more merged by the block layer):\n")
        out.append("| bs | QD | " + " | ".join(fio_tools + [f"ours {t}" for t in tools]) + " |")
        out.append("|---|---:|" + "---:|" * (len(fio_tools) + len(tools)))
        for e in summary["writes"]:
            requests = e.get("device_write_requests", {})
            cells = [f"{requests[t]['median']:.0f}" if t in requests else "-"
                     for t in fio_tools + tools]
            row = [block_label(e["block_kib"]), str(e["queue_depth"])] + cells
            out.append("| " + " | ".join(row) + " |")
    write_target = summary["targets"]["write_ratio_to_fio"]
    misses = [f"{block_label(c['block_kib'])} QD{c['queue_depth']} {c['tool']} "
              f"{c['ratio'] * 100:.0f} %" for c in write_target["cases"] if not c["met"]]
    out.append(f"\nTarget: ours >= {write_target['limit'] * 100:.0f} % of fio's median "
               "bandwidth: " + ("met in every case." if not misses
                                else "NOT met: " + ", ".join(misses) + "."))
    print("\n".join(out))


# ---- kafka section (perf/kafka_load JSON lines) ----

def kafka_case_key(line):
    tags = line.get("tags", {})
    return (line["mode"], str(tags.get("smp", "")), tags.get("flush", ""),
            line["record_bytes"], line.get("rate_per_s", 0), bool(line.get("idempotence")))


def kafka_results(raw_dir):
    """Groups kafka_load's per-run lines by case; statistics over the runs."""
    runs = {}
    path = os.path.join(raw_dir, "kafka_load.jsonl")
    try:
        with open(path) as f:
            lines = [json.loads(text) for text in f if text.strip()]
    except OSError:
        lines = []
    for line in lines:
        if line.get("tool") == "kafka_load" and line.get("type") == "run":
            runs.setdefault(kafka_case_key(line), []).append(line)
    cases = []
    for (mode, smp, flush, record_bytes, rate, idempotence), samples in sorted(runs.items()):
        first = samples[0]
        case = {"mode": mode, "smp": smp, "flush": flush, "record_bytes": record_bytes,
                "idempotence": idempotence,
                "partitions": first["partitions"], "acks": first["acks"],
                "mock": first.get("mock", False), "runs": len(samples),
                "delivery_errors": sum(r.get("delivery_errors", 0) for r in samples)}
        if mode == "produce":
            case["bytes_per_s"] = stats_of([r["bytes_per_s"] for r in samples])
            case["records_per_s"] = stats_of([r["records_per_s"] for r in samples])
            case["ack_latency_p99_us"] = stats_of([r["ack_latency_us"]["p99"] for r in samples])
        else:
            case["rate_per_s"] = rate
            for key in ("p50", "p99", "p99_9", "max"):
                case[f"latency_{key}_us"] = stats_of([r["latency_us"][key] for r in samples])
            case["sent_per_s"] = stats_of([r["sent_per_s"] for r in samples])
            case["send_lag_p99_us"] = stats_of([r["send_lag_us"]["p99"] for r in samples])
            for key in ("missing", "duplicated", "reordered", "consume_errors"):
                case[key] = sum(r.get(key, 0) for r in samples)
        cases.append(case)
    return cases


def disk_limit(raw_dir):
    """fio's sequential write bandwidth (1 MiB, QD16) in this run, bytes/s."""
    samples = []
    for path in sorted(glob.glob(os.path.join(raw_dir, "fio-limit-rep*.json"))):
        with open(path) as f:
            job = json.load(f)["jobs"][0]
        if job.get("error"):
            sys.exit(f"{path}: fio error {job['error']}")
        samples.append(float(job["write"]["bw_bytes"]))
    return stats_of(samples) if samples else None


def spread_cell(s, scale=1.0, fmt="{:.0f}"):
    return (f"{fmt.format(s['median'] / scale)} [{fmt.format(s['min'] / scale)}-"
            f"{fmt.format(s['max'] / scale)}]")


def print_kafka_markdown(summary):
    out = [f"## Kafka ({summary['mode']}, against {summary['target']})\n"]
    m = summary["machine"]
    out.append(f"{m['cpu_model']}, {m['cpus_online']} CPUs, kernel {m['kernel']}, "
               f"{m['filesystem']['type']} on {m['filesystem']['source']}, "
               f"build {m['buildtype']}; load average {summary['load_average']['before']} "
               f"before, {summary['load_average']['after']} after.\n")
    if summary["target"] == "mock":
        out.append("**librdkafka's in-process mock cluster, not Tidelog: these figures check "
                   "the tool and the script and say nothing about the broker.**\n")
    limit = summary["disk_limit_bytes_per_s"]
    if limit:
        out.append(f"Disk limit (fio, 1 MiB sequential O_DIRECT writes, QD16, "
                   f"{summary['file_mib']} MiB, {limit['n']} runs): "
                   f"{spread_cell(limit, 1e6)} MB/s.\n")
    produce = [c for c in summary["cases"] if c["mode"] == "produce"]
    if produce:
        out.append("### Produce throughput (acks=all; median [min-max] over runs)\n")
        out.append("| smp | flush | record | idempotence | partitions | MB/s | records/s | "
                   "% of disk | ack p99, ms | failed |")
        out.append("|---:|---|---:|---|---:|---:|---:|---:|---:|---:|")
        for c in produce:
            share = (f"{c['bytes_per_s']['median'] / limit['median'] * 100:.0f} %"
                     if limit else "-")
            out.append(f"| {c['smp']} | {c['flush']} | {c['record_bytes']} B | "
                       f"{'on' if c['idempotence'] else 'off'} | "
                       f"{c['partitions']} | {spread_cell(c['bytes_per_s'], 1e6, '{:.1f}')} | "
                       f"{spread_cell(c['records_per_s'], 1e3, '{:.0f}')} k | {share} | "
                       f"{spread_cell(c['ack_latency_p99_us'], 1e3, '{:.1f}')} | "
                       f"{c['delivery_errors']} |")
        out.append("")
    latency = [c for c in summary["cases"] if c["mode"] == "latency"]
    if latency:
        out.append("### End-to-end latency, produce to consume, 1 KiB records (µs; median "
                   "[min-max] over runs; from the scheduled send time)\n")
        out.append("| smp | flush | rate/s | partitions | p50 | p99 | p99.9 | max | "
                   "send lag p99 | missing / dup / reordered | errors |")
        out.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
        for c in latency:
            out.append(f"| {c['smp']} | {c['flush']} | {c['rate_per_s'] // 1000} k | "
                       f"{c['partitions']} | {spread_cell(c['latency_p50_us'])} | "
                       f"{spread_cell(c['latency_p99_us'])} | "
                       f"{spread_cell(c['latency_p99_9_us'])} | "
                       f"{spread_cell(c['latency_max_us'])} | "
                       f"{c['send_lag_p99_us']['median']:.0f} | "
                       f"{c['missing']} / {c['duplicated']} / {c['reordered']} | "
                       f"{c['delivery_errors'] + c['consume_errors']} |")
        out.append("")
    if not produce and not latency:
        out.append("No kafka_load results (see kafka_load.log in the raw directory).\n")
    print("\n".join(out))


def kafka_main(argv):
    parser = argparse.ArgumentParser(prog="summarize.py kafka",
                                     description="Summarises run.sh's kafka section.")
    parser.add_argument("--raw-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", required=True)
    parser.add_argument("--target", required=True, choices=("tidelogd", "mock"))
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--file-mib", type=int, required=True)
    parser.add_argument("--load-before", required=True)
    parser.add_argument("--load-after", required=True)
    parser.add_argument("--elapsed-s", type=int, required=True)
    args = parser.parse_args(argv)
    summary = {
        "mode": args.mode,
        "target": args.target,
        "machine": machine(args.build_dir, args.data_dir),
        "load_average": {"before": args.load_before, "after": args.load_after},
        "elapsed_s": args.elapsed_s,
        "file_mib": args.file_mib,
        "disk_limit_bytes_per_s": disk_limit(args.raw_dir),
        "cases": kafka_results(args.raw_dir),
        "raw_dir": args.raw_dir,
    }
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print_kafka_markdown(summary)


def groups_results(raw_dir):
    """group_bench's JSON lines: per case every run and, over runs, stats_of."""
    runs = {}
    path = os.path.join(raw_dir, "group_bench.jsonl")
    if not os.path.exists(path):
        return {}
    with open(path) as lines:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            entry = json.loads(line)
            if entry.get("type") != "run":
                continue
            mode = entry["mode"]
            if mode == "rebalance":
                key, value = f"rebalance/{entry['members']}", entry.get("ms")
            elif mode == "commit":
                key = f"commit/{entry['connections']}c/{entry['partitions']}p"
                value = entry["commits_per_s"]
            else:
                key, value = "fetch", None
            case = runs.setdefault(key, {"mode": mode, "runs": [], "failed_runs": 0})
            case["runs"].append(entry)
            if mode == "rebalance" and not entry.get("ok"):
                case["failed_runs"] += 1
            elif mode == "rebalance":
                case.setdefault("generations", []).append(entry["generations"])
                case.setdefault("values", []).append(value)
            elif mode == "fetch":
                case.setdefault("p50_us", []).append(entry["p50_us"])
                case.setdefault("p99_us", []).append(entry["p99_us"])
            elif value is not None:
                case.setdefault("values", []).append(value)
    for case in runs.values():
        for field in ("values", "p50_us", "p99_us", "generations"):
            if case.get(field):
                case[field] = stats_of(case[field])
    return runs


def print_groups_markdown(summary):
    cases = summary["cases"]
    out = [f"## Consumer groups ({summary['mode']}, {summary['machine'].get('cpu_model', '')})", "",
           "| case | median | spread (min-max) | runs |", "|---|---|---|---|"]
    for key in sorted(cases, key=lambda k: (k.split("/")[0], int(k.split("/")[1].rstrip("cp"))
                                              if k.count("/") else 0)):
        c = cases[key]
        if c["mode"] == "rebalance":
            v = c.get("values")
            cell = (f"{v['median']:.1f} ms | {v['min']:.1f}-{v['max']:.1f} ms"
                    if v else "failed | -")
            generations = (f", generations {c['generations']['min']:.0f}-"
                           f"{c['generations']['max']:.0f}" if c.get("generations") else "")
            out.append(f"| rebalance, {key.split('/')[1]} members (join to all assigned) | "
                       f"{cell} | {len(c['runs'])} ({c['failed_runs']} failed{generations}) |")
        elif c["mode"] == "commit":
            v = c["values"]
            _, conns, parts = key.split("/")
            out.append(f"| commits/s, {conns[:-1]} connections, {parts[:-1]} partitions a commit | "
                       f"{v['median']:.0f} | {v['min']:.0f}-{v['max']:.0f} | {len(c['runs'])} |")
        else:
            for field in ("p50_us", "p99_us"):
                v = c[field]
                out.append(f"| OffsetFetch {field[:3]} | {v['median']:.0f} us | "
                           f"{v['min']:.0f}-{v['max']:.0f} us | {len(c['runs'])} |")
    if not cases:
        out.append("| no group_bench results (see group_bench.log in the raw directory) | | | |")
    print("\n".join(out) + "\n")


def groups_main(argv):
    parser = argparse.ArgumentParser(prog="summarize.py groups",
                                     description="Summarises run.sh's groups section.")
    parser.add_argument("--raw-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", required=True)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--broker-settings", default="")
    parser.add_argument("--load-before", required=True)
    parser.add_argument("--load-after", required=True)
    parser.add_argument("--elapsed-s", type=int, required=True)
    args = parser.parse_args(argv)
    summary = {
        "mode": args.mode,
        "machine": machine(args.build_dir, args.data_dir),
        "broker_settings": args.broker_settings,
        "load_average": {"before": args.load_before, "after": args.load_after},
        "elapsed_s": args.elapsed_s,
        "cases": groups_results(args.raw_dir),
        "raw_dir": args.raw_dir,
    }
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print_groups_markdown(summary)


# ---- metrics section (kafka_load latency with and without a 1 s scrape) ----

def read_json_lines(path):
    """The parsable JSON objects of a JSON-lines file ([] when it is missing)."""
    entries = []
    try:
        with open(path) as f:
            for text in f:
                try:
                    entries.append(json.loads(text))
                except ValueError:
                    pass  # a line cut short by a stopped writer
    except OSError:
        pass
    return entries


def metrics_results(raw_dir):
    """Per condition (`scrape` tag): statistics over runs of the latency run lines,
    the broker's CPU share, and the scrapes' duration and size."""
    runs = [r for r in read_json_lines(os.path.join(raw_dir, "kafka_load.jsonl"))
            if r.get("tool") == "kafka_load" and r.get("type") == "run"]
    cpu = read_json_lines(os.path.join(raw_dir, "runs.jsonl"))
    scrapes = read_json_lines(os.path.join(raw_dir, "scrapes.jsonl"))
    conditions = {}
    for condition in sorted({r["tags"].get("scrape", "") for r in runs}, key=lambda c: c != "none"):
        samples = [r for r in runs if r["tags"].get("scrape") == condition]
        case = {"runs": len(samples),
                "failed": sum(r.get("delivery_errors", 0) + r.get("consume_errors", 0)
                              + r.get("missing", 0) for r in samples)}
        for key in ("p50", "p99", "p99_9", "max"):
            case[f"ack_{key}_us"] = stats_of([r["ack_latency_us"][key] for r in samples])
            case[f"latency_{key}_us"] = stats_of([r["latency_us"][key] for r in samples])
        shares = [c["broker_cpu_s"] / c["wall_s"] for c in cpu
                  if c.get("scrape") == condition and c.get("wall_s")]
        if shares:
            case["broker_cpu_cores"] = stats_of(shares)
        conditions[condition] = case
    ok = [s for s in scrapes if s.get("status") == 200]
    scrape = {"count": len(scrapes), "failed": len(scrapes) - len(ok)}
    if ok:
        scrape["seconds"] = stats_of([s["seconds"] for s in ok])
        scrape["seconds"]["p99"] = sorted(s["seconds"] for s in ok)[
            min(len(ok) - 1, int(len(ok) * 0.99))]
        scrape["bytes"] = stats_of([s["bytes"] for s in ok])
        scrape["samples"] = stats_of([s["samples"] for s in ok])
    return conditions, scrape


def print_metrics_markdown(summary):
    m = summary["machine"]
    out = [f"## Metrics scrape cost ({summary['mode']})\n",
           f"{m['cpu_model']}, {m['cpus_online']} CPUs, kernel {m['kernel']}, "
           f"build {m['buildtype']}; load average {summary['load_average']['before']} before, "
           f"{summary['load_average']['after']} after. tidelogd --smp 2, flush mode "
           f"{summary['flush_mode']}, {summary['partitions']} partitions "
           f"(metrics_per_partition on); kafka_load latency, {summary['rate_per_s']} records/s "
           f"of 1 KiB, acks=all, into one topic of {summary['topic_partitions']} partitions; the "
           f"scrape is a GET of /metrics every second. Median [min-max] over runs, conditions "
           f"alternated.\n",
           "| scrape | runs | produce ack p50, ms | produce ack p99, ms | end-to-end p99, ms | "
           "end-to-end p99.9, ms | tidelogd CPU, cores | failed |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for condition, c in summary["conditions"].items():
        cpu = spread_cell(c["broker_cpu_cores"], 1.0, "{:.2f}") if "broker_cpu_cores" in c else "-"
        out.append(f"| {condition} | {c['runs']} | {spread_cell(c['ack_p50_us'], 1e3, '{:.2f}')} | "
                   f"{spread_cell(c['ack_p99_us'], 1e3, '{:.2f}')} | "
                   f"{spread_cell(c['latency_p99_us'], 1e3, '{:.2f}')} | "
                   f"{spread_cell(c['latency_p99_9_us'], 1e3, '{:.2f}')} | {cpu} | {c['failed']} |")
    if not summary["conditions"]:
        out.append("| no kafka_load results (see kafka_load.log in the raw directory) | | | | | | | |")
    s = summary["scrape"]
    if s["count"] and "seconds" not in s:
        out.append(f"\nScrapes: {s['count']}, all failed (see scrapes.jsonl in the raw directory).")
    if "seconds" in s:
        out.append(f"\nScrapes: {s['count']} ({s['failed']} failed); duration median "
                   f"{s['seconds']['median'] * 1e3:.1f} ms, p99 {s['seconds']['p99'] * 1e3:.1f} ms, "
                   f"max {s['seconds']['max'] * 1e3:.1f} ms; {s['bytes']['median'] / 1e3:.0f} kB and "
                   f"{s['samples']['median']:.0f} samples each.")
    print("\n".join(out) + "\n")


def metrics_main(argv):
    parser = argparse.ArgumentParser(prog="summarize.py metrics",
                                     description="Summarises run.sh's metrics section.")
    parser.add_argument("--raw-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", required=True)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--rate", type=int, required=True)
    parser.add_argument("--flush", required=True)
    parser.add_argument("--topic-partitions", type=int, required=True)
    parser.add_argument("--load-before", required=True)
    parser.add_argument("--load-after", required=True)
    parser.add_argument("--elapsed-s", type=int, required=True)
    args = parser.parse_args(argv)
    conditions, scrape = metrics_results(args.raw_dir)
    summary = {
        "mode": args.mode,
        "machine": machine(args.build_dir, args.data_dir),
        "partitions": args.partitions,
        "rate_per_s": args.rate,
        "flush_mode": args.flush,
        "topic_partitions": args.topic_partitions,
        "load_average": {"before": args.load_before, "after": args.load_after},
        "elapsed_s": args.elapsed_s,
        "conditions": conditions,
        "scrape": scrape,
        "raw_dir": args.raw_dir,
    }
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print_metrics_markdown(summary)


def controller_fdatasync(raw_dir, variant):
    """fio write + fdatasync runs of one variant (direct: 4 KiB O_DIRECT into a
    preallocated file, as perf/peers.sh; append: buffered 256 B appends growing the
    file, as log_store's segments): each run's sync latency percentiles and rate."""
    runs = []
    for name in sorted(os.listdir(raw_dir)) if os.path.isdir(raw_dir) else []:
        if not (name.startswith(f"fio-fdatasync-{variant}-") and name.endswith(".json")):
            continue
        try:
            with open(os.path.join(raw_dir, name)) as f:
                report = json.load(f)
        except (OSError, ValueError):
            continue
        job = report["jobs"][0]
        if job.get("error"):
            continue
        sync = job.get("sync", {}).get("lat_ns", {})
        percentiles = sync.get("percentile", {})
        if not percentiles:
            continue
        runs.append({"p50_us": percentiles.get("50.000000", 0) / 1e3,
                     "p99_us": percentiles.get("99.000000", 0) / 1e3,
                     "max_us": sync.get("max", 0) / 1e3,
                     "mean_us": sync.get("mean", 0) / 1e3,
                     "syncs": sync.get("N", 0),
                     "writes_per_s": job["write"].get("iops", 0.0)})
    if not runs:
        return {}
    return {"runs": runs,
            "p50_us": stats_of([r["p50_us"] for r in runs]),
            "p99_us": stats_of([r["p99_us"] for r in runs]),
            "writes_per_s": stats_of([r["writes_per_s"] for r in runs])}


def controller_results(raw_dir):
    """Per (voters, clients): statistics over the commits runs; the election rounds."""
    lines = read_json_lines(os.path.join(raw_dir, "commits.jsonl"))
    runs = [r for r in lines if r.get("tool") == "controller_bench" and r.get("type") == "run"]
    cases = []
    for voters, clients in sorted({(r["voters"], r["clients"]) for r in runs}):
        samples = [r for r in runs if r["voters"] == voters and r["clients"] == clients]
        case = {"voters": voters, "clients": clients, "runs": len(samples),
                "record": samples[0].get("record", ""),
                "failed": sum(r.get("failures", 0) + r.get("refused", 0) for r in samples),
                "commits_per_s": stats_of([r["commits_per_s"] for r in samples]),
                "fdatasyncs_per_commit_leader":
                    stats_of([r["fdatasyncs_per_commit_leader"] for r in samples]),
                "fdatasyncs_per_commit_all":
                    stats_of([r["fdatasyncs_per_commit_all"] for r in samples])}
        for key in ("p50", "p99", "p99_9", "max"):
            case[f"latency_{key}_us"] = stats_of([r["latency_us"][key] for r in samples])
        cases.append(case)
    lines = read_json_lines(os.path.join(raw_dir, "election.jsonl"))
    rounds = [r for r in lines if r.get("tool") == "controller_bench" and r.get("type") == "round"]
    summaries = [r for r in lines if r.get("tool") == "controller_bench"
                 and r.get("type") == "summary"]
    election = {"rounds": len(rounds)}
    if rounds:
        election["elected_ms"] = stats_of([r["elected_ms"] for r in rounds])
        committed = [r["committed_ms"] for r in rounds if r.get("committed_ms") is not None]
        if committed:
            election["committed_ms"] = stats_of(committed)
        election["terms_advanced"] = stats_of([r["terms_advanced"] for r in rounds])
        election["tick_ms"] = rounds[0]["tick_ms"]
        election["election_ticks"] = rounds[0]["election_ticks"]
        election["timeout_min_ms"] = rounds[0]["tick_ms"] * rounds[0]["election_ticks"]
        election["timeout_max_ms"] = 2 * election["timeout_min_ms"]
    if summaries:
        election["summary"] = summaries[-1]
    return cases, election


def print_controller_markdown(summary):
    m = summary["machine"]
    load = summary["load_average"]
    sync = summary["fdatasync"]
    out = [f"## Controller (Raft, issue 9) ({summary['mode']})\n",
           f"{m['cpu_model']}, {m['cpus_online']} CPUs"
           f"{', ' + m['hypervisor'] + ' guest' if m['hypervisor'] else ''}, kernel {m['kernel']}, "
           f"build {m['buildtype']}; data on {m['filesystem']['source']} "
           f"({m['filesystem']['type']}); load average {load['before']} before, {load['after']} "
           f"after; {summary['elapsed_s']} s in all.\n",
           f"Command: `{summary['command']}`\n",
           "perf/controller_bench: one raft::driver per voter, each on its own shard (floating, "
           "not pinned) with its own log_store directory (fdatasync per ready) and transport "
           "on loopback; metadata_state_machine applies real allocate_producer_ids records. "
           f"Commits: N clients on the leader's shard, {summary['seconds']} s measured after "
           "1 s of warm-up; latency is propose() to committed-and-applied on the leader. "
           f"Median [min-max] over {summary['reps']} runs, cases alternated.\n"]
    append = summary.get("fdatasync_append")
    limit_p50 = sync["p50_us"]["median"] if sync else None
    out += ["| voters | clients | runs | commits/s | p50, ms | p99, ms | p99.9, ms | max, ms | "
            "fdatasync/commit (leader) | fdatasync/commit (all) | vs 1/fdatasync p50 | failed |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c in summary["cases"]:
        ratio = "-"
        if limit_p50:
            ratio = f"{c['commits_per_s']['median'] * limit_p50 / 1e6:.2f}x"
        out.append(f"| {c['voters']} | {c['clients']} | {c['runs']} | "
                   f"{spread_cell(c['commits_per_s'])} | "
                   f"{spread_cell(c['latency_p50_us'], 1e3, '{:.2f}')} | "
                   f"{spread_cell(c['latency_p99_us'], 1e3, '{:.2f}')} | "
                   f"{spread_cell(c['latency_p99_9_us'], 1e3, '{:.2f}')} | "
                   f"{spread_cell(c['latency_max_us'], 1e3, '{:.1f}')} | "
                   f"{spread_cell(c['fdatasyncs_per_commit_leader'], 1.0, '{:.3f}')} | "
                   f"{spread_cell(c['fdatasyncs_per_commit_all'], 1.0, '{:.3f}')} | "
                   f"{ratio} | {c['failed']} |")
    if not summary["cases"]:
        out.append("| no controller_bench results (see commits.log in the raw directory) |"
                   " | | | | | | | | | | |")
    if sync:
        out.append(f"\nLimit, same run: fio 4 KiB O_DIRECT write + fdatasync, "
                   f"{len(sync['runs'])} runs (one before each round of cases, one after): fdatasync p50 "
                   f"{spread_cell(sync['p50_us'])} µs, p99 {spread_cell(sync['p99_us'])} µs, "
                   f"{spread_cell(sync['writes_per_s'])} durable writes/s; 1/p50 = "
                   f"{1e6 / limit_p50:.0f}/s, the most a client waiting for one fdatasync "
                   f"per commit can do (the *vs* column: commits/s x fdatasync p50).")
    if append:
        out.append(f"\nThe log's own pattern, same run: fio buffered 256 B appends growing an "
                   f"unallocated file + fdatasync, {len(append['runs'])} runs: fdatasync p50 "
                   f"{spread_cell(append['p50_us'])} µs, p99 {spread_cell(append['p99_us'])} µs, "
                   f"{spread_cell(append['writes_per_s'])} durable appends/s.")
    e = summary["election"]
    if e.get("rounds"):
        committed = (f"; first commit through the new leader {spread_cell(e['committed_ms'], 1.0, '{:.0f}')} ms"
                     if "committed_ms" in e else "")
        out.append(f"\nElection, 3 voters, {e['rounds']} leader crashes: new leader "
                   f"{spread_cell(e['elected_ms'], 1.0, '{:.0f}')} ms after the kill{committed} "
                   f"(median [min-max]); election timeout {e['timeout_min_ms']}-"
                   f"{e['timeout_max_ms']} ms (tick {e['tick_ms']} ms x [{e['election_ticks']}, "
                   f"{2 * e['election_ticks']}) ticks); terms advanced per round "
                   f"{spread_cell(e['terms_advanced'])}.")
    print("\n".join(out) + "\n")


def controller_main(argv):
    parser = argparse.ArgumentParser(prog="summarize.py controller",
                                     description="Summarises run.sh's controller section.")
    parser.add_argument("--raw-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", required=True)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--command", required=True)
    parser.add_argument("--seconds", type=int, required=True)
    parser.add_argument("--reps", type=int, required=True)
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--quiet-wait-s", type=int, default=0)
    parser.add_argument("--load-before", required=True)
    parser.add_argument("--load-after", required=True)
    parser.add_argument("--elapsed-s", type=int, required=True)
    args = parser.parse_args(argv)
    cases, election = controller_results(args.raw_dir)
    summary = {
        "mode": args.mode,
        "machine": machine(args.build_dir, args.data_dir),
        "command": args.command,
        "seconds": args.seconds,
        "reps": args.reps,
        "rounds": args.rounds,
        "quiet_wait_s": args.quiet_wait_s,
        "load_average": {"before": args.load_before, "after": args.load_after},
        "elapsed_s": args.elapsed_s,
        "fdatasync": controller_fdatasync(args.raw_dir, "direct"),
        "fdatasync_append": controller_fdatasync(args.raw_dir, "append"),
        "cases": cases,
        "election": election,
        "raw_dir": args.raw_dir,
    }
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print_controller_markdown(summary)


def main():
    if sys.argv[1:2] == ["feeds"]:
        import feeds_report  # perf/feeds_report.py, next to this file
        feeds_report.main(sys.argv[2:])
        return
    if sys.argv[1:2] == ["peers"]:
        import peers_report  # perf/peers_report.py, next to this file
        peers_report.main(sys.argv[2:])
        return
    if sys.argv[1:2] == ["metrics"]:
        metrics_main(sys.argv[2:])
        return
    if sys.argv[1:2] == ["controller"]:
        controller_main(sys.argv[2:])
        return
    if sys.argv[1:2] == ["groups"]:
        groups_main(sys.argv[2:])
        return
    if sys.argv[1:2] == ["kafka"]:
        kafka_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", required=True)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--file-mib", type=int, required=True)
    parser.add_argument("--write-repetitions", type=int, required=True)
    parser.add_argument("--reactor-repetitions", type=int, required=True)
    parser.add_argument("--load-before", required=True)
    parser.add_argument("--load-after", required=True)
    parser.add_argument("--elapsed-s", type=int, required=True)
    parser.add_argument("--quiet-waited-s", type=int, default=0)
    args = parser.parse_args()

    reactor = reactor_results(args.raw_dir)
    writes = write_results(args.raw_dir)
    busy = reactor.get("cross_shard_round_trip/busy/calls:10000/iterations:20/manual_time", {})
    busy_median = busy.get("ns_per_round_trip", {}).get("median", float("nan"))
    write_cases = [
        {"block_kib": e["block_kib"], "queue_depth": e["queue_depth"], "tool": tool,
         "ratio": ratio, "met": ratio >= WRITE_RATIO_TARGET}
        for e in writes for tool, ratio in e.get("ratio_to_fio", {}).items()
    ]
    summary = {
        "mode": args.mode,
        "machine": machine(args.build_dir, args.data_dir),
        "load_average": {"before": args.load_before, "after": args.load_after},
        "elapsed_s": args.elapsed_s,
        "quiet_waited_s": args.quiet_waited_s,
        "file_mib": args.file_mib,
        "write_repetitions": args.write_repetitions,
        "reactor_repetitions": args.reactor_repetitions,
        "reactor": reactor,
        "writes": writes,
        "targets": {
            "round_trip_busy_median_ns": {
                "limit": ROUND_TRIP_TARGET_NS, "value": busy_median,
                "met": busy_median < ROUND_TRIP_TARGET_NS,
            },
            "write_ratio_to_fio": {
                "limit": WRITE_RATIO_TARGET, "cases": write_cases,
                "met": all(c["met"] for c in write_cases),
            },
        },
        "raw_dir": args.raw_dir,
    }
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print_markdown(summary)


if __name__ == "__main__":
    main()

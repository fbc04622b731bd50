#!/usr/bin/python3
"""Summarises perf/peers.sh (run.sh's `peers` section): `summarize.py peers ...`.

Reads the raw directory peers.sh wrote (load.jsonl: kafka_load and peer_load
run lines tagged system/level/case/rep; runs.jsonl: CPU and disk counters per
invocation; the limits' fio, iperf3 and memcpy_bandwidth outputs;
settings.json) and writes
  - peers.json: every case's statistics over runs (median, spread), the
    limits, the ratios Tidelog/peer and Tidelog/limit, each target met or
    missed with the bottleneck measured;
  - peers.md, also printed: the section for docs/performance.md, ready to paste;
  - peers-produce.png, peers-consume.png, peers-latency.png (matplotlib, when
    /usr/bin/python3 has it).
Targets are reported, never asserted: the exit status says only whether the
inputs could be read.
"""

import argparse
import json
import os
import sys

from summarize import machine, read_json_lines, stats_of

SYSTEMS = ("tidelog", "redis", "nats")
SYSTEM_NAMES = {"tidelog": "Tidelog", "redis": "Redis Streams", "nats": "NATS JetStream"}
LEVELS = ("sync", "async")
LEVEL_NAMES = {"sync": "sync (ack after fsync)", "async": "async (ack after write, fsync on a timer)"}
THROUGHPUT_TARGET_RATIO = 2.0     # Tidelog >= 2x the better peer
LATENCY_TARGET_RATIO = 0.5        # Tidelog p99 <= half the better peer's
DISK_TARGET_SHARE = 0.8           # produce >= 80 % of fio's sequential write
CPU_SATURATED_PERCENT = 85.0      # machine CPU busy at or above: CPU-bound
DISK_SATURATED_PERCENT = 80.0     # data device busy at or above: disk-bound


# ---- inputs -------------------------------------------------------------------

def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def limits_of(raw_dir):
    """The machine's limits measured in this run; a missing one is absent."""
    limits = {}
    samples = []
    for name in sorted(os.listdir(raw_dir)):
        if name.startswith("fio-seqwrite-rep") and name.endswith(".json"):
            report = load_json(os.path.join(raw_dir, name))
            if report and not report["jobs"][0].get("error"):
                samples.append(float(report["jobs"][0]["write"]["bw_bytes"]))
    if samples:
        limits["disk_write_bytes_per_s"] = stats_of(samples)
    report = load_json(os.path.join(raw_dir, "fio-fdatasync.json"))
    if report and not report["jobs"][0].get("error"):
        job = report["jobs"][0]
        sync = job.get("sync", {}).get("lat_ns", {})
        percentiles = sync.get("percentile", {})
        if percentiles:
            limits["fdatasync_us"] = {
                "p50": percentiles.get("50.000000", 0) / 1e3,
                "p99": percentiles.get("99.000000", 0) / 1e3,
                "max": sync.get("max", 0) / 1e3,
                "syncs": sync.get("N", 0),
                "writes_per_s": job["write"].get("iops", 0.0),
            }
    report = load_json(os.path.join(raw_dir, "iperf3.json"))
    if report and "end" in report and "sum_received" in report["end"]:
        limits["loopback_bytes_per_s"] = report["end"]["sum_received"]["bits_per_second"] / 8
    for line in read_json_lines(os.path.join(raw_dir, "memcpy.jsonl")):
        if line.get("type") == "summary":
            limits.setdefault("memcpy_bytes_per_s", {})[str(line["threads"])] = line["bytes_per_s"]
    return limits


def invocation_accounting(raw_dir):
    """(system, level, case, rep) -> CPU busy %, disk busy %, server cores, status."""
    accounting = {}
    for entry in read_json_lines(os.path.join(raw_dir, "runs.jsonl")):
        before, after = entry.get("counters_before"), entry.get("counters_after")
        wall_s = entry.get("wall_s") or 0
        if not before or not after or wall_s <= 0:
            continue
        total = after[1] - before[1]
        accounting[(entry["system"], entry["level"], entry["case"], entry["rep"])] = {
            "cpu_busy_percent": 100.0 * (after[0] - before[0]) / total if total else 0.0,
            "disk_busy_percent": min(100.0, (after[2] - before[2]) / (wall_s * 10.0)),
            "server_cores": entry.get("server_cpu_s", 0) / wall_s,
            "status": entry.get("status", 0),
            "wall_s": wall_s,
        }
    return accounting


def consume_rate(run, key):
    """Consume lines carry bytes_per_s / records_per_s; else derived from counts."""
    if key in run:
        return run[key]
    elapsed = run.get("elapsed_s") or 0
    count = run.get("records_received", run.get("records_consumed", 0))
    if key == "bytes_per_s":
        count *= run.get("record_bytes", 0)
    return count / elapsed if elapsed else 0.0


def cases_of(raw_dir):
    """Statistics over the runs of every (workload, level, case, system)."""
    accounting = invocation_accounting(raw_dir)
    grouped = {}
    for run in read_json_lines(os.path.join(raw_dir, "load.jsonl")):
        tags = run.get("tags", {})
        if run.get("type") != "run" or "case" not in tags:
            continue
        key = (run["mode"], tags["level"], tags["case"], tags["system"])
        grouped.setdefault(key, []).append(run)
    failed = {}
    for (system, level, case, _), account in accounting.items():
        if account["status"] != 0:
            failed[(level, case, system)] = failed.get((level, case, system), 0) + 1
    cases = []
    for (mode, level, case, system), runs in sorted(grouped.items()):
        first = runs[0]
        entry = {"workload": mode, "level": level, "case": case, "system": system,
                 "record_bytes": first.get("record_bytes"), "partitions": first.get("partitions"),
                 "producers": first.get("producers", first.get("partitions")),
                 "runs": len(runs), "failed_invocations": failed.get((level, case, system), 0),
                 "errors": sum(r.get("delivery_errors", 0) + r.get("consume_errors", 0)
                               + r.get("missing", 0) + r.get("duplicated", 0)
                               + r.get("reordered", 0) + r.get("records_short", 0)
                               for r in runs)}
        if mode in ("produce", "consume"):
            entry["bytes_per_s"] = stats_of([consume_rate(r, "bytes_per_s") for r in runs])
            entry["records_per_s"] = stats_of([consume_rate(r, "records_per_s") for r in runs])
        if mode == "produce" and all("ack_latency_us" in r for r in runs):
            entry["ack_latency_p99_us"] = stats_of([r["ack_latency_us"]["p99"] for r in runs])
        if mode == "latency":
            entry["rate_per_s"] = first.get("rate_per_s")
            for key in ("p50", "p99", "p99_9", "max"):
                entry[f"latency_{key}_us"] = stats_of([r["latency_us"][key] for r in runs])
            entry["sent_per_s"] = stats_of([r.get("sent_per_s", 0.0) for r in runs])
        accounts = [accounting[k] for k in accounting
                    if k[0] == system and k[1] == level and k[2] == case]
        if accounts:
            for key in ("cpu_busy_percent", "disk_busy_percent", "server_cores"):
                entry[key] = stats_of([a[key] for a in accounts])
        cases.append(entry)
    # Invocations that left no run line at all (the tool failed early).
    for (level, case, system), count in failed.items():
        if not any(c["level"] == level and c["case"] == case and c["system"] == system
                   for c in cases):
            cases.append({"workload": case.split("-")[0], "level": level, "case": case,
                          "system": system, "runs": 0, "failed_invocations": count, "errors": 0})
    return cases


# ---- ratios, targets, bottlenecks ----------------------------------------------

def find(cases, level, case, system):
    for c in cases:
        if c["level"] == level and c["case"] == case and c["system"] == system and c["runs"]:
            return c
    return None


def bottleneck(case, limits):
    """The resource a Tidelog case saturated, from the counters of its runs."""
    if not case or "cpu_busy_percent" not in case:
        return "not measured (no CPU or disk counters for these runs)"
    cpu = case["cpu_busy_percent"]["median"]
    disk = case["disk_busy_percent"]["median"]
    cores = case["server_cores"]["median"]
    cpus = os.cpu_count() or 1
    # Counted over the whole load-tool invocation, its connection and topic
    # set-up included: short runs understate the broker's share.
    parts = (f"machine CPU {cpu:.0f} % busy of {cpus} vCPUs (tidelogd {cores:.2f} cores, the "
             f"load tool, kernel and any other work the rest), data disk {disk:.0f} % busy, "
             f"over each whole invocation")
    if cpu >= CPU_SATURATED_PERCENT:
        return f"CPU: {parts}; broker and client share the {cpus} vCPUs"
    if disk >= DISK_SATURATED_PERCENT:
        return f"disk: {parts}"
    sync = limits.get("fdatasync_us")
    wait = (f"; one fdatasync alone takes p50 {sync['p50']:.0f} µs / p99 {sync['p99']:.0f} µs"
            if sync and case["level"] == "sync" else "")
    return f"neither CPU nor disk saturated ({parts}): waiting — round trips or syncs{wait}"


def best_peer(cases, level, case, key, lower_is_better=False):
    """The peer with the best median at a level, as (system, case entry)."""
    best = None
    for system in SYSTEMS[1:]:
        c = find(cases, level, case, system)
        if not c or key not in c:
            continue
        value = c[key]["median"]
        if best is None or (value < best[2] if lower_is_better else value > best[2]):
            best = (system, c, value)
    return best


def comparisons(cases, limits):
    """Ratios Tidelog/peer and Tidelog/limit per case, and the targets."""
    disk = limits.get("disk_write_bytes_per_s", {}).get("median")
    loopback = limits.get("loopback_bytes_per_s")
    rows = []
    for c in cases:
        if c["system"] != "tidelog" or not c["runs"]:
            continue
        row = {"workload": c["workload"], "level": c["level"], "case": c["case"]}
        if c["workload"] in ("produce", "consume"):
            value = c["bytes_per_s"]["median"]
            row["ratio_to_peer"] = {}
            for system in SYSTEMS[1:]:
                peer = find(cases, c["level"], c["case"], system)
                if peer and peer["bytes_per_s"]["median"]:
                    row["ratio_to_peer"][system] = value / peer["bytes_per_s"]["median"]
            best = best_peer(cases, c["level"], c["case"], "bytes_per_s")
            if best and best[2]:
                row["best_peer"] = best[0]
                row["ratio_to_best_peer"] = value / best[2]
                row["target_met"] = row["ratio_to_best_peer"] >= THROUGHPUT_TARGET_RATIO
            if c["workload"] == "produce" and disk:
                row["ratio_to_disk"] = value / disk
            if c["workload"] == "consume" and loopback:
                row["ratio_to_loopback"] = value / loopback
        else:
            value = c["latency_p99_us"]["median"]
            row["rate_per_s"] = c.get("rate_per_s")
            row["ratio_to_peer"] = {}
            for system in SYSTEMS[1:]:
                peer = find(cases, c["level"], c["case"], system)
                if peer and peer["latency_p99_us"]["median"]:
                    row["ratio_to_peer"][system] = value / peer["latency_p99_us"]["median"]
            best = best_peer(cases, c["level"], c["case"], "latency_p99_us", lower_is_better=True)
            if best and best[2]:
                row["best_peer"] = best[0]
                row["ratio_to_best_peer"] = value / best[2]
                row["target_met"] = row["ratio_to_best_peer"] <= LATENCY_TARGET_RATIO
            sync = limits.get("fdatasync_us")
            if sync and sync["p50"] and c["level"] == "sync":
                row["p50_to_fdatasync_p50"] = c["latency_p50_us"]["median"] / sync["p50"]
        if row.get("target_met") is False or (c["workload"] == "produce" and disk
                                              and row["ratio_to_disk"] < DISK_TARGET_SHARE):
            row["bottleneck"] = bottleneck(c, limits)
        rows.append(row)
    return rows


def targets(rows):
    throughput = [r for r in rows if r["workload"] in ("produce", "consume") and "target_met" in r]
    latency = [r for r in rows if r["workload"] == "latency" and "target_met" in r]
    disk = [r for r in rows if r["workload"] == "produce" and "ratio_to_disk" in r
            and r["case"].startswith("produce-1024")]
    return {
        "throughput_2x_better_peer": {
            "limit": THROUGHPUT_TARGET_RATIO, "cases": len(throughput),
            "met": bool(throughput) and all(r["target_met"] for r in throughput),
            "missed": [r["level"] + "/" + r["case"] for r in throughput if not r["target_met"]]},
        "p99_half_of_better_peer": {
            "limit": LATENCY_TARGET_RATIO, "cases": len(latency),
            "met": bool(latency) and all(r["target_met"] for r in latency),
            "missed": [r["level"] + "/" + r["case"] for r in latency if not r["target_met"]]},
        "produce_80_percent_of_disk": {
            "limit": DISK_TARGET_SHARE, "cases": len(disk),
            "best": max((r["ratio_to_disk"] for r in disk), default=None),
            "met": bool(disk) and max(r["ratio_to_disk"] for r in disk) >= DISK_TARGET_SHARE},
    }


# ---- markdown -----------------------------------------------------------------

def cell(s, scale=1.0, fmt="{:.0f}"):
    if not s:
        return "-"
    return f"{fmt.format(s['median'] / scale)} [{fmt.format(s['min'] / scale)}-{fmt.format(s['max'] / scale)}]"


def ratio(value, percent=False):
    if value is None:
        return "-"
    if percent:
        return f"{value * 100:.0f} %"
    return f"{value:.2f}×" if value >= 0.1 else f"{value:.2g}×"


def system_cell(cases, level, case, system, settings, key, scale, fmt):
    if settings["levels"].get(level, {}).get(system, "").startswith("n/a"):
        return "n/a"
    if system not in settings["systems"]:
        return "not run"
    c = find(cases, level, case, system)
    if not c:
        failed = [x for x in cases if x["level"] == level and x["case"] == case
                  and x["system"] == system]
        return "failed" if failed else "not run"
    text = cell(c.get(key), scale, fmt)
    return text + (f" ({c['errors']} errors)" if c["errors"] else "")


def case_label(case):
    """produce-1024-p4 -> "1 KiB, 4 producers"; consume-1024-disk -> "1 KiB from disk"."""
    parts = case.split("-")
    size = "1 KiB" if parts[1:2] == ["1024"] else f"{parts[1]} B" if len(parts) > 1 else ""
    if parts[0] == "produce":
        count = parts[2][1:]
        return f"{size}, {count} producer{'s' if count != '1' else ''}"
    if parts[0] == "consume":
        return f"{size} from {parts[2]}"
    if parts[0] == "latency":
        return f"{size} at {parts[2][1:]} records/s"
    return case


def markdown(summary):
    s = summary["settings"]
    m = summary["machine"]
    cases = summary["cases"]
    limits = summary["limits"]
    rows = {(r["level"], r["case"]): r for r in summary["comparisons"]}
    v = s.get("versions", {})
    out = ["## Tidelog against Redis Streams and NATS JetStream (issue 10)", "",
           f"Generated by `perf/summarize.py peers` from one run ({summary['mode']}); "
           f"{summary['elapsed_s']} s. The exact command:", "", "```sh", summary["command"],
           "```", "",
           f"**Machine:** {m['cpu_model']}, {m['cpus_online']} vCPUs"
           f"{', ' + m['hypervisor'] + ' guest' if m.get('hypervisor') else ''}, "
           f"kernel {m['kernel']}; data on {m['filesystem']['type']} on "
           f"{m['filesystem']['source']} ({m['disk'].get('scheduler', '?')}); build "
           f"{m['buildtype']} at `{m['git_commit'][:7]}`{' (dirty)' if m['git_dirty'] else ''}; "
           f"load average {summary['load_average']['before']} before, "
           f"{summary['load_average']['after']} after. "
           f"{v.get('redis-server', 'redis ?')}; {v.get('nats-server', 'nats ?')}; "
           f"librdkafka {v.get('librdkafka', '?')}, hiredis {v.get('libhiredis', '?')}, "
           f"libnats {v.get('libnats', '?')}. Every server on 127.0.0.1, data on the disk "
           f"under test, all three running during the runs so that runs alternate "
           f"(A-B-C then C-B-A). Figures: median [min-max] over {s['runs']} runs.", ""]

    out += ["### The machine's limits (same run)", "",
            "| limit | value | how |", "|---|---:|---|"]
    d = limits.get("disk_write_bytes_per_s")
    out.append(f"| sequential write | {cell(d, 1e6)} MB/s | fio io_uring O_DIRECT, 1 MiB, QD16, "
               f"{s['fio_mib']} MiB preallocated, end fsync, {s['fio_runs']} runs |"
               if d else "| sequential write | - | fio failed |")
    f = limits.get("fdatasync_us")
    out.append(f"| fdatasync | p50 {f['p50']:.0f} µs, p99 {f['p99']:.0f} µs, max {f['max']:.0f} µs "
               f"({f['writes_per_s']:.0f} commits/s) | fio 4 KiB O_DIRECT write + fdatasync, QD1, "
               f"{s['fdatasync_seconds']} s |" if f else "| fdatasync | - | fio failed |")
    lb = limits.get("loopback_bytes_per_s")
    out.append(f"| loopback TCP | {lb / 1e6:.0f} MB/s ({lb * 8 / 1e9:.1f} Gbit/s) | iperf3, "
               f"1 stream, {s['iperf_seconds']} s |" if lb else "| loopback TCP | - | no iperf3 |")
    mc = limits.get("memcpy_bytes_per_s", {})
    if mc:
        out.append("| memcpy | " + ", ".join(f"{t} thread{'s' if t != '1' else ''} "
                                             f"{x['median'] / 1e9:.1f} GB/s" for t, x in mc.items())
                   + f" | perf/memcpy_bandwidth {s['memcpy_args']} |")
    out.append("")

    out += ["### Durability, matched", "",
            "| level | Tidelog | Redis Streams | NATS JetStream |", "|---|---|---|---|"]
    for level in LEVELS:
        settings = s["levels"][level]
        out.append(f"| {LEVEL_NAMES[level]} | `{settings['tidelog']}` | `{settings['redis']}` | "
                   + (settings["nats"] if settings["nats"].startswith("n/a")
                      else f"`{settings['nats']}`") + " |")
    out += ["", "Each comparison is within one level. NATS 2.9.10 cannot fsync per write "
            "(`sync_interval` is rejected as an unknown field; it came with 2.10), so it is "
            "compared only at the async level, where its 60 s timer is weaker than the "
            "others' 1 s: that favours NATS.", ""]

    out += [f"### Produce throughput (MB/s of payload; {s['batch_records']} records per batch, "
            f"acks after the level's durability)", "",
            "| level | records | Tidelog | Redis | NATS | Tidelog / better peer | "
            "Tidelog / disk |", "|---|---|---:|---:|---:|---:|---:|"]
    for level in LEVELS:
        for case in sorted({c["case"] for c in cases if c["workload"] == "produce"},
                           key=lambda k: (int(k.split("-")[1]), k)):
            r = rows.get((level, case), {})
            cells = [system_cell(cases, level, case, system, s, "bytes_per_s", 1e6, "{:.1f}")
                     for system in SYSTEMS]
            out.append(f"| {level} | {case_label(case)} | " + " | ".join(cells) + " | "
                       f"{ratio(r.get('ratio_to_best_peer'))} | "
                       f"{ratio(r.get('ratio_to_disk'), percent=True)} |")
    out.append("")

    out += [f"### Consume throughput (MB/s; {s['consume_records']} records of 1 KiB, "
            "1 partition, async level)", "",
            "| from | Tidelog | Redis | NATS | Tidelog / better peer | Tidelog / loopback |",
            "|---|---:|---:|---:|---:|---:|"]
    for source in ("cache", "disk"):
        case = f"consume-1024-{source}"
        r = rows.get(("async", case), {})
        cells = [("n/a (memory only)" if system == "redis" and source == "disk" else
                  system_cell(cases, "async", case, system, s, "bytes_per_s", 1e6, "{:.1f}"))
                 for system in SYSTEMS]
        out.append(f"| {source} | " + " | ".join(cells) + f" | {ratio(r.get('ratio_to_best_peer'))}"
                   f" | {ratio(r.get('ratio_to_loopback'), percent=True)} |")
    out += ["", f"From disk: servers restarted on the same data (tidelogd with "
            f"`--cache-bytes-per-shard 0`); page cache dropped before every run: "
            f"{'yes' if s.get('drop_caches') else 'no (not root: NATS may read from the page cache)'}.",
            ""]

    out += ["### End-to-end latency, produce to consume (ms; 1 KiB records, 1 partition, "
            f"{s['latency_seconds']} s per run of which {s['latency_warmup_seconds']} s warm-up, "
            "from the scheduled send time)", "",
            "| level | rate/s | system | p50 | p99 | p99.9 | max | errors | "
            "Tidelog p99 / better peer's |", "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for level in LEVELS:
        for rate in s["latency_rates"]:
            case = f"latency-1024-r{rate}"
            r = rows.get((level, case), {})
            for system in SYSTEMS:
                c = find(cases, level, case, system)
                if s["levels"][level][system].startswith("n/a"):
                    continue
                if not c:
                    out.append(f"| {level} | {rate} | {SYSTEM_NAMES[system]} | not run or failed "
                               "| | | | | |")
                    continue
                out.append(f"| {level} | {rate} | {SYSTEM_NAMES[system]} | "
                           + " | ".join(cell(c[f'latency_{k}_us'], 1e3, '{:.2f}')
                                        for k in ("p50", "p99", "p99_9", "max"))
                           + f" | {c['errors']}"
                           # Offered but not sent: the sender itself fell behind.
                           + (f" (sent {c['sent_per_s']['median']:.0f}/s)"
                              if c["sent_per_s"]["median"] < 0.95 * rate else "") + " | "
                           + (ratio(r.get("ratio_to_best_peer")) if system == "tidelog" else "")
                           + " |")
    out.append("")

    t = summary["targets"]
    out += ["### Targets", ""]

    def misses(workloads, key="target_met"):
        lines = []
        for r in summary["comparisons"]:
            if r["workload"] in workloads and r.get(key) is False:
                lines.append(f"  - {r['level']} / {case_label(r['case'])}: "
                             f"{ratio(r.get('ratio_to_best_peer'))} of {SYSTEM_NAMES[r['best_peer']]}"
                             f"; bottleneck: {r.get('bottleneck', '-')}")
        return lines

    tp = t["throughput_2x_better_peer"]
    out.append(f"- **Throughput ≥ 2× the better peer at equal durability: "
               f"{'met' if tp['met'] else 'MISSED' if tp['cases'] else 'not measured'}** "
               f"({tp['cases'] - len(tp['missed'])} of {tp['cases']} cases).")
    out += misses(("produce", "consume"))
    lt = t["p99_half_of_better_peer"]
    out.append(f"- **p99 end-to-end ≤ half the better peer's at the same rate: "
               f"{'met' if lt['met'] else 'MISSED' if lt['cases'] else 'not measured'}** "
               f"({lt['cases'] - len(lt['missed'])} of {lt['cases']} cases).")
    out += misses(("latency",))
    dt = t["produce_80_percent_of_disk"]
    best = f"{dt['best'] * 100:.0f} %" if dt["best"] is not None else "-"
    out.append(f"- **Produce ≥ 80 % of the disk limit: "
               f"{'met' if dt['met'] else 'MISSED' if dt['cases'] else 'not measured'}** "
               f"(best 1 KiB case {best} of fio's sequential write).")
    for r in summary["comparisons"]:
        if (r["workload"] == "produce" and r["case"].startswith("produce-1024")
                and r.get("ratio_to_disk", 1) < DISK_TARGET_SHARE):
            out.append(f"  - {r['level']} / {case_label(r['case'])}: "
                       f"{r['ratio_to_disk'] * 100:.0f} %; bottleneck: {r.get('bottleneck', '-')}")
    out.append("")
    if summary["plots"]:
        out += ["Plots: " + ", ".join(f"`{os.path.basename(p)}`" for p in summary["plots"])
                + " (in `perf/results/`).", ""]
    return "\n".join(out)


# ---- plots --------------------------------------------------------------------

def plots(summary, out_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    cases = summary["cases"]
    written = []
    colors = {"tidelog": "#1f77b4", "redis": "#d62728", "nats": "#2ca02c"}

    def bars(ax, groups, series, title, ylabel):
        width = 0.8 / max(1, len(series))
        for i, (label, system, values) in enumerate(series):
            xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
            medians = [v["median"] / 1e6 if v else 0 for v in values]
            errors = [[(v["median"] - v["min"]) / 1e6 if v else 0 for v in values],
                      [(v["max"] - v["median"]) / 1e6 if v else 0 for v in values]]
            ax.bar(xs, medians, width, yerr=errors, capsize=3, label=label,
                   color=colors.get(system), alpha=1.0 if "sync" not in label else 0.6)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups, fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)

    produce_cases = sorted({c["case"] for c in cases if c["workload"] == "produce"},
                           key=lambda k: (int(k.split("-")[1]), k))
    if produce_cases:
        fig, axes = plt.subplots(1, len(LEVELS), figsize=(12, 4.5), squeeze=False)
        for ax, level in zip(axes[0], LEVELS):
            series = []
            for system in SYSTEMS:
                values = [(find(cases, level, case, system) or {}).get("bytes_per_s")
                          for case in produce_cases]
                if any(values):
                    series.append((SYSTEM_NAMES[system], system, values))
            bars(ax, [case_label(c) for c in produce_cases], series,
                 f"Produce, {level} level", "MB/s of payload")
            disk = summary["limits"].get("disk_write_bytes_per_s")
            if disk:
                ax.axhline(disk["median"] / 1e6, color="grey", linestyle="--", linewidth=1)
                ax.text(0, disk["median"] / 1e6, " disk limit (fio)", fontsize=7, va="bottom")
        fig.tight_layout()
        path = os.path.join(out_dir, "peers-produce.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    sources = ["consume-1024-cache", "consume-1024-disk"]
    if any(c["case"] in sources for c in cases):
        fig, ax = plt.subplots(figsize=(6, 4.5))
        series = []
        for system in SYSTEMS:
            values = [(find(cases, "async", case, system) or {}).get("bytes_per_s")
                      for case in sources]
            if any(values):
                series.append((SYSTEM_NAMES[system], system, values))
        bars(ax, ["from cache", "from disk"], series, "Consume, 1 KiB records", "MB/s")
        fig.tight_layout()
        path = os.path.join(out_dir, "peers-consume.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    rates = summary["settings"].get("latency_rates", [])
    if rates and any(c["workload"] == "latency" for c in cases):
        fig, axes = plt.subplots(len(LEVELS), len(rates), figsize=(4 * len(rates), 7),
                                 squeeze=False, sharey=True)
        keys = ("p50", "p99", "p99_9", "max")
        for row, level in enumerate(LEVELS):
            for column, rate in enumerate(rates):
                ax = axes[row][column]
                for system in SYSTEMS:
                    c = find(cases, level, f"latency-1024-r{rate}", system)
                    if not c:
                        continue
                    medians = [c[f"latency_{k}_us"]["median"] / 1e3 for k in keys]
                    low = [m - c[f"latency_{k}_us"]["min"] / 1e3 for m, k in zip(medians, keys)]
                    high = [c[f"latency_{k}_us"]["max"] / 1e3 - m for m, k in zip(medians, keys)]
                    ax.errorbar(range(len(keys)), medians, yerr=[low, high], marker="o",
                                capsize=3, label=SYSTEM_NAMES[system], color=colors[system])
                ax.set_yscale("log")
                ax.set_xticks(range(len(keys)))
                ax.set_xticklabels(["p50", "p99", "p99.9", "max"], fontsize=8)
                ax.set_title(f"{level}, {rate} records/s", fontsize=10)
                if column == 0:
                    ax.set_ylabel("end-to-end latency, ms")
                if ax.get_legend_handles_labels()[0]:
                    ax.legend(fontsize=7)
        fig.tight_layout()
        path = os.path.join(out_dir, "peers-latency.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def main(argv):
    parser = argparse.ArgumentParser(prog="summarize.py peers",
                                     description="Summarises perf/peers.sh's run.")
    parser.add_argument("--raw-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--markdown", required=True)
    parser.add_argument("--plots", required=True, help="directory for the PNG files")
    parser.add_argument("--mode", required=True)
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--command", required=True)
    parser.add_argument("--load-before", required=True)
    parser.add_argument("--load-after", required=True)
    parser.add_argument("--elapsed-s", type=int, required=True)
    args = parser.parse_args(argv)
    settings = load_json(os.path.join(args.raw_dir, "settings.json"))
    if settings is None:
        sys.exit(f"{args.raw_dir}/settings.json: missing or not JSON")
    limits = limits_of(args.raw_dir)
    cases = cases_of(args.raw_dir)
    rows = comparisons(cases, limits)
    summary = {
        "mode": args.mode,
        "command": args.command,
        "machine": machine(args.build_dir, args.data_dir),
        "load_average": {"before": args.load_before, "after": args.load_after},
        "elapsed_s": args.elapsed_s,
        "settings": settings,
        "limits": limits,
        "cases": cases,
        "comparisons": rows,
        "targets": targets(rows),
        "raw_dir": args.raw_dir,
    }
    summary["plots"] = plots(summary, args.plots)
    text = markdown(summary)
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    with open(args.markdown, "w") as f:
        f.write(text + "\n")
    print(text)

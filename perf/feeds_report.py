#!/usr/bin/python3
"""Summarises perf/feed_bench.sh (run.sh's `feeds` section): `summarize.py feeds ...`.

Reads the raw directory feed_bench.sh wrote (runs.jsonl: one line per run with
CPU, disk and wall-clock snapshots at the ends of its measured window; the
/metrics scrapes taken at the same moments; dpdk-testpmd logs; feedgen's JSON
per zero-drop step; fio JSON; the shard thread's perf report; settings.json)
and writes
  - feeds.json: every case's statistics over runs (median, spread), the limits,
    the ratios Tidelog/testpmd and log bytes/disk, the zero-drop search, the
    top symbols of the shard thread, each target met or missed with the
    bottleneck measured;
  - feeds.md, also printed: the section for docs/performance.md.
`feeds_report.py --step-ok RAW_DIR STEP` exits 0 when a zero-drop step passed
(feed_bench.sh uses it to stop climbing). Targets are reported, never
asserted: the exit status says only whether the inputs could be read.
"""

import argparse
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summarize import machine, read_json_lines, stats_of  # noqa: E402

ETHERNET_IPV4_UDP_BYTES = 14 + 20 + 8  # the frame around a raw payload (no FCS)
TARGET_MPPS_64_NONE = 5.0               # >= 5 Mpps per shard, 64 B, flush none
TARGET_RATIO_TO_TESTPMD = 0.70          # >= 70 % of testpmd rx-only
SENDER_KEPT_UP = 0.95                   # a step counts if >= 95 % of its rate was offered
DISK_SATURATED = 0.80                   # device writes >= 80 % of fio's: disk-bound
TOP_SYMBOLS = 10


# ---- inputs -------------------------------------------------------------------

def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def metrics_of(path):
    """Prometheus text -> {name: sum over the feed's / partition's series}."""
    sums = {}
    try:
        with open(path) as f:
            for line in f:
                match = re.match(r"^(\w+)(\{[^}]*\})?\s+(\S+)$", line.strip())
                if not match:
                    continue
                labels = match.group(2) or ""
                if "feed=" in labels and 'feed="bench"' not in labels:
                    continue
                if "topic=" in labels and 'topic="bench"' not in labels:
                    continue
                sums[match.group(1)] = sums.get(match.group(1), 0.0) + float(match.group(3))
    except OSError:
        return None
    return sums


def deltas(raw_dir, run):
    """Counter deltas and rates over a run's window (None when a scrape is missing)."""
    m0 = metrics_of(os.path.join(raw_dir, run["tag"] + ".metrics-0.txt"))
    m1 = metrics_of(os.path.join(raw_dir, run["tag"] + ".metrics-1.txt"))
    if not m0 or not m1:
        return None
    b, a = run["before"], run["after"]
    seconds = a["t"] - b["t"]

    def d(name):
        return m1.get(name, 0.0) - m0.get(name, 0.0)

    busy = a["machine_ticks"][0] - b["machine_ticks"][0]
    total = a["machine_ticks"][1] - b["machine_ticks"][1]
    return {
        "seconds": seconds,
        "written": d("tidelog_feed_records_written_total"),
        "packets": d("tidelog_feed_packets_total"),
        "dropped": d("tidelog_feed_dropped_records_total"),
        "missed": d("tidelog_feed_port_missed_packets_total"),
        "no_mbuf": d("tidelog_feed_port_no_mbuf_total"),
        "filtered": d("tidelog_feed_filtered_packets_total"),
        "frame_bytes": d("tidelog_feed_bytes_total"),
        "log_bytes": d("tidelog_partition_size_bytes"),
        "fdatasyncs": d("tidelog_storage_fdatasyncs_total"),
        "stalls": d("tidelog_reactor_stalls_total"),
        "reactor_busy_ratio": m1.get("tidelog_reactor_busy_ratio"),
        "device_bytes": (a["disk"][0] - b["disk"][0]) * 512,
        "device_busy": (a["disk"][1] - b["disk"][1]) / 1e3 / seconds if seconds else 0.0,
        "shard_cores": (a["shard_cpu_s"] - b["shard_cpu_s"]) / seconds if seconds else 0.0,
        "process_cores": (a["process_cpu_s"] - b["process_cpu_s"]) / seconds if seconds else 0.0,
        "machine_busy": busy / total if total else 0.0,
    }


def testpmd_rate(path):
    """(Rx-pps, Rx-bps) of testpmd's periodic stats, the first period skipped."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    samples = [(int(p), int(b)) for p, b in re.findall(r"Rx-pps:\s+(\d+)\s+Rx-bps:\s+(\d+)", text)]
    # The first block is printed at start (zeros); the first period after it
    # includes start-up. The final summary repeats the last period: drop it.
    samples = [s for s in samples[1:] if s[0] > 0]
    if len(samples) > 2:
        samples = samples[1:-1]
    if not samples:
        return None
    return (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples))


def limits_of(raw_dir):
    samples = []
    for name in sorted(os.listdir(raw_dir)):
        if name.startswith("fio-seqwrite-rep") and name.endswith(".json"):
            report = load_json(os.path.join(raw_dir, name))
            if report and not report["jobs"][0].get("error"):
                samples.append(float(report["jobs"][0]["write"]["bw_bytes"]))
    return {"disk_write_bytes_per_s": stats_of(samples)} if samples else {}


def top_symbols(raw_dir):
    """The shard thread's top symbols by self time (perf report --no-children)."""
    path = os.path.join(raw_dir, "perf-64-none.txt")
    symbols, samples, event = [], None, None
    try:
        with open(path) as f:
            for line in f:
                match = re.match(r"^# Samples: (\S+) of event '([^']+)'", line)
                if match:
                    samples, event = match.group(1), match.group(2)
                # "  11.37%  libc.so.6  [.] __memmove_avx512_unaligned_erms  -  -"
                match = re.match(r"^\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*?)(\s+-\s+-)?\s*$", line)
                if match:
                    symbols.append({"percent": float(match.group(1)), "dso": match.group(2),
                                    "space": "kernel" if match.group(3) == "k" else "user",
                                    "symbol": match.group(4)})
    except OSError:
        return None
    # Per object, from the listed symbols (perf report's --percent-limit
    # leaves out the smallest: `listed` says how much the list covers).
    objects = {}
    for sym in symbols:
        objects[sym["dso"]] = objects.get(sym["dso"], 0.0) + sym["percent"]
    return {"samples": samples, "event": event, "symbols": symbols[:TOP_SYMBOLS],
            "objects": sorted(({"dso": k, "percent": v} for k, v in objects.items()),
                              key=lambda o: -o["percent"]),
            "listed_percent": sum(sym["percent"] for sym in symbols)}


def step_result(raw_dir, run):
    """One zero-drop step: what was offered, sent, written, dropped where."""
    d = deltas(raw_dir, run)
    sent = load_json(os.path.join(raw_dir, run["tag"] + ".feedgen.json"))
    out = {"rate": run["rate"], "flush": run["flush"], "run": run["run"], "ok": False}
    if d is None or sent is None or run.get("status", 1) != 0:
        out["why"] = "feedgen failed or a scrape is missing"
        return out
    out.update({
        "frames": sent["frames"], "sent": sent["frames_sent"],
        "sender_dropped": sent["frames_dropped"], "sent_per_s": sent["sent_per_s"],
        "sender_late_ms_max": sent.get("late_ms_max", 0.0),
        "written": d["written"], "broker_dropped": d["dropped"], "missed": d["missed"],
        "shard_cores": d["shard_cores"], "process_cores": d["process_cores"],
        "stalls": d["stalls"],
        "machine_busy": d["machine_busy"],
    })
    problems = []
    if sent["frames_dropped"]:
        problems.append(f"{sent['frames_dropped']} dropped at the sender (memif ring full)")
    if d["dropped"]:
        problems.append(f"{d['dropped']:.0f} dropped by the broker (log behind)")
    if d["missed"]:
        problems.append(f"{d['missed']:.0f} missed by the port")
    if d["written"] != sent["frames_sent"]:
        problems.append(f"written {d['written']:.0f} != sent {sent['frames_sent']}")
    if sent["sent_per_s"] < SENDER_KEPT_UP * run["rate"]:
        problems.append(f"the sender offered only {sent['sent_per_s'] / 1e6:.2f} Mpps")
    out["ok"] = not problems
    out["why"] = "; ".join(problems)
    return out


# ---- summary ------------------------------------------------------------------

def ingest_cases(raw_dir, runs, settings):
    cases = []
    for payload in settings["payloads"]:
        frame = payload + ETHERNET_IPV4_UDP_BYTES
        for flush in settings["flush_modes"]:
            per_run = [d for d in (deltas(raw_dir, r) for r in runs
                                   if r["kind"] == "tidelog" and r["payload"] == payload
                                   and r["flush"] == flush) if d]
            if not per_run:
                cases.append({"payload": payload, "flush": flush, "runs": 0})
                continue

            def rate(key, scale=1.0):
                return stats_of([x[key] / x["seconds"] * scale for x in per_run])

            cases.append({
                "payload": payload, "flush": flush, "runs": len(per_run), "frame_bytes": frame,
                "records_per_s": rate("written"),
                "packets_per_s": rate("packets"),
                "dropped_per_s": rate("dropped"),
                "missed_per_s": rate("missed"),
                "frame_gbit_per_s": stats_of([x["written"] * frame * 8 / x["seconds"] / 1e9
                                              for x in per_run]),
                "payload_gbit_per_s": stats_of([x["written"] * payload * 8 / x["seconds"] / 1e9
                                                for x in per_run]),
                "log_bytes_per_s": rate("log_bytes"),
                "device_bytes_per_s": rate("device_bytes"),
                "device_busy": stats_of([x["device_busy"] for x in per_run]),
                "fdatasyncs_per_s": rate("fdatasyncs"),
                "shard_cores": stats_of([x["shard_cores"] for x in per_run]),
                "process_cores": stats_of([x["process_cores"] for x in per_run]),
                "machine_busy": stats_of([x["machine_busy"] for x in per_run]),
                "reactor_busy_ratio": stats_of([x["reactor_busy_ratio"] or 0.0 for x in per_run]),
                "filtered": sum(x["filtered"] for x in per_run),
            })
    return cases


def testpmd_cases(raw_dir, runs, settings):
    cases = []
    for payload in settings["payloads"]:
        rates = [t for t in (testpmd_rate(os.path.join(raw_dir, r["tag"] + ".log")) for r in runs
                             if r["kind"] == "testpmd" and r["payload"] == payload) if t]
        cases.append({"payload": payload, "runs": len(rates),
                      "packets_per_s": stats_of([t[0] for t in rates]) if rates else None,
                      "frame_gbit_per_s": stats_of([t[1] / 1e9 for t in rates]) if rates else None})
    return cases


def zero_drop(raw_dir, runs, settings):
    steps = [step_result(raw_dir, r) for r in runs if r["kind"] == "zerodrop"]
    best = {}
    for flush in settings["flush_modes"]:
        per_run = []
        for n in range(1, settings["ladder_runs"] + 1):
            passed = [s["rate"] for s in steps if s["flush"] == flush and s["run"] == n and s["ok"]]
            per_run.append(max(passed) if passed else 0)
        best[flush] = {"per_run": per_run, "median": statistics.median(per_run),
                       "min": min(per_run), "max": max(per_run)}
    return {"steps": steps, "highest_zero_drop_rate": best}


def bottleneck(case, limits):
    """What bounds a maximum-ingest case, from what was measured: the disk
    (device writes near fio's), the group commit's cadence (group mode, the
    disk not saturated), or the shard's CPU (its reactor busy)."""
    disk = limits.get("disk_write_bytes_per_s", {}).get("median")
    device = case["device_bytes_per_s"]["median"]
    share = device / disk if disk else None
    share_text = f"disk at {share * 100:.0f} % of fio" if share is not None else "no disk limit"
    dropped = case["dropped_per_s"]["median"]
    lead = (f"the log took {case['records_per_s']['median'] / 1e6:.2f} of "
            f"{case['packets_per_s']['median'] / 1e6:.2f} M packets/s received "
            f"({dropped / 1e6:.2f} M/s dropped); " if dropped > 0 else "")
    if share is not None and share >= DISK_SATURATED:
        return (f"{lead}the disk: the device wrote {device / 1e6:.0f} MB/s, "
                f"{share * 100:.0f} % of fio's sequential write")
    syncs = case["fdatasyncs_per_s"]["median"]
    if case["flush"] == "group" and syncs > 0:
        return (f"{lead}the group commit: {syncs:.0f} fdatasyncs/s of "
                f"{case['log_bytes_per_s']['median'] / syncs / 1e6:.2f} MB each, device "
                f"{case['device_busy']['median'] * 100:.0f} % busy, {share_text}")
    busy = case["reactor_busy_ratio"]["median"]
    if dropped > 0:
        return (f"{lead}the shard's CPU: reactor busy {busy * 100:.0f} %, shard thread "
                f"{case['shard_cores']['median']:.2f} cores, {share_text}")
    return f"the vdev's offered rate (nothing dropped); {share_text}"


def targets(ingest, testpmd, limits):
    by = {(c["payload"], c["flush"]): c for c in ingest}
    limit = {c["payload"]: c for c in testpmd}
    out = {}
    c = by.get((64, "none"))
    if c and c["runs"]:
        mpps = c["records_per_s"]["median"] / 1e6
        out["mpps_64_none"] = {"target": TARGET_MPPS_64_NONE, "value": mpps,
                               "met": mpps >= TARGET_MPPS_64_NONE,
                               "bottleneck": bottleneck(c, limits)}
    ratios = []
    for c in ingest:
        t = limit.get(c["payload"])
        if not c["runs"] or not t or not t["packets_per_s"]:
            continue
        r = c["records_per_s"]["median"] / t["packets_per_s"]["median"]
        c["ratio_to_testpmd"] = r
        ratios.append({"payload": c["payload"], "flush": c["flush"], "ratio": r,
                       "met": r >= TARGET_RATIO_TO_TESTPMD, "bottleneck": bottleneck(c, limits)})
    headline = next((r for r in ratios if r["payload"] == 64 and r["flush"] == "none"), None)
    out["ratio_to_testpmd"] = {"target": TARGET_RATIO_TO_TESTPMD, "cases": ratios,
                               "met_64_none": headline["met"] if headline else None}
    disk = limits.get("disk_write_bytes_per_s", {}).get("median")
    for c in ingest:
        if c["runs"] and disk:
            c["device_share_of_disk"] = c["device_bytes_per_s"]["median"] / disk
            c["log_share_of_disk"] = c["log_bytes_per_s"]["median"] / disk
    return out


# ---- markdown -----------------------------------------------------------------

def cell(s, scale=1.0, fmt="{:.2f}"):
    if not s:
        return "-"
    return (fmt.format(s["median"] / scale) + " [" + fmt.format(s["min"] / scale) + "–"
            + fmt.format(s["max"] / scale) + "]")


def markdown(summary):
    s = summary["settings"]
    m = summary["machine"]
    limits = summary["limits"]
    out = ["## Feed ingest (issue 8)", "",
           f"Generated by `perf/summarize.py feeds` from one run of `perf/feed_bench.sh` "
           f"({summary['mode']}); {summary['elapsed_s']} s. The exact command:", "", "```sh",
           summary["command"], "```", "",
           f"**Machine:** {m['cpu_model']}, {m['cpus_online']} vCPUs"
           f"{', ' + m['hypervisor'] + ' guest' if m.get('hypervisor') else ''}, "
           f"kernel {m['kernel']}, no hugepages (EAL `--no-huge`); data on "
           f"{m['filesystem']['type']} on {m['filesystem']['source']}; build {m['buildtype']} at "
           f"`{m['git_commit'][:7]}`{' (dirty)' if m['git_dirty'] else ''}; DPDK "
           f"{s.get('dpdk_version') or '?'}; load average {summary['load_average']['before']} "
           f"before, {summary['load_average']['after']} after"
           + (f"; waited {summary['quiet_waited_s']} s for a quiet machine"
              if summary.get("quiet_waited_s") else "") + ". "
           f"Figures: median [min–max] over {s['runs']} runs.", ""]

    out += ["**Setup.** `tidelogd --smp 1` (one shard, pinned to CPU 0, busy-polling: "
            f"`idle_sleep_us: 0`, `burst_size: {s['burst_size']}`), one feed with the `raw` "
            "decoder (one UDP datagram = one record) into a 1-partition topic, "
            f"`{s['broker_flags']}`. Offered load: the in-memory vdev `{s['vdev']}`, a pcap of "
            f"{s['fixture_frames']} frames from `perf/feedgen` (Ethernet/IPv4/UDP, UDP checksum "
            f"0) preloaded into mbufs and replayed forever (fewer frames than the "
            f"{s['mbufs_per_queue']} mbufs of the port's pool). `net_null` would be faster but "
            "delivers zero-filled frames that are not UDP, which the parser filters: `net_pcap` "
            "`infinite_rx=1` is the in-memory vdev with valid frames. The limit is "
            f"`{s['testpmd']}` on exactly the same vdev string (its forwarding lcore on CPU 0, "
            "where the shard runs), alternated with tidelogd run by run. Rates come from "
            f"`/metrics` deltas over {s['window_s']} s after {s['warmup_s']} s of warm-up. "
            "**Gbit/s** is given twice: *frame* = records × (payload + 42 B Ethernet/IPv4/UDP "
            "headers, no FCS, no preamble or inter-frame gap; what testpmd's Rx-bps counts) and "
            "*payload* = records × payload bytes (what the log stores as record values).", ""]

    d = limits.get("disk_write_bytes_per_s")
    out += ["### Maximum ingest rate per shard (unbounded offered load)", "",
            "| payload | flush | written, Mpps | frame Gbit/s | payload Gbit/s | dropped, Mpps | "
            "testpmd rx-only, Mpps (same run) | Tidelog / testpmd | log MB/s | device MB/s "
            "(% of fio) | shard thread, cores | tidelogd, cores |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    limit = {c["payload"]: c for c in summary["testpmd"]}
    for c in summary["ingest"]:
        t = limit.get(c["payload"], {})
        if not c["runs"]:
            out.append(f"| {c['payload']} B | {c['flush']} | not run or failed | | | | | | | | | |")
            continue
        share = c.get("device_share_of_disk")
        out.append(
            f"| {c['payload']} B | {c['flush']} | {cell(c['records_per_s'], 1e6)} | "
            f"{cell(c['frame_gbit_per_s'])} | {cell(c['payload_gbit_per_s'])} | "
            f"{cell(c['dropped_per_s'], 1e6)} | {cell(t.get('packets_per_s'), 1e6)} | "
            f"{c['ratio_to_testpmd'] * 100:.0f} % | " if "ratio_to_testpmd" in c else
            f"| {c['payload']} B | {c['flush']} | {cell(c['records_per_s'], 1e6)} | "
            f"{cell(c['frame_gbit_per_s'])} | {cell(c['payload_gbit_per_s'])} | "
            f"{cell(c['dropped_per_s'], 1e6)} | - | - | ")
        out[-1] += (f"{cell(c['log_bytes_per_s'], 1e6, '{:.0f}')} | "
                    f"{cell(c['device_bytes_per_s'], 1e6, '{:.0f}')}"
                    + (f" ({share * 100:.0f} %)" if share is not None else "") + " | "
                    f"{cell(c['shard_cores'])} | {cell(c['process_cores'])} |")
    out += ["", "testpmd rx-only frame Gbit/s: " + ", ".join(
        f"{t['payload']} B {cell(t['frame_gbit_per_s'])}" for t in summary["testpmd"]
        if t.get("frame_gbit_per_s")) + ". "
        + (f"Disk limit, same run: fio sequential O_DIRECT write {cell(d, 1e6, '{:.0f}')} MB/s "
           f"(io_uring, 1 MiB, QD16, {s['fio_mib']} MiB preallocated, end fsync, "
           f"{s['fio_runs']} runs). " if d else "Disk limit: fio failed. ")
        + "*log MB/s*: growth of the partition (`tidelog_partition_size_bytes`); *device MB/s*: "
        "sectors the data device wrote (`/proc/diskstats`). *dropped*: records the feed "
        "discarded because the log could not keep up (`tidelog_feed_dropped_records_total`); "
        "the offered load is unbounded, so drops here mean the log is the bound, not loss "
        "at a real feed's rate. The shard thread busy-polls, so its CPU is ~1 core by design.",
        ""]

    z = summary["zero_drop"]
    out += [f"### Highest offered rate with zero drops ({s['ladder_payload']} B payloads, memif)",
            "", "`tidelogd` with the port `" + s["memif_server"] + "`, `perf/feedgen --dpdk-vdev "
            + s["memif_client"] + f" --rate R --duration {s['step_s']}` pinned to CPU "
            f"{s['sender_cpu']} (the shard on CPU {s['shard_cpu']}): **sender and broker share "
            "the machine's 2 vCPUs**, and the sender's copy into memif costs CPU too. The memif "
            "ring holds 1024 frames (the default `rsize`, like tidelogd's default 1024 RX "
            "descriptors): a shard stall longer than 1024 / R overflows it (*shard stalls*: "
            "`tidelog_reactor_stalls_total`, loop iterations > 500 µs). A step "
            "passes when the sender dropped nothing (memif ring full), the broker dropped and "
            "missed nothing, records written == frames sent, and the sender offered at least "
            f"{SENDER_KEPT_UP * 100:.0f} % of R. *sender late*: how far the paced sender fell "
            "behind its schedule at worst (it then sends the backlog at once, a burst the ring "
            "must absorb). Steps go up until two fail in a row; "
            f"{s['ladder_runs']} run(s) per flush mode on a fresh broker.", "",
            "| flush | highest zero-drop rate, Mpps | per run |", "|---|---:|---|"]
    for flush, b in z["highest_zero_drop_rate"].items():
        out.append(f"| {flush} | {b['median'] / 1e6:.2f} [{b['min'] / 1e6:.2f}–{b['max'] / 1e6:.2f}]"
                   f" | {', '.join(f'{r / 1e6:.2f}' for r in b['per_run'])} |")
    out += ["", "| flush | run | offered, Mpps | sent, Mpps | written | dropped: sender / broker / "
            "missed | sender late, ms | shard stalls | tidelogd, cores | machine CPU | result |",
            "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|"]
    for st in z["steps"]:
        if "sent" not in st:
            out.append(f"| {st['flush']} | {st['run']} | {st['rate'] / 1e6:.2f} | - | - | - | - | - "
                       f"| - | - | failed: {st['why']} |")
            continue
        out.append(f"| {st['flush']} | {st['run']} | {st['rate'] / 1e6:.2f} | "
                   f"{st['sent_per_s'] / 1e6:.2f} | {st['written']:.0f} | "
                   f"{st['sender_dropped']} / {st['broker_dropped']:.0f} / {st['missed']:.0f} | "
                   f"{st['sender_late_ms_max']:.1f} | {st['stalls']:.0f} | {st['process_cores']:.2f} | {st['machine_busy'] * 100:.0f} % | "
                   + ("zero drops" if st["ok"] else st["why"]) + " |")
    out.append("")

    p = summary.get("profile")
    if p and p["symbols"]:
        out += [f"### Where the shard's time goes (64 B, flush none)", "",
                f"`perf record -g -t <tidelog-shard0>` for {s['profile_s']} s during one 64 B / "
                f"none run, after its measured window ({p['samples'] or '?'} samples of "
                f"`{p.get('event') or '?'}`); `perf report --no-children --sort dso,symbol`: top "
                "symbols by self time (hex addresses: a DSO without symbols).", "",
                "| % self | symbol | object |", "|---:|---|---|"]
        for sym in p["symbols"]:
            name = sym["symbol"].replace("|", "\\|")
            out.append(f"| {sym['percent']:.2f} | `{name}`"
                       + (" (kernel)" if sym["space"] == "kernel" else "")
                       + f" | {sym.get('dso', '?')} |")
        if p.get("objects"):
            out += ["", "By object (sum of the listed symbols, "
                    f"{p['listed_percent']:.0f} % of the samples): "
                    + ", ".join(f"{o['dso']} {o['percent']:.1f} %" for o in p["objects"][:6])
                    + ". `librte_net_pcap` is the vdev's own receive (with `infinite_rx` it "
                    "copies every frame from its preloaded ring into a fresh mbuf), which "
                    "testpmd pays too; it has no symbols, so its time is spread over addresses."]
        out.append("")

    t = summary["targets"]
    out += ["### Targets", ""]
    h = t.get("mpps_64_none")
    if h:
        out.append(f"- **≥ {h['target']:.0f} Mpps per shard, 64 B into the log with `none`: "
                   f"{'met' if h['met'] else 'MISSED'}** ({h['value']:.2f} Mpps). Bound: "
                   f"{h['bottleneck']}.")
    else:
        out.append(f"- **≥ {TARGET_MPPS_64_NONE:.0f} Mpps per shard, 64 B, `none`: not measured.**")
    r = t["ratio_to_testpmd"]
    head = next((c for c in r["cases"] if c["payload"] == 64 and c["flush"] == "none"), None)
    if head:
        out.append(f"- **≥ {r['target'] * 100:.0f} % of testpmd's rx-only rate (64 B, `none`): "
                   f"{'met' if head['met'] else 'MISSED'}** ({head['ratio'] * 100:.0f} %). "
                   "Other cases: " + ", ".join(
                       f"{c['payload']} B/{c['flush']} {c['ratio'] * 100:.0f} %"
                       + ("" if c["met"] else " (missed)")
                       for c in r["cases"] if c is not head) + ".")
        for c in r["cases"]:
            if not c["met"]:
                out.append(f"  - {c['payload']} B / {c['flush']}: {c['ratio'] * 100:.0f} %; bound: "
                           f"{c['bottleneck']}")
    else:
        out.append("- **Ratio to testpmd: not measured.**")
    out.append("")
    return "\n".join(out)


def main(argv):
    if argv[:1] == ["--step-ok"]:
        raw_dir, tag = argv[1], argv[2]
        run = next((r for r in read_json_lines(os.path.join(raw_dir, "runs.jsonl"))
                    if r.get("tag") == tag), None)
        sys.exit(0 if run and step_result(raw_dir, run)["ok"] else 1)
    parser = argparse.ArgumentParser(description=__doc__)
    for flag in ("--raw-dir", "--out", "--markdown", "--mode", "--build-dir", "--data-dir",
                 "--command", "--load-before", "--load-after"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--elapsed-s", type=int, required=True)
    parser.add_argument("--quiet-waited-s", type=int, default=0)
    args = parser.parse_args(argv)

    settings = load_json(os.path.join(args.raw_dir, "settings.json"))
    if settings is None:
        sys.exit(f"{args.raw_dir}/settings.json missing or invalid")
    runs = read_json_lines(os.path.join(args.raw_dir, "runs.jsonl"))
    limits = limits_of(args.raw_dir)
    ingest = ingest_cases(args.raw_dir, runs, settings)
    testpmd = testpmd_cases(args.raw_dir, runs, settings)
    summary = {
        "mode": args.mode,
        "command": args.command,
        "machine": machine(args.build_dir, args.data_dir),
        "load_average": {"before": args.load_before, "after": args.load_after},
        "elapsed_s": args.elapsed_s,
        "quiet_waited_s": args.quiet_waited_s,
        "settings": settings,
        "limits": limits,
        "ingest": ingest,
        "testpmd": testpmd,
        "zero_drop": zero_drop(args.raw_dir, runs, settings),
        "profile": top_symbols(args.raw_dir),
        "raw_dir": args.raw_dir,
    }
    summary["targets"] = targets(ingest, testpmd, limits)
    text = markdown(summary)
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    with open(args.markdown, "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/env bash
# perf/feed_bench.sh BUILD_DIR [--quick]   (run.sh's `feeds` section; issue 8)
#
# DPDK feed ingest into the log, per shard, next to the limits measured in the
# same run. Writes
#   perf/results/feeds.json        summary: machine, commands, every case, targets
#   perf/results/feeds.md          the generated docs/performance.md section
#   perf/results/feeds-raw/        raw outputs: runs.jsonl (one line per run with
#                                  its counters), /metrics scrapes, testpmd and
#                                  tidelogd logs, feedgen JSON lines, fio JSON,
#                                  perf report of the shard thread
# and prints the markdown section on stdout (progress on stderr).
#
# 1. Limits: fio sequential O_DIRECT writes (run.sh's job: io_uring, 1 MiB,
#    QD16, preallocated, end fsync) on the disk under test: at 64 B payloads
#    the log is written at ~0.9 GB/s, so the disk can be the bound.
# 2. Maximum ingest rate: for 64 B and 512 B UDP payloads and flush modes none
#    and group, tidelogd --smp 1 with one feed (raw decoder: one datagram, one
#    record) on the in-memory vdev `net_pcap0,rx_pcap=FIXTURE,infinite_rx=1`
#    (the fixture, 4096 frames from perf/feedgen, is preloaded into mbufs and
#    replayed forever: an unbounded offered load of valid UDP frames; net_null
#    would be faster but its zero-filled frames are not UDP and are filtered).
#    Measured from /metrics deltas over a steady window after a warm-up:
#    records written/s, dropped/s (the log could not keep up), packets/s, the
#    shard thread's and the process' CPU, the data device's bytes written.
#    The limit: dpdk-testpmd rx-only on exactly the same vdev string (its
#    forwarding lcore on CPU 0, where tidelogd pins its shard), alternated with
#    tidelogd run by run (A-B-C, then C-B-A).
# 3. Highest offered rate with zero drops: tidelogd with a net_memif server
#    port, perf/feedgen --dpdk-vdev as the memif client pinned to CPU 1 (the
#    shard is on CPU 0: sender and broker share the 2 vCPUs), 64 B payloads,
#    offered rates stepped up; a step passes when the sender dropped nothing
#    (memif ring full), the broker dropped and missed nothing and records
#    written == frames sent.
# 4. A profile: `perf record -g` of the shard thread for a few seconds at
#    64 B / none (after that run's measured window), top symbols by self time.
#
# Environment (besides run.sh's TIDELOG_PERF_DIR, _RESULTS, _QUIET_WAIT_S, PYTHON):
#   TIDELOG_PERF_KAFKA_PORT, TIDELOG_PERF_ADMIN_PORT   tidelogd's ports (19092, 19644)
#   TIDELOG_PERF_FEEDS_PROFILE   0: no perf record (default 1 when `perf` is installed)
#   TIDELOG_PERF_FEEDS_RATES     offered rates for step 3, packets/s, comma-separated
#   TIDELOG_PERF_COMMAND         the command line to print as "the exact command"
set -euo pipefail

usage() {
    echo "usage: $0 BUILD_DIR [--quick]" >&2
    exit 2
}
[[ $# -ge 1 ]] || usage
build_dir=$(cd "$1" && pwd)
shift
quick=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=1 ;;
        *) usage ;;
    esac
    shift
done

perf_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-/usr/bin/python3}
data_dir=${TIDELOG_PERF_DIR:-/var/tmp/tidelog-perf}
results_dir=${TIDELOG_PERF_RESULTS:-$perf_dir/results}
raw_dir=$results_dir/feeds-raw
runs_log=$raw_dir/runs.jsonl
kafka_port=${TIDELOG_PERF_KAFKA_PORT:-19092}
admin_port=${TIDELOG_PERF_ADMIN_PORT:-19644}
quiet_wait_s=${TIDELOG_PERF_QUIET_WAIT_S:-0}
command_line=${TIDELOG_PERF_COMMAND:-"perf/feed_bench.sh $build_dir$([[ $quick -eq 1 ]] && echo ' --quick')"}
broker_bin=$build_dir/src/app/tidelogd
feedgen_bin=$build_dir/perf/feedgen/feedgen
testpmd_bin=$(command -v dpdk-testpmd || true)

# ---- settings per mode: one table, so that quick and full differ only here ----
if [[ $quick -eq 1 ]]; then
    mode=quick
    runs=2                 # per case, alternated
    warmup_s=1 window_s=3  # ingest: measured over window_s after warmup_s
    step_s=3               # zero-drop search: seconds per offered rate
    ladder_runs=1
    fio_mib=1024 fio_runs=1
else
    mode=full
    runs=5
    warmup_s=1 window_s=5
    step_s=4
    ladder_runs=2
    fio_mib=2048 fio_runs=3
fi
payloads=(64 512)
flush_modes=(none group)
fixture_frames=4096      # < mbufs_per_queue: infinite_rx preloads the whole file
mbufs_per_queue=16383
burst_size=32
ladder_payload=64
rates_default=250000,500000,1000000,1500000,2000000,2500000,3000000,4000000
IFS=, read -r -a ladder_rates <<<"${TIDELOG_PERF_FEEDS_RATES:-$rates_default}"
profile=${TIDELOG_PERF_FEEDS_PROFILE:-$(command -v perf >/dev/null && echo 1 || echo 0)}
profile_s=4
shard_cpu=0              # tidelogd --cpu-pinning pinned: shard 0 on CPU 0
sender_cpu=1
start_timeout_s=30
stop_timeout_s=30
testpmd_eal=(--no-huge -m 1024 --no-pci --no-shconf --no-telemetry --log-level=error)
testpmd_args=(--no-mlockall --total-num-mbufs=16384 --forward-mode=rxonly --stats-period 1 -a)

log() { echo "[feeds] $*" >&2; }
# shellcheck source=perf/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
die() { echo "[feeds] error: $*" >&2; exit 1; }

[[ -x $broker_bin ]] || die "$broker_bin not built"
[[ -x $feedgen_bin ]] || die "$feedgen_bin not built"
"$feedgen_bin" --help | grep -q -- --dpdk-vdev || die "$feedgen_bin has no --dpdk-vdev (built without DPDK?)"
[[ -n $testpmd_bin ]] || die "dpdk-testpmd not installed (apt-get install dpdk)"
command -v fio >/dev/null || die "fio not installed (./tidelog deps)"
command -v curl >/dev/null || die "curl not installed"
[[ -x $python ]] || die "$python not found"
(( $(nproc) >= 2 )) || die "needs 2 CPUs (shard on CPU $shard_cpu, sender on CPU $sender_cpu)"

mkdir -p "$data_dir" "$results_dir"
rm -rf "$raw_dir"
mkdir -p "$raw_dir"
fs_type=$(findmnt -n -T "$data_dir" -o FSTYPE 2>/dev/null || stat -f -c %T "$data_dir")
[[ $fs_type != tmpfs && $fs_type != ramfs ]] ||
    die "$data_dir is on $fs_type: the log must be on a disk (set TIDELOG_PERF_DIR)"
data_device=$(basename "$(findmnt -n -T "$data_dir" -o SOURCE 2>/dev/null || true)")
# A run writes up to ~1 GB/s for warm-up + window (+ the profile): fresh each run.
needed_free_kib=$(( (window_s + warmup_s + profile_s + 4) * 1100 * 1024 + fio_mib * 1024 ))
available_kib=$(df -Pk "$data_dir" | awk 'NR == 2 { print $4 }')
(( available_kib > needed_free_kib )) ||
    die "$data_dir: need $needed_free_kib KiB free, have $available_kib"
# Fixtures and the memif socket: small, in a directory of our own.
work_dir=$(mktemp -d /tmp/tidelog-feeds.XXXXXX)
broker_dir=$data_dir/feeds-broker
metrics_url=http://127.0.0.1:$admin_port/metrics

# ---- machine accounting --------------------------------------------------------

# CPU seconds (user + system) of /proc/$1/stat or /proc/P/task/T/stat; 0 if gone.
# "sectors_written io_ms" of the data device (/proc/diskstats fields 10, 13).
disk_counters() {
    awk -v dev="$data_device" '$3 == dev { print $10, $13; found = 1 }
        END { if (!found) print 0, 0 }' /proc/diskstats
}
# Machine CPU: "busy_ticks total_ticks" from /proc/stat's first line.
machine_ticks() {
    local -a cpu
    read -r -a cpu </proc/stat
    local total=0 i
    for (( i = 1; i < ${#cpu[@]}; ++i )); do total=$(( total + cpu[i] )); done
    echo "$(( total - cpu[4] )) $total"
}
now_s() { date +%s.%N; }
# A snapshot for runs.jsonl: wall time, machine CPU ticks, disk, process and shard CPU.
snapshot() {  # pid shard_tid
    local ticks disk
    ticks=$(machine_ticks)
    disk=$(disk_counters)
    echo "{\"t\": $(now_s), \"machine_ticks\": [${ticks// /, }], \"disk\": [${disk// /, }]," \
        "\"process_cpu_s\": $(cpu_s_of "/proc/$1/stat"), \"shard_cpu_s\": $(cpu_s_of "/proc/$1/task/$2/stat")}"
}

# ---- tidelogd --------------------------------------------------------------------

broker_pid=
feed_config() {  # port_string out_file
    cat >"$2" <<EOF
dpdk: {memory_mb: 512, mbufs_per_queue: $mbufs_per_queue, idle_sleep_us: 0, burst_size: $burst_size}
feeds:
  - name: bench
    ports: ["$1"]
    decoder: raw
    topic: bench
    partitions: 1
    partitioning: {by: queue}
EOF
}
broker_flags() {  # flush
    echo "--data-dir $broker_dir --smp 1 --flush-mode $1 --min-free-bytes 0" \
        "--kafka-addr 127.0.0.1:$kafka_port --admin-addr 127.0.0.1:$admin_port"
}
# Starts tidelogd on a fresh data directory; waits (bounded) for /metrics.
start_broker() {  # config flush log
    ! port_open "$kafka_port" || die "127.0.0.1:$kafka_port is in use (TIDELOG_PERF_KAFKA_PORT)"
    ! port_open "$admin_port" || die "127.0.0.1:$admin_port is in use (TIDELOG_PERF_ADMIN_PORT)"
    rm -rf "$broker_dir"
    mkdir -p "$broker_dir"
    # shellcheck disable=SC2046
    "$broker_bin" --config "$1" $(broker_flags "$2") >"$3" 2>&1 &
    broker_pid=$!
    local deadline=$(( SECONDS + start_timeout_s ))
    until curl -sf -o /dev/null "$metrics_url" && grep -q 'tidelogd ready' "$3"; do
        kill -0 "$broker_pid" 2>/dev/null || { broker_pid=; die "tidelogd exited while starting, see $3"; }
        (( SECONDS < deadline )) || die "tidelogd not ready after ${start_timeout_s}s, see $3"
        sleep 0.05
    done
}
stop_broker() {
    [[ -n $broker_pid ]] || return 0
    local pid=$broker_pid
    broker_pid=
    stop_process "$pid" tidelogd "$stop_timeout_s"
    rm -rf "$broker_dir"
}
shard_tid() {  # pid
    local task
    for task in /proc/"$1"/task/*; do
        [[ $(cat "$task/comm" 2>/dev/null) == tidelog-shard0 ]] && { basename "$task"; return; }
    done
    echo 0
}
scrape() {  # out_file
    curl -sf "$metrics_url" | grep -E '^tidelog_(feed|partition|reactor_busy|reactor_stalls|storage_fdatasyncs)' >"$1" ||
        log "warning: scraping $metrics_url failed"
}
cleanup() {
    stop_broker
    if [[ -n ${testpmd_pid:-} ]]; then kill -INT "$testpmd_pid" 2>/dev/null || true; fi
    if [[ -n ${feedgen_pid:-} ]]; then kill -TERM "$feedgen_pid" 2>/dev/null || true; fi
    rm -rf "$work_dir" "$broker_dir"
}
trap cleanup EXIT

started=$(date +%s)
load_before=$(cut -d' ' -f1 /proc/loadavg)
log "mode $mode; data $data_dir ($fs_type on ${data_device:-?}); results $results_dir"

# ---- 1. the disk's limit -----------------------------------------------------------
seq_file=$data_dir/feeds-seqwrite.dat
log "limit: fio sequential O_DIRECT writes (1 MiB, QD16, ${fio_mib} MiB) x $fio_runs"
for (( rep = 1; rep <= fio_runs; ++rep )); do
    rm -f "$seq_file"
    sync -f "$data_dir"
    wait_for_quiet
    fio --name=seqwrite --ioengine=io_uring --direct=1 --rw=write --bs=1024k --iodepth=16 \
        --size="${fio_mib}M" --filename="$seq_file" --fallocate=native --end_fsync=1 \
        --output-format=json --output="$raw_dir/fio-seqwrite-rep$rep.json" >/dev/null ||
        log "warning: fio sequential write failed"
done
rm -f "$seq_file"

# ---- 2. maximum ingest rate: tidelogd and testpmd on the same vdev ---------------------
for payload in "${payloads[@]}"; do
    "$feedgen_bin" --feed raw --payload-bytes "$payload" --count "$fixture_frames" \
        --udp-checksum off --pcap "$work_dir/raw$payload.pcap" >>"$raw_dir/feedgen.log"
done
vdev_of() { echo "net_pcap0,rx_pcap=$work_dir/raw$1.pcap,infinite_rx=1"; }

ingest_run() {  # payload flush rep
    local payload=$1 flush=$2 rep=$3 tag="ingest-$1-$2-rep$3" before after tid
    feed_config "$(vdev_of "$payload")" "$raw_dir/$tag.yaml"
    sync -f "$data_dir"
    wait_for_quiet
    start_broker "$raw_dir/$tag.yaml" "$flush" "$raw_dir/$tag.tidelogd.log"
    tid=$(shard_tid "$broker_pid")
    sleep "$warmup_s"
    before=$(snapshot "$broker_pid" "$tid")
    scrape "$raw_dir/$tag.metrics-0.txt"
    sleep "$window_s"
    after=$(snapshot "$broker_pid" "$tid")
    scrape "$raw_dir/$tag.metrics-1.txt"
    if [[ $profile -eq 1 && $payload == 64 && $flush == none && $rep == 1 && $tid != 0 ]]; then
        log "profile: perf record -g on the shard thread (tid $tid), ${profile_s}s"
        perf record -g -t "$tid" -o "$raw_dir/perf-64-none.data" -- sleep "$profile_s" \
            >"$raw_dir/perf-record.log" 2>&1 || log "warning: perf record failed"
    fi
    stop_broker
    echo "{\"kind\": \"tidelog\", \"payload\": $payload, \"flush\": \"$flush\", \"rep\": $rep," \
        "\"tag\": \"$tag\", \"before\": $before, \"after\": $after}" >>"$runs_log"
}

testpmd_pid=
testpmd_run() {  # payload rep
    local payload=$1 rep=$2 tag="testpmd-$1-rep$2" status=0
    wait_for_quiet
    # Forwarding lcore 0 (main lcore 1): the CPU tidelogd's shard is pinned to.
    timeout -s INT "$(( warmup_s + window_s + 3 ))" "$testpmd_bin" -l 0-1 --main-lcore 1 \
        "${testpmd_eal[@]}" --vdev="$(vdev_of "$payload")" -- "${testpmd_args[@]}" \
        </dev/null >"$raw_dir/$tag.log" 2>&1 &
    testpmd_pid=$!
    wait "$testpmd_pid" || status=$?
    testpmd_pid=
    # timeout's 124: stopped by our SIGINT, the normal end.
    (( status == 0 || status == 124 )) || log "warning: testpmd exited with $status, see $raw_dir/$tag.log"
    echo "{\"kind\": \"testpmd\", \"payload\": $payload, \"rep\": $rep, \"tag\": \"$tag\"," \
        "\"status\": $status}" >>"$runs_log"
}

for payload in "${payloads[@]}"; do
    log "ingest: ${payload} B payloads, flush ${flush_modes[*]} and testpmd rx-only, $runs runs" \
        "(${warmup_s}s warm-up + ${window_s}s window)"
    for (( rep = 1; rep <= runs; ++rep )); do
        if (( rep % 2 == 1 )); then
            for flush in "${flush_modes[@]}"; do ingest_run "$payload" "$flush" "$rep"; done
            testpmd_run "$payload" "$rep"
        else
            testpmd_run "$payload" "$rep"
            for (( i = ${#flush_modes[@]} - 1; i >= 0; --i )); do
                ingest_run "$payload" "${flush_modes[i]}" "$rep"
            done
        fi
    done
done
if [[ -f $raw_dir/perf-64-none.data ]]; then
    perf report -i "$raw_dir/perf-64-none.data" --no-children --sort dso,symbol --stdio \
        --percent-limit 0.01 -g none >"$raw_dir/perf-64-none.txt" 2>"$raw_dir/perf-report.log" ||
        log "warning: perf report failed"
    rm -f "$raw_dir/perf-64-none.data"
fi

# ---- 3. highest offered rate with zero drops (memif, feedgen on CPU 1) ----------------------
feedgen_pid=
socket=$work_dir/memif.sock
server_vdev="net_memif0,role=server,socket=$socket,socket-abstract=no"
client_vdev="net_memif0,role=client,socket=$socket,socket-abstract=no"
for flush in "${flush_modes[@]}"; do
    for (( ladder = 1; ladder <= ladder_runs; ++ladder )); do
        tag=zerodrop-$flush-run$ladder
        feed_config "$server_vdev" "$raw_dir/$tag.yaml"
        sync -f "$data_dir"
        wait_for_quiet
        rm -f "$socket"
        start_broker "$raw_dir/$tag.yaml" "$flush" "$raw_dir/$tag.tidelogd.log"
        tid=$(shard_tid "$broker_pid")
        log "zero drops: flush $flush, run $ladder: ${ladder_rates[*]} packets/s, ${step_s}s each"
        failures=0
        for rate in "${ladder_rates[@]}"; do
            step=$tag-r$rate
            scrape "$raw_dir/$step.metrics-0.txt"
            before=$(snapshot "$broker_pid" "$tid")
            status=0
            taskset -c "$sender_cpu" "$feedgen_bin" --feed raw --payload-bytes "$ladder_payload" \
                --udp-checksum off --rate "$rate" --duration "$step_s" --dpdk-vdev "$client_vdev" \
                --json-out "$raw_dir/$step.feedgen.json" >>"$raw_dir/feedgen.log" 2>&1 &
            feedgen_pid=$!
            wait "$feedgen_pid" || status=$?
            feedgen_pid=
            sleep 0.5  # the broker drains what is in flight
            after=$(snapshot "$broker_pid" "$tid")
            scrape "$raw_dir/$step.metrics-1.txt"
            echo "{\"kind\": \"zerodrop\", \"payload\": $ladder_payload, \"flush\": \"$flush\"," \
                "\"run\": $ladder, \"rate\": $rate, \"tag\": \"$step\", \"status\": $status," \
                "\"before\": $before, \"after\": $after}" >>"$runs_log"
            (( status == 0 )) || log "warning: feedgen exited with $status at $rate/s, see $raw_dir/feedgen.log"
            # Stop climbing after two failed steps in a row (drops or an error).
            if "$python" "$perf_dir/feeds_report.py" --step-ok "$raw_dir" "$step"; then
                failures=0
            else
                failures=$(( failures + 1 ))
                (( failures < 2 )) || break
            fi
        done
        stop_broker
    done
done
rm -f "$socket"

load_after=$(cut -d' ' -f1 /proc/loadavg)
elapsed=$(( $(date +%s) - started ))
log "done in ${elapsed}s"

# shellcheck disable=SC2016
dpdk_version=$(pkg-config --modversion libdpdk 2>/dev/null || dpkg-query -W -f='${Version}' dpdk 2>/dev/null || true)
cat >"$raw_dir/settings.json" <<EOF
{"runs": $runs, "warmup_s": $warmup_s, "window_s": $window_s, "step_s": $step_s,
 "ladder_runs": $ladder_runs, "ladder_payload": $ladder_payload,
 "ladder_rates": [$(IFS=,; echo "${ladder_rates[*]}")], "payloads": [$(IFS=,; echo "${payloads[*]}")],
 "flush_modes": ["none", "group"], "fixture_frames": $fixture_frames,
 "mbufs_per_queue": $mbufs_per_queue, "burst_size": $burst_size,
 "fio_mib": $fio_mib, "fio_runs": $fio_runs, "profile_s": $profile_s,
 "shard_cpu": $shard_cpu, "sender_cpu": $sender_cpu,
 "vdev": "net_pcap0,rx_pcap=raw<PAYLOAD>.pcap,infinite_rx=1",
 "memif_server": "net_memif0,role=server,socket=<dir>/memif.sock,socket-abstract=no",
 "memif_client": "net_memif0,role=client,socket=<dir>/memif.sock,socket-abstract=no",
 "broker_flags": "--smp 1 --flush-mode FLUSH --min-free-bytes 0",
 "testpmd": "dpdk-testpmd -l 0-1 --main-lcore 1 ${testpmd_eal[*]} --vdev=VDEV -- ${testpmd_args[*]}",
 "dpdk_version": "$dpdk_version",
 "fio": "$(version_of fio --version)"}
EOF

"$python" "$perf_dir/summarize.py" feeds \
    --raw-dir "$raw_dir" --out "$results_dir/feeds.json" --markdown "$results_dir/feeds.md" \
    --mode "$mode" --build-dir "$build_dir" --data-dir "$data_dir" --command "$command_line" \
    --load-before "$load_before" --load-after "$load_after" --elapsed-s "$elapsed" \
    --quiet-waited-s "$quiet_waited_s"

#!/usr/bin/env bash
# perf/run.sh BUILD_DIR [--quick] [--sections LIST] [--kafka-mock]
#
# Runs the foundation benchmarks and fio side by side and writes
#   perf/results/foundation.json        summary (machine, commands, statistics)
#   perf/results/foundation-raw/        every raw output (benchmark JSON, fio JSON)
#   perf/results/storage.json           storage engine benchmarks (perf_storage)
#   perf/results/kafka.json             Kafka section (perf/kafka_load against tidelogd)
#   perf/results/kafka-raw/             its raw outputs (JSON lines, fio JSON, logs)
#   perf/results/groups.json            consumer groups (perf/group_bench against tidelogd)
#   perf/results/groups-raw/            its raw outputs (JSON lines, logs)
#   perf/results/metrics.json           cost of a 1 s /metrics scrape (kafka_load, 2,000 partitions)
#   perf/results/metrics-raw/           its raw outputs (JSON lines, scrape logs, broker CPU)
#   perf/results/peers.json, peers.md   Tidelog against Redis Streams and NATS JetStream,
#   perf/results/peers-*.png            with the machine's limits (perf/peers.sh)
#   perf/results/peers-raw/             its raw outputs
#   perf/results/feeds.json, feeds.md   DPDK feed ingest per shard next to dpdk-testpmd rx-only
#   perf/results/feeds-raw/             and the disk; zero-drop rate over memif (perf/feed_bench.sh)
#   perf/results/controller.json        controller Raft (issue 9): commits/s, commit latency and
#   perf/results/controller-raw/        election time (perf/controller_bench), fio fdatasync limit
# and prints a markdown table to stdout (progress goes to stderr).
#
# --sections: comma-separated, from foundation, storage, kafka, groups, metrics,
# peers, feeds, controller (default all of them; `all` = all eight). `peers` is perf/peers.sh, which
# ./tidelog bench runs alone by default; `feeds` is perf/feed_bench.sh (issue 8; needs
# DPDK: skipped with a warning when dpdk-testpmd or feedgen --dpdk-vdev is missing). --kafka-mock runs the kafka section
# against librdkafka's mock cluster instead of tidelogd (checks the script
# and the tool, measures nothing about Tidelog).
#
# Write comparison, kept fair on purpose: fio and perf_uring_write write the
# same file path on the same file system, with the same block size, queue
# depth and file size, O_DIRECT, io_uring. Before every run of either tool the
# file is deleted and the file system synced (so that the discards of the old
# blocks do not land in the timed part); each tool then creates the file and
# preallocates it with fallocate(mode 0) before its clock starts (fio:
# --fallocate=native, its default, made explicit), so both write into the
# same kind of unwritten extents. Both time the writes plus a final sync (fio:
# --end_fsync=1, an fsync; ours: an fdatasync). fio and our runs alternate,
# A-B then B-A, so that drift of the virtual disk hits both alike.
#
# Environment:
#   TIDELOG_PERF_DIR       directory of the test file (default /var/tmp/tidelog-perf;
#                          must not be tmpfs)
#   TIDELOG_PERF_RESULTS   results directory (default perf/results)
#   PYTHON                 python interpreter (default /usr/bin/python3)
#   TIDELOG_PERF_QUIET_WAIT_S
#                          before each run, wait up to this many seconds for the
#                          machine to be idle (< 10 % CPU incl. iowait over 1 s);
#                          default 0: do not wait. For shared machines.
#   TIDELOG_PERF_KAFKA_PORT, TIDELOG_PERF_ADMIN_PORT
#                          tidelogd's ports in the kafka, groups and metrics sections (19092, 19644)
#   TIDELOG_PERF_FLUSH_FLAG
#                          tidelogd's storage flush-mode flag (--flush-mode)
#   TIDELOG_PERF_METRICS_TOPICS, TIDELOG_PERF_METRICS_PARTITIONS, TIDELOG_PERF_METRICS_RATE
#                          metrics section: topics x partitions each (20 x 100), and the
#                          produce rate in records/s of 1 KiB (5000)
#   TIDELOG_PERF_METRICS_FLUSH
#                          metrics section: tidelogd's flush mode (none)
set -euo pipefail

usage() {
    echo "usage: $0 BUILD_DIR [--quick] [--sections foundation,storage,kafka,groups,metrics,peers,feeds,controller|all] [--kafka-mock]" >&2
    exit 2
}

[[ $# -ge 1 ]] || usage
build_dir=$(cd "$1" && pwd)
quick=0
all_sections=foundation,storage,kafka,groups,metrics,peers,feeds,controller
sections=$all_sections
kafka_mock=0
shift
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=1 ;;
        --kafka-mock) kafka_mock=1 ;;
        --sections) [[ $# -ge 2 ]] || usage; sections=$2; shift ;;
        --sections=*) sections=${1#--sections=} ;;
        *) usage ;;
    esac
    shift
done
[[ $sections == all ]] && sections=$all_sections
for section in ${sections//,/ }; do
    case "$section" in
        foundation | storage | kafka | groups | metrics | peers | feeds | controller) ;;
        *) usage ;;
    esac
done
# Whether the section is to run.
has_section() { [[ ,$sections, == *,$1,* ]]; }

perf_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-/usr/bin/python3}
data_dir=${TIDELOG_PERF_DIR:-/var/tmp/tidelog-perf}
results_dir=${TIDELOG_PERF_RESULTS:-$perf_dir/results}
raw_dir=$results_dir/foundation-raw
reactor_bin=$build_dir/perf/perf_reactor
write_bin=$build_dir/perf/perf_uring_write

if [[ $quick -eq 1 ]]; then
    mode=quick
    reactor_repetitions=5
    write_repetitions=3
    file_mib=256
    write_poll_modes=(adaptive)
    fio_variants=(plain)
else
    mode=full
    reactor_repetitions=15
    write_repetitions=5
    file_mib=1024
    write_poll_modes=(adaptive busy)
    # Shown next to the target's plain fio, to explain differences:
    # fixedbufs: fio with registered buffers, as ours; cpu0: fio pinned to
    # CPU 0, where perf_uring_write pins its shard.
    fio_variants=(plain fixedbufs cpu0)
fi
block_sizes_kib=(64 1024)
queue_depths=(1 16 32)

log() { echo "[perf] $*" >&2; }
# shellcheck source=perf/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
die() { echo "[perf] error: $*" >&2; exit 1; }

if has_section foundation; then
    for tool in "$reactor_bin" "$write_bin"; do
        [[ -x $tool ]] || die "$tool not built (needs Google Benchmark: libbenchmark-dev)"
    done
fi
kafka_load_bin=$build_dir/perf/kafka_load
broker_bin=$build_dir/src/app/tidelogd
if has_section kafka; then
    [[ -x $kafka_load_bin ]] || die "$kafka_load_bin not built (needs librdkafka-dev)"
    [[ $kafka_mock -eq 1 || -x $broker_bin ]] || die "$broker_bin not built"
fi
group_bench_bin=$build_dir/perf/group_bench
if has_section groups; then
    [[ -x $group_bench_bin ]] || die "$group_bench_bin not built (ninja -C BUILD perf/group_bench)"
    [[ -x $broker_bin ]] || die "$broker_bin not built"
fi
if has_section metrics; then
    [[ -x $kafka_load_bin ]] || die "$kafka_load_bin not built (needs librdkafka-dev)"
    [[ -x $broker_bin ]] || die "$broker_bin not built"
fi
controller_bin=$build_dir/perf/controller_bench
if has_section controller; then
    [[ -x $controller_bin ]] || die "$controller_bin not built (ninja -C BUILD perf/controller_bench)"
fi
command -v fio >/dev/null || die "fio not installed (apt-get install fio, or ./tidelog deps)"
[[ -x $python ]] || die "$python not found"

mkdir -p "$data_dir" "$results_dir"
rm -rf "$raw_dir"
mkdir -p "$raw_dir"
fs_type=$(findmnt -n -T "$data_dir" -o FSTYPE 2>/dev/null || stat -f -c %T "$data_dir")
[[ $fs_type != tmpfs && $fs_type != ramfs ]] ||
    die "$data_dir is on $fs_type: O_DIRECT needs a disk file system (set TIDELOG_PERF_DIR)"
data_file=$data_dir/seqwrite.dat
# The block device under the data file, for its request counters.
data_device=$(basename "$(findmnt -n -T "$data_dir" -o SOURCE 2>/dev/null || true)")
needed_kib=$(( (file_mib + 256) * 1024 ))
available_kib=$(df -Pk "$data_dir" | awk 'NR == 2 { print $4 }')
(( available_kib > needed_kib )) || die "$data_dir: need $needed_kib KiB free, have $available_kib"

load_before=$(cut -d' ' -f1 /proc/loadavg)
if awk -v load="$load_before" 'BEGIN { exit !(load > 0.5) }'; then
    log "warning: load average $load_before: other work is running, results will be noisy"
fi

quiet_wait_s=${TIDELOG_PERF_QUIET_WAIT_S:-0}

# Percent of the machine's CPU time busy (iowait included) over one second.


# Device counters (writes completed, writes merged, sectors written) of the
# data device, from /proc/diskstats; "0 0 0" when it is not listed.
disk_counters() {
    awk -v dev="$data_device" '$3 == dev { print $8, $9, $10; found = 1 }
        END { if (!found) print 0, 0, 0 }' /proc/diskstats
}

# Runs a command and writes the device counters it caused to $1.diskstats
# (the journal commit of the final sync included).
with_disk_counters() {  # out_json command...
    local out=$1 before after
    shift
    before=$(disk_counters)
    "$@"
    after=$(disk_counters)
    echo "$before $after" >"$out.diskstats"
}

# Deletes the test file and waits for the file system to settle (see top).
fresh_file() {
    rm -f "$data_file"
    sync -f "$data_dir"
    wait_for_quiet
}

run_fio() {  # variant bs_kib qd out_json
    local extra=()
    case "$1" in
        fixedbufs) extra=(--fixedbufs=1) ;;
        cpu0) extra=(--cpus_allowed=0) ;;
    esac
    fresh_file
    with_disk_counters "$4" fio --name=seqwrite --ioengine=io_uring --direct=1 --rw=write \
        --bs="$2k" --iodepth="$3" --size="${file_mib}M" --filename="$data_file" \
        --fallocate=native --end_fsync=1 "${extra[@]}" \
        --output-format=json --output="$4" >/dev/null
}

run_all_fio() {  # bs_kib qd tag
    for variant in "${fio_variants[@]}"; do
        local name=fio
        [[ $variant == plain ]] || name=fio_$variant
        run_fio "$variant" "$1" "$2" "$raw_dir/$name-$3.json"
    done
}

run_ours() {  # poll_mode bs_kib qd out_json
    fresh_file
    with_disk_counters "$4" "$write_bin" --file="$data_file" --file_mib="$file_mib" \
        --benchmark_filter="^uring_write/$1/bs_kib:$2/qd:$3/" \
        --benchmark_repetitions=1 \
        --benchmark_out="$4" --benchmark_out_format=json >"$4.log" 2>&1 ||
        die "perf_uring_write failed, see $4.log"
}

started=$(date +%s)
log "mode $mode; sections $sections; data file $data_file ($fs_type); results $results_dir"

if has_section foundation; then

    # One process per benchmark, so that the quiet check (if any) precedes each.
    mapfile -t reactor_benchmarks < <("$reactor_bin" --benchmark_list_tests)
    log "perf_reactor: ${#reactor_benchmarks[@]} benchmarks x $reactor_repetitions repetitions"
    for (( i = 0; i < ${#reactor_benchmarks[@]}; ++i )); do
        wait_for_quiet
        out=$raw_dir/reactor-$i.json
        "$reactor_bin" --benchmark_filter="^${reactor_benchmarks[i]}\$" \
            --benchmark_repetitions="$reactor_repetitions" \
            --benchmark_report_aggregates_only=true \
            --benchmark_out="$out" --benchmark_out_format=json \
            >"$out.log" 2>&1 || die "perf_reactor failed, see $out.log"
    done

    for bs in "${block_sizes_kib[@]}"; do
        for qd in "${queue_depths[@]}"; do
            log "O_DIRECT write bs=${bs}KiB qd=$qd: $write_repetitions x" \
                "(fio ${fio_variants[*]}, ours ${write_poll_modes[*]})"
            for (( rep = 1; rep <= write_repetitions; ++rep )); do
                tag=bs${bs}-qd${qd}-rep${rep}
                if (( rep % 2 == 1 )); then
                    run_all_fio "$bs" "$qd" "$tag"
                fi
                for poll in "${write_poll_modes[@]}"; do
                    run_ours "$poll" "$bs" "$qd" "$raw_dir/ours-$poll-$tag.json"
                done
                if (( rep % 2 == 0 )); then
                    run_all_fio "$bs" "$qd" "$tag"
                fi
            done
        done
    done
    rm -f "$data_file"

    load_after=$(cut -d' ' -f1 /proc/loadavg)
    elapsed=$(( $(date +%s) - started ))
    log "done in ${elapsed}s"

    "$python" "$perf_dir/summarize.py" \
        --raw-dir "$raw_dir" --out "$results_dir/foundation.json" \
        --mode "$mode" --build-dir "$build_dir" --data-dir "$data_dir" \
        --file-mib "$file_mib" --write-repetitions "$write_repetitions" \
        --reactor-repetitions "$reactor_repetitions" \
        --load-before "$load_before" --load-after "$load_after" --elapsed-s "$elapsed" \
        --quiet-waited-s "$quiet_waited_s"
fi

# ---- storage engine (issue 3): appends per flush mode, reads, recovery ----
# Google Benchmark's own aggregates (median, stddev) go to the JSON file; the
# console table goes to stderr. fio figures for comparison are the write
# benchmarks above (same file system, same run).
storage_bin=$build_dir/perf/perf_storage
if has_section storage && [[ -x "$storage_bin" ]]; then
    if [[ $quick -eq 1 ]]; then
        storage_args=(--append_mib=128 --recovery_gib=1 --benchmark_repetitions=1
                      '--benchmark_filter=append/1024/(64|1024)/|read|recovery/(1|95)/')
    else
        storage_args=(--append_mib=512 --recovery_gib=10 --benchmark_repetitions=3
                      --benchmark_report_aggregates_only=true)
    fi
    log "storage benchmarks (${storage_args[*]})"
    "$storage_bin" --dir="$data_dir" "${storage_args[@]}" \
        --benchmark_out="$results_dir/storage.json" --benchmark_out_format=json >&2
    rm -rf "$data_dir/append" "$data_dir/read" "$data_dir/recovery"
    log "storage results: $results_dir/storage.json"
fi

# ---- Kafka (perf/kafka_load against tidelogd) ----
# For --smp 1 and 2 and flush modes none and group, each on a fresh data
# directory on the disk under test: produce throughput (100 B and 1 KiB,
# acks=all, idempotence off and on) and end-to-end latency (10k/50k/100k
# records/s of 1 KiB). The disk's limit is measured in the same run with the
# write benchmarks' fio job (1 MiB, QD16), so that summarize.py reports
# throughput as % of it.
if has_section kafka; then
    kafka_raw_dir=$results_dir/kafka-raw
    kafka_results=$kafka_raw_dir/kafka_load.jsonl
    kafka_port=${TIDELOG_PERF_KAFKA_PORT:-19092}
    admin_port=${TIDELOG_PERF_ADMIN_PORT:-19644}
    # tidelogd's storage flush-mode flag (values none, group).
    broker_flush_flag=${TIDELOG_PERF_FLUSH_FLAG:---flush-mode}
    broker_dir=$data_dir/kafka-broker
    broker_start_timeout_s=30
    broker_stop_timeout_s=30
    broker_pid=
    if [[ $quick -eq 1 ]]; then
        kafka_runs=2 produce_seconds=2 latency_seconds=3 warmup_seconds=1 disk_repetitions=1
    else
        kafka_runs=3 produce_seconds=10 latency_seconds=12 warmup_seconds=2 disk_repetitions=3
    fi
    if [[ $kafka_mock -eq 1 ]]; then
        # No broker: shard count and flush mode mean nothing, but the flush
        # loop still exercises the script. One partition: the mock answers
        # a fetch with one batch per partition and lags behind with more.
        kafka_smps=(1)
        kafka_target=(--mock)
    else
        kafka_smps=(1 2)
        kafka_target=(--bootstrap "127.0.0.1:$kafka_port")
    fi
    kafka_flush_modes=(none group)
    rm -rf "$kafka_raw_dir"
    mkdir -p "$kafka_raw_dir"

    # Stops the broker started by start_broker: SIGTERM, then waits (bounded).
    stop_broker() {
        [[ -n $broker_pid ]] || return 0
        local pid=$broker_pid
        broker_pid=
        stop_process "$pid" tidelogd "$broker_stop_timeout_s"
    }
    trap stop_broker EXIT

    # Starts tidelogd on a fresh data directory and waits (bounded) until its
    # Kafka port accepts connections.
    start_broker() {  # smp flush_mode log
        [[ $kafka_mock -eq 0 ]] || return 0
        ! port_open "$kafka_port" || die "127.0.0.1:$kafka_port is in use (TIDELOG_PERF_KAFKA_PORT)"
        rm -rf "$broker_dir"
        mkdir -p "$broker_dir"
        sync -f "$data_dir"
        wait_for_quiet
        "$broker_bin" --data-dir "$broker_dir" --kafka-addr "127.0.0.1:$kafka_port" \
            --admin-addr "127.0.0.1:$admin_port" --smp "$1" "$broker_flush_flag" "$2" \
            >"$3" 2>&1 &
        broker_pid=$!
        local deadline=$(( SECONDS + broker_start_timeout_s ))
        until port_open "$kafka_port"; do
            if ! kill -0 "$broker_pid" 2>/dev/null; then
                local status=0
                wait "$broker_pid" || status=$?
                broker_pid=
                die "tidelogd exited with status $status before listening, see $3"
            fi
            (( SECONDS < deadline )) ||
                die "tidelogd not listening on $kafka_port after ${broker_start_timeout_s}s, see $3"
            sleep 0.05
        done
    }

    # One kafka_load invocation (all its runs); a failure is logged and
    # shows in the summary, the other cases still run.
    kafka_load() {  # smp flush_mode mode args...
        local smp=$1 flush=$2 mode=$3 status=0
        shift 3
        wait_for_quiet
        "$kafka_load_bin" "$mode" "${kafka_target[@]}" --runs "$kafka_runs" \
            --tag "smp=$smp" --tag "flush=$flush" --json-out "$kafka_results" "$@" \
            >>"$kafka_raw_dir/kafka_load.log" 2>&1 || status=$?
        (( status == 0 )) ||
            log "warning: kafka_load $mode $* exited with $status, see $kafka_raw_dir/kafka_load.log"
    }

    started=$(date +%s)
    load_before=$(cut -d' ' -f1 /proc/loadavg)
    log "kafka: disk limit (fio 1 MiB QD16, $disk_repetitions x ${file_mib} MiB)"
    for (( rep = 1; rep <= disk_repetitions; ++rep )); do
        run_fio plain 1024 16 "$kafka_raw_dir/fio-limit-rep$rep.json"
    done
    rm -f "$data_file"

    for smp in "${kafka_smps[@]}"; do
        for flush in "${kafka_flush_modes[@]}"; do
            partitions=${TIDELOG_PERF_KAFKA_PARTITIONS:-$smp}
            [[ $kafka_mock -eq 0 ]] || partitions=1
            log "kafka: smp $smp, flush $flush, $partitions partitions" \
                "($([[ $kafka_mock -eq 1 ]] && echo mock cluster || echo tidelogd))"
            start_broker "$smp" "$flush" "$kafka_raw_dir/tidelogd-smp$smp-$flush.log"
            # Throughput with the idempotent producer off and on, same settings
            # otherwise (each on a topic of its own): what the per-partition
            # producer state checks cost.
            for bytes in 100 1024; do
                for idempotence in off on; do
                    kafka_load "$smp" "$flush" produce --topic "produce-$bytes-idem-$idempotence" \
                        --partitions "$partitions" --record-bytes "$bytes" --acks all \
                        --seconds "$produce_seconds" --idempotence "$idempotence"
                done
            done
            for rate in 10000 50000 100000; do
                kafka_load "$smp" "$flush" latency --topic latency --partitions "$partitions" \
                    --record-bytes 1024 --acks all --rate "$rate" \
                    --seconds "$latency_seconds" --warmup-seconds "$warmup_seconds"
            done
            stop_broker
        done
    done
    rm -rf "$broker_dir"

    load_after=$(cut -d' ' -f1 /proc/loadavg)
    elapsed=$(( $(date +%s) - started ))
    log "kafka: done in ${elapsed}s"
    "$python" "$perf_dir/summarize.py" kafka \
        --raw-dir "$kafka_raw_dir" --out "$results_dir/kafka.json" \
        --mode "$mode" --target "$([[ $kafka_mock -eq 1 ]] && echo mock || echo tidelogd)" \
        --build-dir "$build_dir" --data-dir "$data_dir" --file-mib "$file_mib" \
        --load-before "$load_before" --load-after "$load_after" --elapsed-s "$elapsed"
fi

# ---- Consumer groups (perf/group_bench against tidelogd) ----
# One tidelogd (--smp 2, default flush mode, fresh data directory, no initial
# rebalance delay when it knows the setting): rebalance time from release to
# all assigned for 1, 10 and 50 members, commit throughput on 1 and 4
# connections, OffsetFetch latency. Medians and spreads; nothing asserted.
if has_section groups; then
    groups_raw_dir=$results_dir/groups-raw
    groups_results=$groups_raw_dir/group_bench.jsonl
    kafka_port=${TIDELOG_PERF_KAFKA_PORT:-19092}
    admin_port=${TIDELOG_PERF_ADMIN_PORT:-19644}
    groups_broker_dir=$data_dir/groups-broker
    if [[ $quick -eq 1 ]]; then
        rebalance_runs=3 group_runs=2 group_seconds=2
    else
        rebalance_runs=7 group_runs=5 group_seconds=5
    fi
    rm -rf "$groups_raw_dir" "$groups_broker_dir"
    mkdir -p "$groups_raw_dir" "$groups_broker_dir"
    group_flags=()
    # Kafka's default delay (3 s) would dominate the join time; measure the
    # coordinator instead, when this tidelogd has the setting.
    if "$broker_bin" --help 2>&1 | grep -q -- '--group-initial-rebalance-delay-ms'; then
        group_flags+=(--group-initial-rebalance-delay-ms 0)
    fi
    ! port_open "$kafka_port" || die "127.0.0.1:$kafka_port is in use (TIDELOG_PERF_KAFKA_PORT)"
    wait_for_quiet
    "$broker_bin" --data-dir "$groups_broker_dir" --kafka-addr "127.0.0.1:$kafka_port" \
        --admin-addr "127.0.0.1:$admin_port" --smp 2 "${group_flags[@]}" \
        >"$groups_raw_dir/tidelogd.log" 2>&1 &
    groups_broker_pid=$!
    stop_groups_broker() {
        [[ -n ${groups_broker_pid:-} ]] || return 0
        local pid=$groups_broker_pid deadline=$(( SECONDS + 30 ))
        groups_broker_pid=
        kill -TERM "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do
            (( SECONDS < deadline )) || { kill -KILL "$pid" 2>/dev/null || true; break; }
            sleep 0.05
        done
        wait "$pid" 2>/dev/null || log "warning: tidelogd (groups) exited with status $?"
    }
    trap 'stop_groups_broker; declare -F stop_broker >/dev/null && stop_broker' EXIT
    deadline=$(( SECONDS + 30 ))
    until port_open "$kafka_port"; do
        kill -0 "$groups_broker_pid" 2>/dev/null ||
            die "tidelogd exited before listening, see $groups_raw_dir/tidelogd.log"
        (( SECONDS < deadline )) || die "tidelogd not listening after 30s"
        sleep 0.05
    done
    group_bench() {  # mode args...
        local mode=$1 status=0
        shift
        wait_for_quiet
        "$group_bench_bin" "$mode" --port "$kafka_port" --json-out "$groups_results" "$@" \
            >>"$groups_raw_dir/group_bench.log" 2>&1 || status=$?
        (( status == 0 )) ||
            log "warning: group_bench $mode $* exited with $status, see $groups_raw_dir/group_bench.log"
    }
    started=$(date +%s)
    load_before=$(cut -d' ' -f1 /proc/loadavg)
    log "groups: rebalance 1, 10, 50 members ($rebalance_runs runs each)"
    group_bench rebalance --members 1,10,50 --runs "$rebalance_runs" --topic-partitions 50
    log "groups: commit throughput (1 and 4 connections), OffsetFetch latency"
    for connections in 1 4; do
        group_bench commit --connections "$connections" --seconds "$group_seconds" --runs "$group_runs"
    done
    group_bench fetch --seconds "$group_seconds" --runs "$group_runs"
    stop_groups_broker
    rm -rf "$groups_broker_dir"
    load_after=$(cut -d' ' -f1 /proc/loadavg)
    elapsed=$(( $(date +%s) - started ))
    log "groups: done in ${elapsed}s"
    "$python" "$perf_dir/summarize.py" groups \
        --raw-dir "$groups_raw_dir" --out "$results_dir/groups.json" --mode "$mode" \
        --build-dir "$build_dir" --data-dir "$data_dir" --broker-settings "smp=2 ${group_flags[*]}" \
        --load-before "$load_before" --load-after "$load_after" --elapsed-s "$elapsed"
fi

# ---- Metrics (issue 7): what a 1 s Prometheus scrape costs produce latency ----
# One tidelogd (--smp 2, small preallocated segments) holding 2,000 partitions
# (20 topics x 100, every one in /metrics with metrics_per_partition on; flush
# mode none unless TIDELOG_PERF_METRICS_FLUSH says otherwise), and
# kafka_load latency at a fixed rate of 1 KiB records into one of the topics
# (acks=all), with and without a scraper that GETs /metrics every second as
# Prometheus would (metrics_scraper.py: fixed schedule, not 1 s after the last
# answer). The scraper stands in for Prometheus so that the 2 cores measure the
# broker's cost of rendering and sending /metrics, not Prometheus' ingestion.
# Conditions alternate A-B then B-A on the same broker; each run is a separate
# kafka_load invocation. Reported: produce ack latency (produce() to delivery
# report) and end-to-end p50/p99, the broker's CPU per condition, and the
# scrape's duration and size. Nothing is asserted.
if has_section metrics; then
    metrics_raw_dir=$results_dir/metrics-raw
    kafka_port=${TIDELOG_PERF_KAFKA_PORT:-19092}
    admin_port=${TIDELOG_PERF_ADMIN_PORT:-19644}
    metrics_broker_dir=$data_dir/metrics-broker
    broker_flush_flag=${TIDELOG_PERF_FLUSH_FLAG:---flush-mode}
    metrics_topics=${TIDELOG_PERF_METRICS_TOPICS:-20}
    metrics_partitions=${TIDELOG_PERF_METRICS_PARTITIONS:-100}
    # Segments are preallocated whole: 2 MiB each keeps 2,000 partitions at 4 GiB.
    metrics_segment_bytes=$(( 2 << 20 ))
    metrics_rate=${TIDELOG_PERF_METRICS_RATE:-5000}
    # Flush mode none: acks=all then waits for no fdatasync, so the latency
    # shows the CPU a scrape takes instead of group commit's cadence.
    metrics_flush=${TIDELOG_PERF_METRICS_FLUSH:-none}
    if [[ $quick -eq 1 ]]; then
        metrics_reps=2 metrics_seconds=6 metrics_warmup=2
    else
        metrics_reps=5 metrics_seconds=15 metrics_warmup=3
    fi
    rm -rf "$metrics_raw_dir" "$metrics_broker_dir"
    mkdir -p "$metrics_raw_dir" "$metrics_broker_dir"
    metrics_needed_kib=$(( (metrics_topics * metrics_partitions + 100) * metrics_segment_bytes / 1024
                           + 2 * 1024 * 1024 ))
    available_kib=$(df -Pk "$data_dir" | awk 'NR == 2 { print $4 }')
    (( available_kib > metrics_needed_kib )) ||
        die "$data_dir: the metrics section needs $metrics_needed_kib KiB free, have $available_kib"
    ! port_open "$kafka_port" || die "127.0.0.1:$kafka_port is in use (TIDELOG_PERF_KAFKA_PORT)"
    ! port_open "$admin_port" || die "127.0.0.1:$admin_port is in use (TIDELOG_PERF_ADMIN_PORT)"
    wait_for_quiet
    "$broker_bin" --data-dir "$metrics_broker_dir" --kafka-addr "127.0.0.1:$kafka_port" \
        --admin-addr "127.0.0.1:$admin_port" --smp 2 "$broker_flush_flag" "$metrics_flush" \
        --log-segment-bytes "$metrics_segment_bytes" \
        --offsets-topic-segment-bytes "$metrics_segment_bytes" \
        >"$metrics_raw_dir/tidelogd.log" 2>&1 &
    metrics_broker_pid=$!
    metrics_scraper_pid=
    stop_metrics_scraper() {
        [[ -n ${metrics_scraper_pid:-} ]] || return 0
        kill -TERM "$metrics_scraper_pid" 2>/dev/null || true
        wait "$metrics_scraper_pid" 2>/dev/null || true
        metrics_scraper_pid=
    }
    stop_metrics_broker() {
        stop_metrics_scraper
        [[ -n ${metrics_broker_pid:-} ]] || return 0
        local pid=$metrics_broker_pid deadline=$(( SECONDS + 30 ))
        metrics_broker_pid=
        kill -TERM "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do
            (( SECONDS < deadline )) || { kill -KILL "$pid" 2>/dev/null || true; break; }
            sleep 0.05
        done
        wait "$pid" 2>/dev/null || log "warning: tidelogd (metrics) exited with status $?"
    }
    trap 'stop_metrics_broker; declare -F stop_groups_broker >/dev/null && stop_groups_broker;
          declare -F stop_broker >/dev/null && stop_broker' EXIT
    deadline=$(( SECONDS + 30 ))
    until port_open "$kafka_port"; do
        kill -0 "$metrics_broker_pid" 2>/dev/null ||
            die "tidelogd exited before listening, see $metrics_raw_dir/tidelogd.log"
        (( SECONDS < deadline )) || die "tidelogd not listening after 30s"
        sleep 0.05
    done
    metrics_url=http://127.0.0.1:$admin_port/metrics
    "$python" "$perf_dir/metrics_scraper.py" --url "$metrics_url" --count 1 \
        --out "$metrics_raw_dir/scrape-check.jsonl" ||
        die "tidelogd serves no /metrics on 127.0.0.1:$admin_port (see $metrics_raw_dir/scrape-check.jsonl)"
    started=$(date +%s)
    load_before=$(cut -d' ' -f1 /proc/loadavg)

    # 20 topics x 100 partitions, each with some records (kafka_load creates them).
    log "metrics: creating $metrics_topics topics x $metrics_partitions partitions"
    for (( t = 0; t < metrics_topics; ++t )); do
        "$kafka_load_bin" produce --bootstrap "127.0.0.1:$kafka_port" \
            --topic "$(printf 'metrics-%02d' "$t")" --partitions "$metrics_partitions" \
            --record-bytes 100 --records 2000 --runs 1 \
            >>"$metrics_raw_dir/setup.log" 2>&1 ||
            die "kafka_load could not fill topic $t, see $metrics_raw_dir/setup.log"
    done
    "$python" "$perf_dir/metrics_scraper.py" --url "$metrics_url" --count 1 \
        --out "$metrics_raw_dir/scrape-setup.jsonl" || die "scraping $metrics_url failed"

    clock_ticks=$(getconf CLK_TCK)
    # CPU seconds tidelogd used so far (user + system).
    broker_cpu_s() {
        awk -v hz="$clock_ticks" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' \
            "/proc/$metrics_broker_pid/stat"
    }
    metrics_run() {  # condition rep
        local condition=$1 rep=$2 status=0 cpu_before cpu_after wall_before wall_after
        wait_for_quiet
        if [[ $condition == scrape-1s ]]; then
            "$python" "$perf_dir/metrics_scraper.py" --url "$metrics_url" --interval-s 1 \
                --tag "rep=$rep" --out "$metrics_raw_dir/scrapes.jsonl" &
            metrics_scraper_pid=$!
        fi
        cpu_before=$(broker_cpu_s)
        wall_before=$(date +%s.%N)
        "$kafka_load_bin" latency --bootstrap "127.0.0.1:$kafka_port" --topic metrics-00 \
            --partitions "$metrics_partitions" --record-bytes 1024 --acks all \
            --rate "$metrics_rate" --seconds "$metrics_seconds" \
            --warmup-seconds "$metrics_warmup" --runs 1 \
            --tag "scrape=$condition" --tag "rep=$rep" \
            --json-out "$metrics_raw_dir/kafka_load.jsonl" \
            >>"$metrics_raw_dir/kafka_load.log" 2>&1 || status=$?
        cpu_after=$(broker_cpu_s)
        wall_after=$(date +%s.%N)
        stop_metrics_scraper
        echo "{\"scrape\": \"$condition\", \"rep\": $rep, \"broker_cpu_s\": $(awk -v a="$cpu_before" -v b="$cpu_after" 'BEGIN { printf "%.2f", b - a }'), \"wall_s\": $(awk -v a="$wall_before" -v b="$wall_after" 'BEGIN { printf "%.3f", b - a }'), \"status\": $status}" \
            >>"$metrics_raw_dir/runs.jsonl"
        (( status == 0 )) ||
            log "warning: kafka_load ($condition, run $rep) exited with $status, see $metrics_raw_dir/kafka_load.log"
    }
    log "metrics: $metrics_reps x (no scrape, 1 s scrape), ${metrics_rate} records/s of 1 KiB," \
        "${metrics_seconds}s each"
    for (( rep = 1; rep <= metrics_reps; ++rep )); do
        if (( rep % 2 == 1 )); then
            metrics_run none "$rep"
            metrics_run scrape-1s "$rep"
        else
            metrics_run scrape-1s "$rep"
            metrics_run none "$rep"
        fi
    done
    stop_metrics_broker
    rm -rf "$metrics_broker_dir"
    load_after=$(cut -d' ' -f1 /proc/loadavg)
    elapsed=$(( $(date +%s) - started ))
    log "metrics: done in ${elapsed}s"
    "$python" "$perf_dir/summarize.py" metrics \
        --raw-dir "$metrics_raw_dir" --out "$results_dir/metrics.json" --mode "$mode" \
        --build-dir "$build_dir" --data-dir "$data_dir" \
        --partitions "$(( metrics_topics * metrics_partitions ))" --rate "$metrics_rate" \
        --flush "$metrics_flush" --topic-partitions "$metrics_partitions" \
        --load-before "$load_before" --load-after "$load_after" --elapsed-s "$elapsed"
fi

# ---- Controller (issue 9): Raft commits and elections ----
# perf/controller_bench: raft::driver with log_store on this disk (fdatasync),
# the transport on loopback and metadata_state_machine. commits for 1 and 3
# voters with 1 and 16 clients, alternating (A-B-C-D then D-C-B-A); election
# time after a leader crash; and the machine's limit in the same run: fio 4 KiB
# O_DIRECT write + fdatasync (as perf/peers.sh), since a 1-voter commit waits
# for one fdatasync.
if has_section controller; then
    controller_raw_dir=$results_dir/controller-raw
    rm -rf "$controller_raw_dir"
    mkdir -p "$controller_raw_dir"
    if [[ $quick -eq 1 ]]; then
        controller_reps=2 controller_seconds=5 controller_rounds=10 controller_fdatasync_s=3
    else
        controller_reps=5 controller_seconds=10 controller_rounds=20 controller_fdatasync_s=5
    fi
    controller_configs=("1 1" "1 16" "3 1" "3 16")
    started_controller=$(date +%s)
    load_before_controller=$(cut -d' ' -f1 /proc/loadavg)
    # Two patterns, each alone on the disk: the fio limit of peers.sh (4 KiB
    # O_DIRECT writes into a preallocated file, fdatasync after each), and the
    # log_store's own (buffered appends that grow an unallocated file,
    # fdatasync after each: the file size changes, so each sync also commits
    # the file system's journal).
    controller_fdatasync() {  # tag
        local file=$data_dir/controller-fdatasync.dat variant
        for variant in direct append; do
            rm -f "$file"
            sync -f "$data_dir"
            wait_for_quiet
            local extra=(--direct=1 --bs=4k --fallocate=native)
            [[ $variant == append ]] && extra=(--direct=0 --bs=256 --fallocate=none)
            fio --name=fdatasync --ioengine=sync --rw=write "${extra[@]}" --fdatasync=1 \
                --size=256M --runtime="$controller_fdatasync_s" --time_based \
                --filename="$file" --output-format=json \
                --output="$controller_raw_dir/fio-fdatasync-$variant-$1.json" >/dev/null ||
                log "warning: fio fdatasync ($variant) failed"
        done
        rm -f "$file"
    }
    controller_commits() {  # voters clients rep
        wait_for_quiet
        "$controller_bin" commits --voters "$1" --clients "$2" --seconds "$controller_seconds" \
            --warmup-seconds 1 --data-dir "$data_dir" --tag "rep=$3" \
            --json-out "$controller_raw_dir/commits.jsonl" \
            >>"$controller_raw_dir/commits.log" 2>&1 ||
            log "warning: controller_bench commits --voters $1 --clients $2 (run $3) failed, see $controller_raw_dir/commits.log"
    }
    log "controller: commits x $controller_reps for voters/clients ${controller_configs[*]}, ${controller_seconds}s each"
    for (( rep = 1; rep <= controller_reps; ++rep )); do
        controller_fdatasync "$rep"
        if (( rep % 2 == 1 )); then
            for (( i = 0; i < ${#controller_configs[@]}; ++i )); do
                controller_commits ${controller_configs[i]} "$rep"
            done
        else
            for (( i = ${#controller_configs[@]} - 1; i >= 0; --i )); do
                controller_commits ${controller_configs[i]} "$rep"
            done
        fi
    done
    controller_fdatasync "$(( controller_reps + 1 ))"
    log "controller: election, $controller_rounds rounds"
    wait_for_quiet
    "$controller_bin" election --voters 3 --rounds "$controller_rounds" --data-dir "$data_dir" \
        --json-out "$controller_raw_dir/election.jsonl" >"$controller_raw_dir/election.log" 2>&1 ||
        log "warning: controller_bench election failed, see $controller_raw_dir/election.log"
    load_after_controller=$(cut -d' ' -f1 /proc/loadavg)
    elapsed_controller=$(( $(date +%s) - started_controller ))
    log "controller: done in ${elapsed_controller}s"
    controller_args=()
    [[ $quick -eq 1 ]] && controller_args+=(--quick)
    controller_command=${TIDELOG_PERF_COMMAND:-"perf/run.sh $(basename "$build_dir") --sections $sections${controller_args[*]:+ --quick}"}
    "$python" "$perf_dir/summarize.py" controller \
        --raw-dir "$controller_raw_dir" --out "$results_dir/controller.json" --mode "$mode" \
        --build-dir "$build_dir" --data-dir "$data_dir" --command "$controller_command" \
        --seconds "$controller_seconds" --reps "$controller_reps" --rounds "$controller_rounds" \
        --quiet-wait-s "$quiet_wait_s" \
        --load-before "$load_before_controller" --load-after "$load_after_controller" \
        --elapsed-s "$elapsed_controller"
fi

# ---- Peers (issue 10): Tidelog against Redis Streams and NATS JetStream ----
# perf/peers.sh: the machine's limits (fio, fdatasync, iperf3, memcpy) and
# produce, consume and latency runs alternated between the three systems at
# matched durability; results/peers.json, peers.md and peers-*.png. It starts
# and stops its own servers, so it runs after every other section's broker
# has stopped.
if has_section peers; then
    peers_args=()
    [[ $quick -eq 1 ]] && peers_args+=(--quick)
    peers_command=${TIDELOG_PERF_COMMAND:-"perf/run.sh $(basename "$build_dir") --sections $sections${peers_args[*]:+ --quick}"}
    TIDELOG_PERF_DIR=$data_dir TIDELOG_PERF_RESULTS=$results_dir PYTHON=$python \
        TIDELOG_PERF_COMMAND=$peers_command "$perf_dir/peers.sh" "$build_dir" "${peers_args[@]}"
fi

# ---- Feeds (issue 8): DPDK feed ingest per shard ----
# perf/feed_bench.sh: tidelogd --smp 1 with one raw feed on net_pcap
# infinite_rx (64 B and 512 B payloads, flush none and group) alternated with
# dpdk-testpmd rx-only on the same vdev, the disk's limit (fio), the highest
# offered rate with zero drops over memif (perf/feedgen --dpdk-vdev), and a
# perf profile of the shard; results/feeds.json and feeds.md.
if has_section feeds; then
    if ! command -v dpdk-testpmd >/dev/null ||
        ! "$build_dir/perf/feedgen/feedgen" --help 2>/dev/null | grep -q -- --dpdk-vdev; then
        log "warning: feeds skipped: needs dpdk-testpmd and a feedgen built with DPDK"
    else
        feeds_args=()
        [[ $quick -eq 1 ]] && feeds_args+=(--quick)
        feeds_command=${TIDELOG_PERF_COMMAND:-"perf/run.sh $(basename "$build_dir") --sections $sections${feeds_args[*]:+ --quick}"}
        TIDELOG_PERF_DIR=$data_dir TIDELOG_PERF_RESULTS=$results_dir PYTHON=$python \
            TIDELOG_PERF_COMMAND=$feeds_command "$perf_dir/feed_bench.sh" "$build_dir" "${feeds_args[@]}"
    fi
fi

#!/usr/bin/env bash
# perf/peers.sh BUILD_DIR [--quick]   (run.sh's `peers` section; ./tidelog bench)
#
# Answers issue 10's question in one run on one machine: how does Tidelog
# compare with Redis Streams and NATS JetStream, and how close is it to the
# hardware? Writes
#   perf/results/peers.json        summary: machine, commands, limits, every case
#   perf/results/peers.md          the generated docs/performance.md section
#   perf/results/peers-*.png       plots (throughput per system, latency percentiles)
#   perf/results/peers-raw/        raw outputs: load.jsonl (kafka_load and
#                                  peer_load lines), runs.jsonl (CPU and disk
#                                  per invocation), fio/iperf3/memcpy JSON, logs
# and prints the markdown section on stdout (progress on stderr).
#
# 1. Limits, measured first in the same run: fio sequential O_DIRECT writes
#    (run.sh's job: io_uring, 1 MiB, QD16, preallocated, end fsync), fio 4 KiB
#    writes each followed by fdatasync (the latency of one durable commit),
#    iperf3 TCP over loopback, memcpy bandwidth (perf/memcpy_bandwidth).
# 2. Durability levels, each comparison made within one level:
#      sync   acknowledged after an fsync that covers the record:
#             tidelogd --flush-mode group; redis-server --appendfsync always;
#             NATS: none (JetStream 2.9.10 has no per-write sync: its config
#             rejects sync_interval, which arrived in 2.10) -> n/a
#      async  acknowledged after the write; fsync on a timer:
#             tidelogd --flush-mode interval --flush-interval-ms 1000;
#             redis-server --appendfsync everysec; nats-server -js file store
#             (2.9's file store syncs on its own 60 s timer: weaker than the others)
# 3. Workloads, the same record sizes, counts, batching and runs for every
#    system; each invocation is one run, runs alternate between systems
#    (A-B-C, then C-B-A):
#      produce   100 B and 1 KiB records x 1 and 4 producers (= partitions /
#                streams), --records per run, --batch records per batch
#                (kafka_load: --batch-bytes = batch x record bytes, linger 5 ms)
#      consume   1 KiB records, 1 partition, async level: from cache (just
#                written; tidelogd's default 256 MiB cache per shard holds them)
#                and from disk (restarted: tidelogd with --cache-bytes-per-shard 0,
#                NATS reopening its file store; the page cache dropped before
#                every run when we may). Redis keeps streams in memory only:
#                its from-disk row is n/a.
#      latency   1 KiB records at fixed offered rates, 1 partition, measured
#                from the scheduled send time (no coordinated omission)
#    Servers run on loopback, data directories on the disk under test, fresh
#    for each level; all three at once, so that runs can alternate.
#
# Load tools: perf/kafka_load for Tidelog, perf/peer_load --system redis|nats
# for the peers: same modes (produce|consume|latency), same options and the
# same JSON-lines schema (peer_load adds "system"). A system whose server or
# tool is missing is skipped with a warning and shows as "not run".
#
# Environment (besides run.sh's TIDELOG_PERF_DIR, _RESULTS, _QUIET_WAIT_S, PYTHON):
#   TIDELOG_PERF_PEERS_SYSTEMS   subset of tidelog,redis,nats (all three)
#   TIDELOG_PERF_PEERS_SMP       tidelogd's --smp (1: one core for the broker,
#                                as single-threaded Redis; the other for the client)
#   TIDELOG_PERF_KAFKA_PORT, _ADMIN_PORT, _REDIS_PORT, _NATS_PORT, _IPERF_PORT
#                                (19092, 19644, 16379, 14222, 15201)
#   TIDELOG_PERF_DROP_CACHES     1: drop the page cache before every from-disk
#                                run (default 1 when root and writable, else 0)
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
raw_dir=$results_dir/peers-raw
load_results=$raw_dir/load.jsonl
runs_log=$raw_dir/runs.jsonl
systems_wanted=${TIDELOG_PERF_PEERS_SYSTEMS:-tidelog,redis,nats}
smp=${TIDELOG_PERF_PEERS_SMP:-1}
kafka_port=${TIDELOG_PERF_KAFKA_PORT:-19092}
admin_port=${TIDELOG_PERF_ADMIN_PORT:-19644}
redis_port=${TIDELOG_PERF_REDIS_PORT:-16379}
nats_port=${TIDELOG_PERF_NATS_PORT:-14222}
iperf_port=${TIDELOG_PERF_IPERF_PORT:-15201}
quiet_wait_s=${TIDELOG_PERF_QUIET_WAIT_S:-0}
command_line=${TIDELOG_PERF_COMMAND:-"perf/peers.sh $build_dir$([[ $quick -eq 1 ]] && echo ' --quick')"}

kafka_load_bin=$build_dir/perf/kafka_load
peer_load_bin=$build_dir/perf/peer_load
memcpy_bin=$build_dir/perf/memcpy_bandwidth
broker_bin=$build_dir/src/app/tidelogd

# ---- settings per mode: one table, so that quick and full differ only here ----
if [[ $quick -eq 1 ]]; then
    mode=quick
    runs=2                      # per case and system, alternated
    produce_records_100=200000  # records per produce run, per record size
    produce_records_1024=200000
    consume_records=100000      # 1 KiB: ~100 MiB, within one shard's cache
    latency_rates=(20000)
    latency_seconds=3 latency_warmup_seconds=1
    fio_mib=256 fio_runs=1 fdatasync_seconds=3 iperf_seconds=2
    memcpy_args=(--threads 1,2 --mib 128 --seconds 1 --runs 2)
else
    mode=full
    runs=5
    produce_records_100=1000000
    produce_records_1024=500000
    consume_records=200000
    latency_rates=(5000 20000 50000)
    latency_seconds=12 latency_warmup_seconds=2
    fio_mib=1024 fio_runs=3 fdatasync_seconds=10 iperf_seconds=5
    memcpy_args=(--threads 1,2 --mib 256 --seconds 2 --runs 3)
fi
batch_records=1024       # records per batch / pipeline window, every system
# tidelogd preallocates each partition's segment whole: 256 MiB instead of
# the default 1 GiB keeps a level's topics (12 partitions) within a few GiB.
segment_bytes=${TIDELOG_PERF_PEERS_SEGMENT_BYTES:-$(( 256 << 20 ))}
needed_free_kib=$(( (quick ? 8 : 16) << 20 ))
record_sizes=(100 1024)
producer_counts=(1 4)
levels=(sync async)
start_timeout_s=30
stop_timeout_s=30

log() { echo "[peers] $*" >&2; }
# shellcheck source=perf/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
die() { echo "[peers] error: $*" >&2; exit 1; }

command -v fio >/dev/null || die "fio not installed (./tidelog deps)"
[[ -x $python ]] || die "$python not found"
"$python" -c 'import matplotlib' 2>/dev/null ||
    log "warning: no matplotlib for $python (python3-matplotlib): no plots"

# The systems that can run: the server and the load tool are both there.
systems=()
for system in ${systems_wanted//,/ }; do
    case "$system" in
        tidelog)
            [[ -x $broker_bin && -x $kafka_load_bin ]] ||
                { log "warning: tidelog skipped: $broker_bin or $kafka_load_bin not built"; continue; } ;;
        redis)
            command -v redis-server >/dev/null && [[ -x $peer_load_bin ]] ||
                { log "warning: redis skipped: redis-server or $peer_load_bin missing"; continue; } ;;
        nats)
            command -v nats-server >/dev/null && [[ -x $peer_load_bin ]] ||
                { log "warning: nats skipped: nats-server or $peer_load_bin missing"; continue; } ;;
        *) die "TIDELOG_PERF_PEERS_SYSTEMS: unknown system '$system'" ;;
    esac
    systems+=("$system")
done

mkdir -p "$data_dir" "$results_dir"
rm -rf "$raw_dir"
mkdir -p "$raw_dir"
fs_type=$(findmnt -n -T "$data_dir" -o FSTYPE 2>/dev/null || stat -f -c %T "$data_dir")
[[ $fs_type != tmpfs && $fs_type != ramfs ]] ||
    die "$data_dir is on $fs_type: the peers must write to a disk (set TIDELOG_PERF_DIR)"
data_device=$(basename "$(findmnt -n -T "$data_dir" -o SOURCE 2>/dev/null || true)")
available_kib=$(df -Pk "$data_dir" | awk 'NR == 2 { print $4 }')
(( available_kib > needed_free_kib )) ||
    die "$data_dir: need $needed_free_kib KiB free (segments, AOF, file store), have $available_kib"
drop_caches=${TIDELOG_PERF_DROP_CACHES:-$([[ -w /proc/sys/vm/drop_caches ]] && echo 1 || echo 0)}

# ---- machine accounting: CPU and disk busy per invocation ----------------------

# Percent of the machine's CPU time busy (iowait included) over one second.
# "busy_ticks total_ticks disk_io_ms": /proc/stat's first line and the data
# device's time doing I/O (/proc/diskstats field 13).
machine_counters() {
    local -a cpu
    read -r -a cpu </proc/stat
    local total=0 i
    for (( i = 1; i < ${#cpu[@]}; ++i )); do total=$(( total + cpu[i] )); done
    local io_ms
    io_ms=$(awk -v dev="$data_device" '$3 == dev { print $13; found = 1 }
        END { if (!found) print 0 }' /proc/diskstats)
    echo "$(( total - cpu[4] )) $total $io_ms"
}
# CPU seconds a process used so far (user + system), 0 when it is gone.
process_cpu_s() { [[ -n ${1:-} ]] && cpu_s_of "/proc/$1/stat" || echo 0; }

# ---- servers -----------------------------------------------------------------

declare -A server_pid=()
system_port() {
    case "$1" in tidelog) echo "$kafka_port" ;; redis) echo "$redis_port" ;; nats) echo "$nats_port" ;; esac
}

# Whether a system can run at a durability level (JetStream 2.9 cannot sync).
supports_level() {  # system level
    [[ $1 != nats || $2 != sync ]]
}

# The settings a system runs with at a level, as written in the summary.
level_settings() {  # system level
    case "$1/$2" in
        tidelog/sync) echo "tidelogd --smp $smp --flush-mode group --log-segment-bytes $segment_bytes" ;;
        tidelog/async) echo "tidelogd --smp $smp --flush-mode interval --flush-interval-ms 1000 --log-segment-bytes $segment_bytes" ;;
        redis/sync) echo "redis-server --appendonly yes --appendfsync always" ;;
        redis/async) echo "redis-server --appendonly yes --appendfsync everysec" ;;
        nats/sync) echo "n/a: nats-server 2.9.10 has no per-write sync" ;;
        nats/async) echo "nats-server -js, file storage, default sync (60 s timer in 2.9)" ;;
    esac
}

# Starts one system on loopback with its data under $data_dir/peers-<system>
# (wiped unless `keep`), and waits (bounded) until its port accepts connections.
start_server() {  # system level [keep] [extra flags...]
    local system=$1 level=$2 keep=${3:-} dir=$data_dir/peers-$1 port pid
    shift $(( $# >= 3 ? 3 : $# ))
    port=$(system_port "$system")
    ! port_open "$port" || die "127.0.0.1:$port is in use ($system; see the port variables)"
    [[ $keep == keep ]] || rm -rf "$dir"
    mkdir -p "$dir"
    local log_file=$raw_dir/$system-$level.log
    case "$system" in
        tidelog)
            local flush=(--flush-mode group)
            [[ $level == async ]] && flush=(--flush-mode interval --flush-interval-ms 1000)
            "$broker_bin" --data-dir "$dir" --kafka-addr "127.0.0.1:$kafka_port" \
                --admin-addr "127.0.0.1:$admin_port" --smp "$smp" "${flush[@]}" \
                --log-segment-bytes "$segment_bytes" "$@" \
                >>"$log_file" 2>&1 &
            ;;
        redis)
            local fsync=always
            [[ $level == async ]] && fsync=everysec
            # No RDB snapshots and no AOF rewrites: neither forks during a run.
            redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$dir" \
                --appendonly yes --appendfsync "$fsync" --save '' \
                --auto-aof-rewrite-percentage 0 --protected-mode no --daemonize no \
                --logfile '' "$@" >>"$log_file" 2>&1 &
            ;;
        nats)
            cat >"$dir.conf" <<EOF
listen: 127.0.0.1:$nats_port
max_payload: 8MB
jetstream {
    store_dir: "$dir"
    max_file_store: 64G
    max_memory_store: 1G
}
EOF
            nats-server -c "$dir.conf" "$@" >>"$log_file" 2>&1 &
            ;;
    esac
    pid=$!
    server_pid[$system]=$pid
    local deadline=$(( SECONDS + start_timeout_s ))
    until port_open "$port"; do
        kill -0 "$pid" 2>/dev/null || die "$system exited before listening, see $log_file"
        (( SECONDS < deadline )) || die "$system not listening on $port after ${start_timeout_s}s"
        sleep 0.05
    done
}

# SIGTERM (nats-server: SIGINT, after which it exits 0; SIGTERM makes it exit
# 1), then waits (bounded), then SIGKILL: only the process we started.
stop_server() {  # system
    local pid=${server_pid[$1]:-} signal=TERM
    [[ -n $pid ]] || return 0
    unset "server_pid[$1]"
    [[ $1 == nats ]] && signal=INT
    stop_process "$pid" "$1" "$stop_timeout_s" "$signal"
}
stop_all_servers() {
    local system
    for system in "${!server_pid[@]}"; do stop_server "$system"; done
}
trap 'stop_all_servers' EXIT

remove_data() {
    local system
    for system in tidelog redis nats; do rm -rf "$data_dir/peers-$system" "$data_dir/peers-$system.conf"; done
}

drop_page_cache() {
    sync -f "$data_dir"
    [[ $drop_caches -eq 1 ]] || return 0
    echo 1 >/proc/sys/vm/drop_caches || log "warning: could not drop the page cache"
}

# ---- one load-tool invocation (one run) ----------------------------------------

# Runs the system's load tool once and logs the invocation's CPU and disk
# use to runs.jsonl. A failure is logged; the summary shows it, the rest runs.
load_run() {  # system level workload case rep tool-args...
    local system=$1 level=$2 workload=$3 case_name=$4 rep=$5 status=0
    shift 5
    local tool=()
    case "$system" in
        tidelog) tool=("$kafka_load_bin" "$workload" --bootstrap "127.0.0.1:$kafka_port" --acks all) ;;
        redis | nats)
            tool=("$peer_load_bin" "$workload" --system "$system"
                  --target "127.0.0.1:$(system_port "$system")") ;;
    esac
    wait_for_quiet
    local before after cpu_before cpu_after wall_before wall_after
    before=$(machine_counters)
    cpu_before=$(process_cpu_s "${server_pid[$system]:-}")
    wall_before=$(date +%s.%N)
    "${tool[@]}" --runs 1 --json-out "$load_results" \
        --tag "system=$system" --tag "level=$level" --tag "case=$case_name" --tag "rep=$rep" \
        "$@" >>"$raw_dir/load.log" 2>&1 || status=$?
    wall_after=$(date +%s.%N)
    cpu_after=$(process_cpu_s "${server_pid[$system]:-}")
    after=$(machine_counters)
    echo "{\"system\": \"$system\", \"level\": \"$level\", \"workload\": \"$workload\"," \
        "\"case\": \"$case_name\", \"rep\": $rep, \"status\": $status," \
        "\"counters_before\": [${before// /, }], \"counters_after\": [${after// /, }]," \
        "\"server_cpu_s\": $(awk -v a="$cpu_before" -v b="$cpu_after" 'BEGIN { printf "%.3f", b - a }')," \
        "\"wall_s\": $(awk -v a="$wall_before" -v b="$wall_after" 'BEGIN { printf "%.3f", b - a }')}" \
        >>"$runs_log"
    (( status == 0 )) ||
        log "warning: $system $workload ($case_name, run $rep) exited with $status, see $raw_dir/load.log"
}

# The systems of a level in run order for repetition `rep`: A-B-C, then C-B-A.
ordered_systems() {  # level rep
    local -a list=()
    local system
    for system in "${systems[@]}"; do
        supports_level "$system" "$1" && list+=("$system")
    done
    if (( $2 % 2 == 0 )); then
        local -a reversed=()
        for (( i = ${#list[@]} - 1; i >= 0; --i )); do reversed+=("${list[i]}"); done
        list=("${reversed[@]}")
    fi
    echo "${list[*]}"
}

# Between runs of a peer: Redis keeps every stream in memory, so its streams
# are dropped (untimed) to keep memory flat over the repetitions.
after_run() {  # system
    if [[ $1 == redis ]] && command -v redis-cli >/dev/null; then
        redis-cli -p "$redis_port" flushall >/dev/null 2>&1 || true
    fi
}

started=$(date +%s)
load_before=$(cut -d' ' -f1 /proc/loadavg)
log "mode $mode; systems ${systems[*]:-none}; data $data_dir ($fs_type on ${data_device:-?});" \
    "results $results_dir"

# ---- 1. limits ---------------------------------------------------------------
seq_file=$data_dir/peers-seqwrite.dat
log "limits: fio sequential O_DIRECT writes (1 MiB, QD16, ${fio_mib} MiB) x $fio_runs"
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
log "limits: fio 4 KiB O_DIRECT write + fdatasync, ${fdatasync_seconds}s"
wait_for_quiet
fio --name=fdatasync --ioengine=sync --direct=1 --rw=write --bs=4k --fdatasync=1 \
    --size=256M --runtime="$fdatasync_seconds" --time_based --fallocate=native \
    --filename="$seq_file" --output-format=json --output="$raw_dir/fio-fdatasync.json" \
    >/dev/null || log "warning: fio fdatasync failed"
rm -f "$seq_file"
if command -v iperf3 >/dev/null; then
    log "limits: iperf3 TCP over loopback, ${iperf_seconds}s"
    ! port_open "$iperf_port" || die "127.0.0.1:$iperf_port is in use (TIDELOG_PERF_IPERF_PORT)"
    wait_for_quiet
    iperf3 --server --bind 127.0.0.1 --port "$iperf_port" --one-off >"$raw_dir/iperf3-server.log" 2>&1 &
    iperf_pid=$!
    # Not port_open: a --one-off server would take the probe for its client.
    deadline=$(( SECONDS + 10 ))
    until grep -qs 'Server listening' "$raw_dir/iperf3-server.log" || (( SECONDS >= deadline )); do
        sleep 0.05
    done
    iperf3 --client 127.0.0.1 --port "$iperf_port" --time "$iperf_seconds" --json \
        >"$raw_dir/iperf3.json" 2>>"$raw_dir/iperf3-server.log" || log "warning: iperf3 failed"
    wait "$iperf_pid" 2>/dev/null || true
else
    log "warning: no iperf3 (./tidelog deps): no loopback limit"
fi
if [[ -x $memcpy_bin ]]; then
    log "limits: memcpy bandwidth (${memcpy_args[*]})"
    wait_for_quiet
    "$memcpy_bin" "${memcpy_args[@]}" >"$raw_dir/memcpy.jsonl" 2>>"$raw_dir/load.log" ||
        log "warning: memcpy_bandwidth failed"
else
    log "warning: $memcpy_bin not built: no memory limit"
fi

# ---- 2. produce throughput and end-to-end latency, per durability level ---------
for level in "${levels[@]}"; do
    remove_data
    for system in "${systems[@]}"; do
        supports_level "$system" "$level" && start_server "$system" "$level"
    done
    log "$level: $(for s in "${systems[@]}"; do echo -n "$(level_settings "$s" "$level"); "; done)"
    for bytes in "${record_sizes[@]}"; do
        records_var=produce_records_$bytes
        records=${!records_var}
        for producers in "${producer_counts[@]}"; do
            case_name=produce-$bytes-p$producers
            log "$level: produce $records x $bytes B, $producers producers/partitions, $runs runs each"
            for (( rep = 1; rep <= runs; ++rep )); do
                for system in $(ordered_systems "$level" "$rep"); do
                    batch=()
                    if [[ $system == tidelog ]]; then
                        batch=(--batch-bytes $(( batch_records * bytes )) --linger-ms 5)
                    else
                        batch=(--batch "$batch_records")
                    fi
                    load_run "$system" "$level" produce "$case_name" "$rep" \
                        --topic "$case_name" --partitions "$producers" \
                        --producers "$producers" --record-bytes "$bytes" --records "$records" \
                        "${batch[@]}"
                    after_run "$system"
                done
            done
        done
    done
    for rate in "${latency_rates[@]}"; do
        case_name=latency-1024-r$rate
        log "$level: latency, $rate records/s of 1 KiB, ${latency_seconds}s, $runs runs each"
        for (( rep = 1; rep <= runs; ++rep )); do
            for system in $(ordered_systems "$level" "$rep"); do
                load_run "$system" "$level" latency "$case_name" "$rep" \
                    --topic "$case_name" --partitions 1 --record-bytes 1024 \
                    --rate "$rate" --seconds "$latency_seconds" \
                    --warmup-seconds "$latency_warmup_seconds"
                after_run "$system"
            done
        done
    done
    stop_all_servers
done

# ---- 3. consume throughput: from cache, then from disk (async level) ------------
level=async
remove_data
for system in "${systems[@]}"; do start_server "$system" "$level"; done
log "consume: $consume_records x 1 KiB from cache, $runs runs each"
for (( rep = 1; rep <= runs; ++rep )); do
    for system in $(ordered_systems "$level" "$rep"); do
        args=()
        (( rep > 1 )) || args+=(--fill-records "$consume_records")
        [[ $system == tidelog ]] || args+=(--batch "$batch_records")
        load_run "$system" "$level" consume consume-1024-cache "$rep" \
            --topic consume --partitions 1 --record-bytes 1024 --records "$consume_records" \
            "${args[@]}"
    done
done
stop_all_servers
# From disk: the same records, read by a restarted server with nothing cached.
disk_systems=()
for system in "${systems[@]}"; do
    case "$system" in
        tidelog) start_server tidelog "$level" keep --cache-bytes-per-shard 0; disk_systems+=(tidelog) ;;
        nats) start_server nats "$level" keep; disk_systems+=(nats) ;;
        redis) ;;  # in memory only: n/a
    esac
done
log "consume: from disk (${disk_systems[*]:-none}; page cache dropped before each run:" \
    "$([[ $drop_caches -eq 1 ]] && echo yes || echo no)), $runs runs each"
for (( rep = 1; rep <= runs; ++rep )); do
    for system in $(ordered_systems "$level" "$rep"); do
        [[ $system == redis ]] && continue
        drop_page_cache
        args=()
        [[ $system == tidelog ]] || args+=(--batch "$batch_records")
        load_run "$system" "$level" consume consume-1024-disk "$rep" \
            --topic consume --partitions 1 --record-bytes 1024 --records "$consume_records" \
            "${args[@]}"
    done
done
stop_all_servers
remove_data

load_after=$(cut -d' ' -f1 /proc/loadavg)
elapsed=$(( $(date +%s) - started ))
log "done in ${elapsed}s"

# ---- versions and settings, for the summary ------------------------------------
package_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }
settings_json=$("$python" - "$@" <<EOF
import json
print(json.dumps({
    "systems": "${systems[*]}".split(),
    "smp": $smp,
    "segment_bytes": $segment_bytes,
    "runs": $runs,
    "batch_records": $batch_records,
    "produce_records": {"100": $produce_records_100, "1024": $produce_records_1024},
    "consume_records": $consume_records,
    "latency_rates": [int(r) for r in "${latency_rates[*]}".split()],
    "latency_seconds": $latency_seconds,
    "latency_warmup_seconds": $latency_warmup_seconds,
    "fio_mib": $fio_mib, "fio_runs": $fio_runs,
    "fdatasync_seconds": $fdatasync_seconds, "iperf_seconds": $iperf_seconds,
    "memcpy_args": "${memcpy_args[*]}",
    "drop_caches": bool($drop_caches),
    "levels": {level: {system: settings for system, settings in pairs}
               for level, pairs in (
                   ("sync", [("tidelog", "$(level_settings tidelog sync)"),
                             ("redis", "$(level_settings redis sync)"),
                             ("nats", "$(level_settings nats sync)")]),
                   ("async", [("tidelog", "$(level_settings tidelog async)"),
                              ("redis", "$(level_settings redis async)"),
                              ("nats", "$(level_settings nats async)")]))},
    "versions": {
        "redis-server": "$(version_of redis-server --version)",
        "nats-server": "$(version_of nats-server --version)",
        "librdkafka": "$(package_version librdkafka1)",
        "libhiredis": "$(package_version libhiredis0.14)",
        "libnats": "$(package_version libnats3.4)",
        "fio": "$(version_of fio --version)",
        "iperf3": "$(version_of iperf3 --version)",
    },
}))
EOF
)
echo "$settings_json" >"$raw_dir/settings.json"

"$python" "$perf_dir/summarize.py" peers \
    --raw-dir "$raw_dir" --out "$results_dir/peers.json" --markdown "$results_dir/peers.md" \
    --plots "$results_dir" --mode "$mode" --build-dir "$build_dir" --data-dir "$data_dir" \
    --command "$command_line" \
    --load-before "$load_before" --load-after "$load_after" --elapsed-s "$elapsed"

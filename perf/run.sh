#!/usr/bin/env bash
# perf/run.sh BUILD_DIR [--quick]
#
# Runs the foundation benchmarks and fio side by side and writes
#   perf/results/foundation.json        summary (machine, commands, statistics)
#   perf/results/foundation-raw/        every raw output (benchmark JSON, fio JSON)
#   perf/results/storage.json           storage engine benchmarks (perf_storage)
# and prints a markdown table to stdout (progress goes to stderr).
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
set -euo pipefail

usage() {
    echo "usage: $0 BUILD_DIR [--quick]" >&2
    exit 2
}

[[ $# -ge 1 ]] || usage
build_dir=$(cd "$1" && pwd)
quick=0
shift
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        *) usage ;;
    esac
done

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
die() { echo "[perf] error: $*" >&2; exit 1; }

for tool in "$reactor_bin" "$write_bin"; do
    [[ -x $tool ]] || die "$tool not built (needs Google Benchmark: libbenchmark-dev)"
done
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
quiet_waited_s=0

# Percent of the machine's CPU time busy (iowait included) over one second.
busy_percent() {
    local -a a b
    read -r -a a </proc/stat
    sleep 1
    read -r -a b </proc/stat
    local total=0 idle i
    for (( i = 1; i < ${#b[@]}; ++i )); do total=$(( total + b[i] - a[i] )); done
    idle=$(( b[4] - a[4] ))
    echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}

# With TIDELOG_PERF_QUIET_WAIT_S: waits for other work to stop (bounded).
wait_for_quiet() {
    (( quiet_wait_s > 0 )) || return 0
    local waited=0
    while (( waited < quiet_wait_s )) && (( $(busy_percent) >= 10 )); do
        waited=$(( waited + 1 ))
    done
    quiet_waited_s=$(( quiet_waited_s + waited ))
    (( waited < quiet_wait_s )) || log "warning: machine still busy after ${quiet_wait_s}s"
}

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
log "mode $mode; data file $data_file ($fs_type); results $results_dir"

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

# ---- storage engine (issue 3): appends per flush mode, reads, recovery ----
# Google Benchmark's own aggregates (median, stddev) go to the JSON file; the
# console table goes to stderr. fio figures for comparison are the write
# benchmarks above (same file system, same run).
storage_bin=$build_dir/perf/perf_storage
if [[ -x "$storage_bin" ]]; then
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

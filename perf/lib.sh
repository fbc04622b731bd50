# Shell helpers shared by perf/run.sh, perf/peers.sh and perf/feed_bench.sh.
# Source it after defining `log` (progress to stderr) and `quiet_wait_s`
# (TIDELOG_PERF_QUIET_WAIT_S: 0 = never wait for a quiet machine).

# Percent of the machine's CPU time that was busy over the next second.
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

# Waits (at most quiet_wait_s seconds) for other work to stop (< 10 % busy);
# adds the seconds waited to quiet_waited_s.
quiet_waited_s=0
wait_for_quiet() {
    (( quiet_wait_s > 0 )) || return 0
    local waited=0
    while (( waited < quiet_wait_s )) && (( $(busy_percent) >= 10 )); do
        waited=$(( waited + 1 ))
    done
    quiet_waited_s=$(( quiet_waited_s + waited ))
    (( waited < quiet_wait_s )) || log "warning: machine still busy after ${quiet_wait_s}s"
}

clock_ticks=$(getconf CLK_TCK)
# CPU seconds (user + system) of a /proc/P/stat or /proc/P/task/T/stat file;
# 0 when it is gone.
cpu_s_of() {
    [[ -n ${1:-} && -r $1 ]] || { echo 0; return; }
    awk -v hz="$clock_ticks" '{ sub(/.*\) /, ""); printf "%.3f", ($12 + $13) / hz }' "$1"
}

# Whether something listens on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The first line a tool prints about its version.
version_of() { "$@" 2>&1 | head -n 1 || true; }

# Stops a child process: SIGNAL (TERM unless given), then waits up to
# TIMEOUT_S seconds before SIGKILL; warns on a non-zero exit status.
stop_process() {  # pid name timeout_s [signal]
    local pid=$1 name=$2 timeout_s=$3 signal=${4:-TERM} status=0
    local deadline=$(( SECONDS + timeout_s ))
    kill -"$signal" "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if (( SECONDS >= deadline )); then
            log "warning: $name did not stop within ${timeout_s}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.05
    done
    wait "$pid" 2>/dev/null || status=$?
    (( status == 0 )) || log "warning: $name exited with status $status"
}

#!/usr/bin/env bash
# Tear down the one-node SLURM cluster started by start-slurm.sh.
# Cancels every job first (killing slurmd does NOT kill running jobs), waits
# for the queue to drain, then stops slurmd, slurmctld and munged.
# Idempotent: does nothing (successfully) when nothing is running.
set -euo pipefail

TIMEOUT=${SLURM_STOP_TIMEOUT:-60}
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_PID=/run/munge/munged.pid

log() { echo "stop-slurm: $*" >&2; }

[[ $(id -u) -eq 0 ]] || { log "ERROR: must run as root"; exit 1; }

# daemon_pid PIDFILE NAME [USER]: pid of the running daemon, if any.
daemon_pid() {
    local pidfile=$1 name=$2 user=${3:-} pid comm
    if [[ -s $pidfile ]]; then
        pid=$(tr -dc '0-9' <"$pidfile")
        comm=$(cat "/proc/$pid/comm" 2>/dev/null) || comm=
        if [[ -n $pid && $comm == "$name" ]]; then
            echo "$pid"
            return 0
        fi
    fi
    if [[ -n $user ]]; then
        pid=$(pgrep -x -u "$user" "$name" | head -n 1) || true
    else
        pid=$(pgrep -x "$name" | head -n 1) || true
    fi
    [[ -n $pid ]] || return 1
    echo "$pid"
}

# stop_daemons: SIGTERM slurmd, slurmctld and munged together (each takes ~2 s
# to exit), wait up to 15 s, then SIGKILL what is left.  Loops in case a
# second copy of a daemon was running.
stop_daemons() {
    local pids pid name i round spec alive
    for ((round = 0; round < 3; round++)); do
        pids=()
        for spec in "$SLURMD_PID slurmd" "$CTLD_PID slurmctld" "$MUNGE_PID munged munge"; do
            # shellcheck disable=SC2086
            if pid=$(daemon_pid $spec); then
                name=${spec#* }
                log "stopping ${name%% *} (pid $pid)"
                kill -TERM "$pid" 2>/dev/null || true
                pids+=("$pid")
            fi
        done
        ((${#pids[@]})) || break
        for ((i = 0; i < 75; i++)); do
            alive=false
            for pid in "${pids[@]}"; do
                kill -0 "$pid" 2>/dev/null && alive=true
            done
            $alive || break
            sleep 0.2
        done
        for pid in "${pids[@]}"; do
            if kill -0 "$pid" 2>/dev/null; then
                log "pid $pid ignored SIGTERM; killing it"
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done
        sleep 0.2
    done
    rm -f "$SLURMD_PID" "$CTLD_PID" "$MUNGE_PID"
}

# ---------------------------------------------------------------- jobs
if command -v scontrol >/dev/null 2>&1 && scontrol ping 2>/dev/null | grep -q 'is UP'; then
    jobs=$(squeue -h -o '%i' 2>/dev/null | tr '\n' ' ') || jobs=
    if [[ -n ${jobs// /} ]]; then
        log "cancelling jobs: $jobs"
        # shellcheck disable=SC2086
        scancel $jobs 2>/dev/null || true
        deadline=$((SECONDS + TIMEOUT))
        while [[ -n $(squeue -h -t all -o '%i %T' 2>/dev/null |
            grep -Ev ' (COMPLETED|CANCELLED|FAILED|TIMEOUT|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE|OUT_OF_MEMORY)$' || true) ]]; do
            if ((SECONDS >= deadline)); then
                log "WARNING: jobs still not gone after ${TIMEOUT}s:"
                squeue >&2 || true
                break
            fi
            sleep 0.2
        done
    fi
fi

# ---------------------------------------------------------------- daemons
stop_daemons

echo "SLURM stopped"

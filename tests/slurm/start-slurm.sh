#!/usr/bin/env bash
# Stand up a real one-node SLURM cluster on this machine (Debian 12, root,
# no systemd): munged + slurmctld + slurmd, all on 127.0.0.1.
#
# Idempotent: when the cluster is already up with the same configuration this
# only checks it (well under a second).  Stale pid files / dead daemons from a
# previous run are cleaned up; daemons running with an older slurm.conf are
# restarted.  Exits non-zero with the tail of the logs when anything fails.
#
# Environment knobs:
#   SLURM_START_TIMEOUT  seconds to wait for each step (default 60)
#   SLURM_CPUS           CPUs the node claims (default 32)
#   SLURM_PARTITION      name of the default partition (default debug)
set -euo pipefail

TIMEOUT=${SLURM_START_TIMEOUT:-60}
CPUS=${SLURM_CPUS:-32}
PARTITION=${SLURM_PARTITION:-debug}

CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
LOG_DIR=/var/log/slurm
STATE_DIR=/var/lib/slurm/slurmctld
SPOOL_DIR=/var/spool/slurmd
JOBCOMP_LOG=$LOG_DIR/jobcomp.log
CTLD_LOG=$LOG_DIR/slurmctld.log
SLURMD_LOG=$LOG_DIR/slurmd.log
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_RUN=/run/munge
MUNGE_PID=$MUNGE_RUN/munged.pid
MUNGE_KEY=/etc/munge/munge.key
MUNGE_LOG=/var/log/munge/munged.log

T0=$(date +%s.%N)

log() { echo "start-slurm: $*" >&2; }

show_logs() {
    local f
    for f in "$MUNGE_LOG" "$CTLD_LOG" "$SLURMD_LOG" "$LOG_DIR/daemons.out"; do
        if [[ -s $f ]]; then
            echo "----- last lines of $f -----" >&2
            tail -n 25 "$f" >&2 || true
        fi
    done
}

die() {
    log "ERROR: $*"
    show_logs
    exit 1
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.2 s.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            die "timed out after ${secs}s waiting for $what"
        fi
        sleep 0.2
    done
}

# pid_alive PIDFILE NAME: print the pid if PIDFILE names a live NAME process.
pid_alive() {
    local pidfile=$1 name=$2 pid comm
    [[ -s $pidfile ]] || return 1
    pid=$(tr -dc '0-9' <"$pidfile")
    [[ -n $pid ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "$name" ]] || return 1
    echo "$pid"
}

# daemon_pid PIDFILE NAME: pid of the running daemon (pid file first, then by
# exact process name, owned by USER if given as $3).  Removes a stale pid file.
daemon_pid() {
    local pidfile=$1 name=$2 user=${3:-} pid
    if pid=$(pid_alive "$pidfile" "$name"); then
        echo "$pid"
        return 0
    fi
    rm -f "$pidfile"
    if [[ -n $user ]]; then
        pid=$(pgrep -x -u "$user" "$name" | head -n 1) || true
    else
        pid=$(pgrep -x "$name" | head -n 1) || true
    fi
    [[ -n $pid ]] || return 1
    echo "$pid"
}

# stop_pid PID NAME: SIGTERM, wait up to 15 s, then SIGKILL.
stop_pid() {
    local pid=$1 name=$2 i
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 75; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    log "$name (pid $pid) ignored SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
}

[[ $(id -u) -eq 0 ]] || die "must run as root"

# ---------------------------------------------------------------- packages
missing=()
for cmd in slurmctld slurmd sbatch munged; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
if ((${#missing[@]})); then
    log "installing SLURM and munge (missing: ${missing[*]})"
    apt-get update -qq </dev/null >/dev/null ||
        die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge </dev/null >/dev/null ||
        die "apt-get install slurmctld slurmd slurm-client munge failed"
fi

# ---------------------------------------------------------------- hostname
NODE=$(hostname -s)
[[ -n $NODE ]] || die "empty short hostname"
if ! getent hosts "$NODE" >/dev/null; then
    log "adding '127.0.0.1 $NODE' to /etc/hosts"
    echo "127.0.0.1 $NODE" >>/etc/hosts
fi

# ---------------------------------------------------------------- munge
mkdir -p "$MUNGE_RUN" /var/log/munge /var/lib/munge /etc/munge
chown munge:munge "$MUNGE_RUN" /var/log/munge /var/lib/munge
chmod 0755 "$MUNGE_RUN"
if [[ ! -s $MUNGE_KEY ]]; then
    log "creating munge key"
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --force --keyfile="$MUNGE_KEY"
    else
        dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none
    fi
fi
chown munge:munge "$MUNGE_KEY"
chmod 0400 "$MUNGE_KEY"

munge_ok() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }
if ! munge_ok; then
    if pid=$(daemon_pid "$MUNGE_PID" munged munge); then
        stop_pid "$pid" munged # alive but not answering: restart it
    fi
    rm -f "$MUNGE_PID"
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged --force \
        </dev/null >>/var/log/munge/munged.out 2>&1 ||
        die "munged failed to start"
    wait_for "$TIMEOUT" "munge -n | unmunge" munge_ok
fi

# ---------------------------------------------------------------- config
mkdir -p "$CONF_DIR" "$LOG_DIR" "$STATE_DIR" "$SPOOL_DIR"
touch "$JOBCOMP_LOG"

new_conf=$(
    cat <<EOF
# Written by tests/slurm/start-slurm.sh: one-node test cluster, no cgroups.
ClusterName=uws
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$JOBCOMP_LOG
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Without these every job waits ~3 s before being scheduled.
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
# Keep finished jobs in slurmctld's memory (squeue/scontrol) for a day.
MinJobAge=86400
MaxJobCount=100000
MailProg=/bin/true
# Lets the node claim more CPUs than the machine has.
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$CTLD_LOG
SlurmdLogFile=$SLURMD_LOG
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
)

conf_changed=false
if [[ ! -f $CONF ]] || [[ $(cat "$CONF") != "$new_conf" ]]; then
    conf_changed=true
    printf '%s\n' "$new_conf" >"$CONF.tmp"
    mv -f "$CONF.tmp" "$CONF"
    chmod 0644 "$CONF"
    log "wrote $CONF"
fi

# ---------------------------------------------------------------- daemons
ctld_up() { scontrol ping 2>/dev/null | grep -q 'is UP'; }

ctld=$(daemon_pid "$CTLD_PID" slurmctld) || ctld=
slurmd=$(daemon_pid "$SLURMD_PID" slurmd) || slurmd=

if $conf_changed && [[ -n $ctld$slurmd ]]; then
    log "slurm.conf changed: restarting the running daemons"
    # Each takes ~2 s to exit: signal both first, then wait for each.
    # shellcheck disable=SC2086
    kill -TERM $slurmd $ctld 2>/dev/null || true
    if [[ -n $slurmd ]]; then stop_pid "$slurmd" slurmd; fi
    if [[ -n $ctld ]]; then stop_pid "$ctld" slurmctld; fi
    ctld='' slurmd=''
fi

if [[ -n $ctld ]]; then
    # Running: give it a few seconds to answer (it may just be starting).
    deadline=$((SECONDS + 10))
    until ctld_up || ((SECONDS >= deadline)); do sleep 0.2; done
    if ! ctld_up; then
        stop_pid "$ctld" slurmctld # hung or half-dead: restart it
        ctld=
    fi
fi
ctld_started=false
ctld_log_offset=0
if [[ -z $ctld ]]; then
    rm -f "$CTLD_PID"
    [[ -f $CTLD_LOG ]] && ctld_log_offset=$(stat -c %s "$CTLD_LOG")
    ctld_started=true
    log "starting slurmctld"
    /usr/sbin/slurmctld </dev/null >>"$LOG_DIR/daemons.out" 2>&1 ||
        die "slurmctld failed to start"
fi
wait_for "$TIMEOUT" "scontrol ping to report slurmctld UP" ctld_up

if [[ -z $slurmd ]]; then
    rm -f "$SLURMD_PID"
    log "starting slurmd -N $NODE"
    /usr/sbin/slurmd -N "$NODE" </dev/null >>"$LOG_DIR/daemons.out" 2>&1 ||
        die "slurmd failed to start"
fi

# Wait for the node to become usable; resume it if it came back down/drained.
node_state() { sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n 1; }
deadline=$((SECONDS + TIMEOUT))
last_resume=-100
while :; do
    state=$(node_state) || state=
    case $state in
    idle | mixed | allocated | completing) break ;;
    down | drained | draining | drain | fail | failing)
        if ((SECONDS - last_resume >= 2)); then
            log "node $NODE is $state: resuming it"
            scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
            last_resume=$SECONDS
        fi
        ;;
    esac
    if ((SECONDS >= deadline)); then
        sinfo -N -l >&2 || true
        scontrol show node "$NODE" >&2 || true
        die "timed out after ${TIMEOUT}s waiting for node $NODE to be idle (state: '${state:-?}')"
    fi
    # Make sure slurmd did not die on startup.
    if ! daemon_pid "$SLURMD_PID" slurmd >/dev/null; then
        sleep 0.5
        daemon_pid "$SLURMD_PID" slurmd >/dev/null || die "slurmd is not running"
    fi
    sleep 0.2
done

# A freshly started slurmctld runs its first scheduling pass only ~3 s after
# start-up; jobs submitted before that wait for it.  Wait for that pass (it logs
# "SchedulerParameters=...") so that the first job is as quick as later ones.
if $ctld_started; then
    sched_pass() { tail -c "+$((ctld_log_offset + 1))" "$CTLD_LOG" | grep -q 'SchedulerParameters='; }
    deadline=$((SECONDS + 10))
    until sched_pass || ((SECONDS >= deadline)); do sleep 0.2; done
    sched_pass || log "note: no first scheduling pass seen in $CTLD_LOG yet (continuing)"
fi

elapsed=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "SLURM up: node $NODE ($CPUS CPUs, $state), partition $PARTITION," \
    "slurmctld pid $(daemon_pid "$CTLD_PID" slurmctld || echo ?)," \
    "slurmd pid $(daemon_pid "$SLURMD_PID" slurmd || echo ?)," \
    "munged pid $(daemon_pid "$MUNGE_PID" munged munge || echo ?), in ${elapsed}s"

#!/usr/bin/env bash
# Starts a one-node Slurm cluster on this machine, for the Slurm job-array tests
# (tests/runner/slurm.rs, run when SPARSE_SCALING_SLURM_TESTS=1).
#
# Installs the distribution's packages (Debian/Ubuntu: slurmctld, slurmd, slurm-client, munge),
# writes /etc/slurm/slurm.conf for one node called `localhost` (CPUs = nproc, memory = 90% of
# the machine's), creates a munge key, starts munged, slurmctld and `slurmd -N localhost` by
# hand (no systemd needed) and waits until `sinfo` shows the node idle.
#
# Choices that matter on containers and CI machines:
# - ProctrackType=proctrack/linuxproc and TaskPlugin=task/none: the cgroup plugins fail without
#   a writable cgroup tree, and a job whose task plugin failed is then reported as COMPLETED;
# - `slurmd -N localhost`: the host name is not the node name;
# - SlurmdParameters=config_overrides: the node is not drained when the detected hardware
#   differs slightly from the configuration.
#
# Idempotent: run it again and it only starts what is not running. Needs root (or sudo).
# It fails loudly (non-zero exit, the daemons' logs on stderr) when it cannot start the cluster.
set -euo pipefail

log() { echo "slurm-up: $*" >&2; }
fail() {
  log "error: $*"
  for f in /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log /var/log/munge/munged.log; do
    if [ -s "$f" ]; then
      echo "---- last lines of $f" >&2
      tail -n 20 "$f" >&2
    fi
  done
  exit 1
}

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo -n -- "$0" "$@"
  fi
  fail "needs root to install and start Slurm (run it as root, or install sudo)"
fi

started=$(date +%s)

# 1. packages
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 \
  || ! command -v sbatch >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 \
    || fail "Slurm is not installed and apt-get is missing: install slurmctld, slurmd, slurm-client and munge with this system's package manager"
  log "installing slurmctld slurmd slurm-client munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || fail "apt-get update failed"
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null \
    || fail "apt-get install slurmctld slurmd slurm-client munge failed"
fi
log "$(slurmctld -V)"

# 2. munge: a key, then munged as the munge user
id munge >/dev/null 2>&1 || fail "the munge package created no 'munge' user"
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  log "creating /etc/munge/munge.key"
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge /etc/munge/munge.key /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  log "starting munged"
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged || fail "munged did not start"
  for _ in $(seq 1 50); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.1
  done
  munge -n | unmunge >/dev/null || fail "munged started but does not answer (munge -n | unmunge)"
fi

# 3. slurm.conf for one node, `localhost`
cpus=$(nproc)
mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
conf=$(
  cat <<EOF
# Written by .ci/slurm-up.sh: a one-node cluster on localhost for the Slurm tests.
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SlurmdParameters=config_overrides
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
MaxArraySize=10001
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
)
changed=0
if [ "$(cat /etc/slurm/slurm.conf 2>/dev/null)" != "$conf" ]; then
  log "writing /etc/slurm/slurm.conf (localhost: $cpus CPUs, $mem_mb MB)"
  printf '%s\n' "$conf" >/etc/slurm/slurm.conf
  changed=1
fi

# 4. the daemons (a daemon whose pid file names a live process is left alone, unless the
#    configuration changed)
running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop() {
  if running "$1"; then
    kill "$(cat "$1")"
    for _ in $(seq 1 50); do running "$1" || break; sleep 0.1; done
  fi
}
if [ "$changed" = 1 ]; then
  stop /run/slurmd.pid
  stop /run/slurmctld.pid
fi
if ! running /run/slurmctld.pid; then
  log "starting slurmctld"
  slurmctld || fail "slurmctld did not start"
fi
if ! running /run/slurmd.pid; then
  log "starting slurmd -N localhost"
  slurmd -N localhost || fail "slurmd did not start"
fi

# 5. wait until the node is idle (a node left down or drained by an earlier run is resumed)
state=""
for i in $(seq 1 120); do
  state=$(sinfo -h -n localhost -o %T 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle | mixed | allocated | completing) break ;;
    down* | drain* | fail*)
      if [ "$i" = 1 ] || [ $((i % 10)) = 0 ]; then
        scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true
      fi
      ;;
  esac
  sleep 0.5
done
case "$state" in
  idle | mixed | allocated | completing) ;;
  *) fail "node localhost is '${state:-not answering}' after 60 s (sinfo -N -l; scontrol show node localhost)" ;;
esac
log "node localhost is $state; cluster up in $(($(date +%s) - started)) s"
sinfo

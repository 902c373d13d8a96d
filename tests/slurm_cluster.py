"""A real single-node SLURM cluster (Debian's slurmctld, slurmd and munge) in a temporary folder.

Used by the cluster test: it starts MUNGE and the two SLURM daemons on their own ports, with every
state, spool, log and pid file under the folder, and stops exactly the processes it started.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "srun")


def missing_requirements() -> str | None:
    """Return why a cluster cannot start here (no root, or missing programs), or None."""
    if os.geteuid() != 0:
        return "the SLURM test cluster needs root (slurmd runs jobs as any user)"
    absent = [d for d in DAEMONS if shutil.which(d) is None and not Path(f"/usr/sbin/{d}").exists()]
    if absent:
        return f"missing {', '.join(absent)}: apt-get install slurmctld slurmd slurm-client munge"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


class Cluster:
    """Start with ``start()``, stop with ``stop()``; ``env`` is what clients (sbatch, snakemake) need."""

    def __init__(self, root: Path, cpus: int | None = None):
        # twice the machine's cores (slurmd told to trust the config): a pipeline job asks for two threads on a
        # cluster, so two of them share the cores as the local run's one-thread jobs do, not one after the other
        self.root, self.cpus = root, cpus or 2 * (os.cpu_count() or 1)
        self.processes: list[subprocess.Popen] = []
        self.conf = root / "slurm.conf"
        self.bin = root / "bin"
        self.env = dict(os.environ)
        # munged wants every directory above its socket executable by all, which test folders are not
        self.socket_dir = Path(tempfile.mkdtemp(prefix="qmri-munge-"))
        self.socket_dir.chmod(0o755)
        self.socket = self.socket_dir / "munge.socket.2"

    def _write_config(self) -> None:
        for sub in ("run", "state", "spool", "log", "bin"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        memory = int(_memory_mb() * 0.9)
        r = self.root
        self.conf.write_text(f"""ClusterName=qmritest
SlurmctldHost=localhost
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket={self.socket}
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
MinJobAge=300
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
SlurmctldDebug=info
NodeName=localhost CPUs={self.cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""")
        # the job-step plugin clears SLURM_* variables before its inner srun: this srun restores the config
        srun = self.bin / "srun"
        srun.write_text(f"#!/bin/sh\nexport SLURM_CONF={self.conf}\nexec {shutil.which('srun')} \"$@\"\n")
        srun.chmod(0o755)
        self.env.update(SLURM_CONF=str(self.conf), PATH=f"{self.bin}:{self.env['PATH']}")

    def _spawn(self, *command: str) -> None:
        log = open(self.root / "log" / f"{Path(command[0]).name}.out", "w")
        self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env))

    def start(self, timeout: float = 60.0) -> None:
        """Start munged, slurmctld and slurmd; return once the node takes jobs."""
        self._write_config()
        r = self.root
        subprocess.run(["mungekey", "--create", f"--keyfile={r}/munge.key"], check=True, capture_output=True)
        self._spawn("munged", "-F", f"--socket={self.socket}", f"--key-file={r}/munge.key",
                    f"--log-file={r}/log/munged.log", f"--pid-file={r}/run/munged.pid", f"--seed-file={r}/munge.seed")
        self._wait(self.socket.exists, timeout, "munged")
        self._spawn("slurmctld", "-D", "-i", "-f", str(self.conf))
        self._spawn("slurmd", "-D", "-N", "localhost", "-f", str(self.conf))
        self._wait(self._node_idle, timeout, "the SLURM node")

    def _node_idle(self) -> bool:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=self.env)
        return out.returncode == 0 and "idle" in out.stdout

    def _wait(self, ready, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(p.poll() is not None for p in self.processes):
                logs = "\n".join(f.read_text()[-2000:] for f in (self.root / "log").glob("*"))
                raise RuntimeError(f"a SLURM daemon exited while waiting for {what}:\n{logs}")
            if ready():
                return
            time.sleep(0.5)
        raise RuntimeError(f"{what} not ready after {timeout} s")

    def submitted_jobs(self) -> list[str]:
        """Return the ids of the batch jobs slurmctld accepted (from its own log)."""
        text = (self.root / "log/slurmctld.log").read_text()
        return [line.split("JobId=")[1].split()[0] for line in text.splitlines()
                if "_slurm_rpc_submit_batch_job" in line and "JobId=" in line]

    def stop(self) -> None:
        """Stop the daemons this object started, by their PIDs, newest first."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        shutil.rmtree(self.socket_dir, ignore_errors=True)

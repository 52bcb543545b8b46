#!/usr/bin/env python3
"""A throw-away single-node Slurm (with accounting) on localhost, for testing the slurm executor.

Everything lives under one folder: a munge key and private socket, a fresh MariaDB database
(``mariadbd --no-defaults`` on 127.0.0.1 and a free port), ``slurmdbd``, ``slurmctld`` and
``slurmd`` with a generated ``slurm.conf``, their state, spool, logs and PID files. Needs root
(slurmd launches jobs as their owner) and Debian's ``slurm-wlm munge slurmdbd mariadb-server``;
no systemd, cgroups or ``/run`` are used.

Usage::

    python tests/slurm_local.py up [DIR]     # prints `export SLURM_CONF=...`
    python tests/slurm_local.py down DIR     # stops every daemon by PID, removes DIR
    python tests/slurm_local.py status DIR

Clients (``sbatch``, ``squeue``, ``sacct``, ``scancel``, submitit) talk to the cluster when
``SLURM_CONF`` points to ``DIR/slurm.conf``. From Python: ``LocalSlurm(dir).start()`` /
``.stop()``; ``.env()`` gives the variables to set.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REQUIRED_BINARIES = ("munged", "mungekey", "mariadb-install-db", "mariadbd", "slurmdbd",
                     "slurmctld", "slurmd", "sacctmgr", "sinfo", "sbatch", "squeue", "sacct",
                     "scancel", "srun")
APT_PACKAGES = "slurm-wlm munge slurmdbd mariadb-server"
CLUSTER_NAME = "hasbench"
PARTITION = "debug"
#: Daemons in start order; stopped in reverse.
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")


class SlurmStartError(RuntimeError):
    """The cluster could not be started; the message names the failing step and its log."""


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment with ``/usr/sbin`` on PATH (daemons live there) + ``extra``."""
    path = os.environ.get("PATH", "/usr/bin:/bin")
    return {**os.environ, "PATH": f"{path}:/usr/sbin:/sbin", **(extra or {})}


def missing_binaries() -> list[str]:
    """Names of the programs this helper needs that are not on PATH (sbin included)."""
    path = _env()["PATH"]
    return [name for name in REQUIRED_BINARIES if shutil.which(name, path=path) is None]


class HeldPorts:
    """Distinct free TCP ports on 127.0.0.1, each held (bound here) until its daemon starts.

    Ports found and let go at once may be taken by anything in between, or handed out twice;
    these stay bound by this process until :meth:`release` gives one to the daemon about to
    bind it.
    """

    def __init__(self, names: tuple[str, ...]):
        self._sockets = {}
        for name in names:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            self._sockets[name] = sock
        self.ports = {name: sock.getsockname()[1] for name, sock in self._sockets.items()}

    def release(self, name: str) -> int:
        """Stop holding ``name``'s port (its daemon binds it next) and return it."""
        sock = self._sockets.pop(name, None)
        if sock is not None:
            sock.close()
        return self.ports[name]

    def close(self) -> None:
        """Release every port still held."""
        for name in list(self._sockets):
            self.release(name)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as dead
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


class LocalSlurm:
    """One single-node cluster whose files all live under ``root``.

    Args:
        root: Folder for config, state, database, sockets and logs (created; removed by
            :meth:`stop` unless ``keep``).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.conf = self.root / "slurm.conf"
        self.munge_socket = self.root / "munge" / "munge.socket"
        self.hostname = socket.gethostname().split(".")[0]
        self.start_seconds: float | None = None

    # ------------------------------------------------------------------ public API
    def env(self) -> dict[str, str]:
        """Environment variables that point Slurm clients at this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def start(self, timeout_seconds: float = 60.0) -> LocalSlurm:
        """Start munge, MariaDB, slurmdbd, slurmctld and slurmd; wait until the node is idle.

        Raises:
            SlurmStartError: naming the step that failed and the log to read. Daemons that
                did start are stopped again.
        """
        missing = missing_binaries()
        if missing:
            raise SlurmStartError(f"missing {', '.join(missing)}; install with "
                                  f"`apt-get install {APT_PACKAGES}`")
        if os.geteuid() != 0:
            raise SlurmStartError("the local Slurm must be started as root (slurmd runs jobs)")
        begin = time.monotonic()
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        self._ports = HeldPorts(("db", "dbd", "ctld", "slurmd"))
        try:
            self._start_munge(timeout_seconds)
            self._start_mariadb(timeout_seconds)
            self._start_slurmdbd(timeout_seconds)
            self._add_cluster(timeout_seconds)
            self._write_slurm_conf()
            self._start_slurm(timeout_seconds)
        except BaseException:
            self.stop(keep=True)
            raise
        finally:
            self._ports.close()
        self.start_seconds = time.monotonic() - begin
        return self

    def stop(self, *, keep: bool = False, grace_seconds: float = 5.0) -> None:
        """Stop every daemon by its PID (SIGTERM, then SIGKILL), then remove the folder.

        Args:
            keep: Leave the folder (logs) in place.
            grace_seconds: How long each daemon gets after SIGTERM.
        """
        for name in reversed(DAEMONS):
            pid = self._pid(name)
            if pid is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace_seconds
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _pid_alive(pid):  # slurmd may ignore SIGTERM once slurmctld is gone
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
            (self.root / f"{name}.pid").unlink(missing_ok=True)
        self._kill_job_processes()
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def running(self) -> dict[str, bool]:
        """Daemon name -> whether its PID is alive."""
        return {name: (pid := self._pid(name)) is not None and _pid_alive(pid)
                for name in DAEMONS}

    def run(self, *args: str, timeout_seconds: float = 10.0,
            check: bool = True) -> subprocess.CompletedProcess:
        """Run a Slurm client command against this cluster (with a timeout)."""
        return subprocess.run(
            ["timeout", str(timeout_seconds), *args], capture_output=True, text=True,
            env=_env(self.env()), check=check,
        )

    # ------------------------------------------------------------------ steps
    def _start_munge(self, timeout_seconds: float) -> None:
        folder = self.munge_socket.parent
        folder.mkdir(exist_ok=True)
        os.chmod(folder, 0o755)  # munge refuses a socket dir others cannot traverse
        key = self.root / "munge.key"
        if not key.exists():
            subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True,
                           capture_output=True, timeout=30, env=_env())
        os.chmod(key, 0o600)
        self._spawn("munged", ["munged", "--foreground", "--force", f"--socket={self.munge_socket}",
                               f"--key-file={key}", f"--pid-file={self.root / 'munged.pidfile'}",
                               f"--log-file={self.root / 'munged.log'}",
                               f"--seed-file={self.root / 'munged.seed'}"])
        self._wait("munged", lambda: self.munge_socket.exists(), timeout_seconds,
                   self.root / "munged.log")

    def _start_mariadb(self, timeout_seconds: float) -> None:
        data = self.root / "db"
        self.db_port = self._ports.ports["db"]
        self.db_socket = self.root / "mysqld.sock"
        log = self.root / "mariadbd.log"
        if not (data / "mysql").exists():
            subprocess.run(
                ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                 "--auth-root-authentication-method=normal", "--skip-test-db"],
                check=True, capture_output=True, timeout=120, env=_env(),
            )
        self._ports.release("db")
        self._spawn("mariadbd", [
            "mariadbd", "--no-defaults", f"--datadir={data}", "--user=root",
            "--bind-address=127.0.0.1", f"--port={self.db_port}", f"--socket={self.db_socket}",
            f"--log-error={log}", f"--pid-file={self.root / 'mariadbd.pidfile'}",
            "--skip-log-bin", "--innodb-buffer-pool-size=32M", "--max-connections=50",
            "--performance-schema=OFF",
        ])
        self._wait("mariadbd", lambda: _port_open(self.db_port), timeout_seconds, log)

    def _start_slurmdbd(self, timeout_seconds: float) -> None:
        self.dbd_port = self._ports.ports["dbd"]
        conf = self.root / "slurmdbd.conf"
        conf.write_text("\n".join([
            "AuthType=auth/munge",
            f"AuthInfo=socket={self.munge_socket}",
            "DbdAddr=127.0.0.1",
            f"DbdHost={self.hostname}",
            f"DbdPort={self.dbd_port}",
            "SlurmUser=root",
            "StorageType=accounting_storage/mysql",
            "StorageHost=127.0.0.1",
            f"StoragePort={self.db_port}",
            "StorageUser=root",
            f"StorageLoc=slurm_acct_{CLUSTER_NAME}",
            f"PidFile={self.root / 'slurmdbd.pidfile'}",
            f"LogFile={self.root / 'slurmdbd.log'}",
            "DebugLevel=info",
            "",
        ]))
        os.chmod(conf, 0o600)  # slurmdbd refuses a readable config (it may hold a password)
        self._ports.release("dbd")
        self._spawn("slurmdbd", ["slurmdbd", "-D"],
                    env={"SLURM_CONF": str(self.conf)})
        self._wait("slurmdbd", lambda: _port_open(self.dbd_port), timeout_seconds,
                   self.root / "slurmdbd.log")

    def _add_cluster(self, timeout_seconds: float) -> None:
        # sacctmgr reads slurm.conf for the dbd address: write a first version now
        self.ctld_port, self.slurmd_port = self._ports.ports["ctld"], self._ports.ports["slurmd"]
        self._write_slurm_conf()
        deadline = time.monotonic() + timeout_seconds
        while True:
            done = self.run("sacctmgr", "-i", "add", "cluster", CLUSTER_NAME, check=False)
            listed = self.run("sacctmgr", "-n", "-P", "list", "cluster", "format=cluster",
                              check=False)
            if CLUSTER_NAME in listed.stdout.split():
                return
            if time.monotonic() > deadline:
                raise SlurmStartError(f"sacctmgr could not add cluster {CLUSTER_NAME}: "
                                      f"{done.stderr.strip()} (see {self.root}/slurmdbd.log)")
            time.sleep(0.5)

    def _start_slurm(self, timeout_seconds: float) -> None:
        (self.root / "state").mkdir(exist_ok=True)
        (self.root / "spool").mkdir(exist_ok=True)
        env = {"SLURM_CONF": str(self.conf)}
        self._ports.release("ctld")
        self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)], env=env)
        self._wait("slurmctld", lambda: self.run("scontrol", "ping", check=False,
                                                 timeout_seconds=3).stdout.count("UP") > 0,
                   timeout_seconds, self.root / "slurmctld.log")
        self._ports.release("slurmd")
        self._spawn("slurmd", ["slurmd", "-D", "-f", str(self.conf)], env=env)
        self._wait("slurmd", self._node_idle, timeout_seconds, self.root / "slurmd.log")

    def _node_idle(self) -> bool:
        out = self.run("sinfo", "-h", "-N", "-o", "%T", check=False, timeout_seconds=3).stdout
        return any(state.startswith("idle") for state in out.split())

    def _write_slurm_conf(self) -> None:
        cpus = os.cpu_count() or 1
        memory_mb = _real_memory_mb()
        self.conf.write_text("\n".join([
            f"ClusterName={CLUSTER_NAME}",
            f"SlurmctldHost={self.hostname}(127.0.0.1)",
            f"SlurmctldPort={self.ctld_port}",
            f"SlurmdPort={self.slurmd_port}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            f"AuthInfo=socket={self.munge_socket}",
            "CredType=cred/munge",
            f"StateSaveLocation={self.root / 'state'}",
            f"SlurmdSpoolDir={self.root / 'spool'}",
            f"SlurmctldPidFile={self.root / 'slurmctld.pidfile'}",
            f"SlurmdPidFile={self.root / 'slurmd.pidfile'}",
            f"SlurmctldLogFile={self.root / 'slurmctld.log'}",
            f"SlurmdLogFile={self.root / 'slurmd.log'}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "MpiDefault=none",
            "MailProg=/bin/true",
            "ReturnToService=2",
            "SchedulerParameters=sched_interval=1",
            "KillWait=2",
            "MinJobAge=300",
            "InactiveLimit=0",
            "AccountingStorageType=accounting_storage/slurmdbd",
            "AccountingStorageHost=127.0.0.1",
            f"AccountingStoragePort={self.dbd_port}",
            # the slurmdbd connection ignores AuthInfo and takes the munge socket from here
            f"AccountingStoragePass={self.munge_socket}",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/none",
            f"NodeName={self.hostname} NodeAddr=127.0.0.1 CPUs={cpus} "
            f"RealMemory={memory_mb} State=UNKNOWN",
            f"PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
            "",
        ]))

    # ------------------------------------------------------------------ plumbing
    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.root / f"{name}.out", "ab")  # closed once the child has it
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                env=_env(env), start_new_session=True,
                                cwd=self.root)
        log.close()
        (self.root / f"{name}.pid").write_text(str(proc.pid))

    def _pid(self, name: str) -> int | None:
        try:
            return int((self.root / f"{name}.pid").read_text())
        except (OSError, ValueError):
            return None

    def _wait(self, name: str, ready, timeout_seconds: float, log: Path) -> None:
        deadline = time.monotonic() + timeout_seconds
        while not ready():
            pid = self._pid(name)
            if pid is None or not _pid_alive(pid):
                raise SlurmStartError(f"{name} exited during start-up; see {log} and "
                                      f"{self.root / (name + '.out')}")
            if time.monotonic() > deadline:
                raise SlurmStartError(f"{name} not ready after {timeout_seconds:.0f} s; see {log}")
            time.sleep(0.2)

    def _kill_job_processes(self) -> None:
        """SIGKILL leftover job processes of this cluster (slurmstepd and the jobs' programs).

        They are recognised by ``SLURM_CONF=<this cluster's slurm.conf>`` in their initial
        environment together with a job id (or being slurmstepd); this process and its
        ancestors are never touched.
        """
        marker = f"SLURM_CONF={self.conf}".encode()
        spared = _ancestors()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) in spared:
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes()
                environ = (proc / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            is_job = cmdline.startswith(b"slurmstepd") or any(
                v.startswith(b"SLURM_JOB_ID=") for v in environ)
            if marker in environ and is_job:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(proc.name), signal.SIGKILL)


def _ancestors() -> set[int]:
    """PIDs of this process and its parents."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def _real_memory_mb() -> int:
    """Node memory as slurmd -C reports it (MB), falling back to /proc/meminfo."""
    try:
        out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, timeout=10,
                             env=_env()).stdout
        for field in out.split():
            if field.startswith("RealMemory="):
                return int(field.split("=", 1)[1])
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("dir", nargs="?", help="cluster folder (up: default a new temp dir)")
    args = parser.parse_args(argv)
    if args.action == "up":
        root = Path(args.dir or tempfile.mkdtemp(prefix="hasbench-slurm-"))
        try:
            cluster = LocalSlurm(root).start()
        except SlurmStartError as err:
            print(f"slurm_local: {err}", file=sys.stderr)
            return 1
        print(f"# single-node Slurm up in {cluster.start_seconds:.1f} s; stop with: "
              f"python tests/slurm_local.py down {root}", file=sys.stderr)
        print(f"export SLURM_CONF={cluster.conf}")
        return 0
    if not args.dir:
        parser.error(f"{args.action} needs the cluster folder")
    cluster = LocalSlurm(args.dir)
    if args.action == "down":
        cluster.stop()
        return 0
    for name, alive in cluster.running().items():
        print(f"{name:10s} {'running' if alive else 'stopped'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

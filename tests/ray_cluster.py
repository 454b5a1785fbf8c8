"""A local Ray cluster of a test's own, for the tests that train on Ray (tests/test_ray_training.py and the browser's
tests/e2e/test_ray_lost.py): started as `ray start --head` starts one, and stopped by killing its processes and no
other Ray's on the machine."""

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from digitcnn.jobs import ray_training


class LocalCluster:
    """A two-CPU Ray cluster of a test's own, started and stopped as `ray start --head` and
    `ray stop --force` would, its processes told from any other Ray on the machine by a variable of their
    environment."""

    def __init__(self, folder: Path, **environment: str):
        self.folder, self.environment = folder, environment
        self.mark = f"DIGITCNN_TEST_CLUSTER={uuid.uuid4().hex}"
        self.port, self.client_port, self.agent_port = free_ports(3)
        self.address = f"127.0.0.1:{self.port}"
        self.client_address = f"ray://127.0.0.1:{self.client_port}"

    def start(self) -> None:
        name, value = self.mark.split("=")
        subprocess.run(["ray", "start", "--head", f"--port={self.port}", f"--ray-client-server-port={self.client_port}",
                        f"--dashboard-agent-listen-port={self.agent_port}", "--num-cpus=2", "--include-dashboard=false",
                        "--disable-usage-stats", f"--temp-dir={self.folder}", "--node-ip-address=127.0.0.1"],
                       check=True, capture_output=True, timeout=120, env={**os.environ, **self.environment, name: value})

    def stop(self) -> None:
        """Kill every process of the cluster at once, as `ray stop --force` does (but only this cluster's)."""
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        assert wait_until(lambda: not self.processes(), 10)

    def processes(self, title: str = "") -> list[int]:
        """The ids of the cluster's processes whose command line starts with ``title``."""
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if (entry.name.isdigit() and self.mark.encode() in (entry / "environ").read_bytes().split(b"\0")
                        and (entry / "cmdline").read_bytes().startswith(title.encode())):
                    found.append(int(entry.name))
            except OSError:  # the process ended while we looked, or is not ours to read
                continue
        return found

    def training_workers(self) -> list[int]:
        """The cluster's workers that are training (Ray titles them after the task)."""
        return self.processes(f"ray::{ray_training.TASK_NAME}")


def free_ports(count: int) -> list[int]:
    """``count`` loopback ports free at the moment."""
    sockets = [socket.socket() for _ in range(count)]
    for each in sockets:
        each.bind(("127.0.0.1", 0))
    ports = [each.getsockname()[1] for each in sockets]
    for each in sockets:
        each.close()
    return ports


def wait_until(condition, seconds: float) -> bool:
    """Whether ``condition()`` came true within ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True

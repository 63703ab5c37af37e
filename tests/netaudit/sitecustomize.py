"""Network audit for tests: on PYTHONPATH, every Python process started by a test (Airflow, the task
runners, dbt) records and refuses any connection or name lookup that leaves this machine.

An audit hook sees ``socket.connect``/``socket.getaddrinfo``/``socket.sendto`` before the system call;
raising there aborts the call, so nothing is ever sent. Each refused target is appended to the file
named by ``DANGO_NET_AUDIT_LOG``, and each process writes one ``armed`` line when the hook is in place.
"""

import ipaddress
import os
import socket
import sys

_LOG = os.environ.get("DANGO_NET_AUDIT_LOG")
_LOCAL_NAMES = {"", "localhost", "localhost.localdomain", "ip6-localhost", socket.gethostname(), socket.getfqdn()}


def _write(line: str) -> None:
    with open(_LOG, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def _local(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip("[]")
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _hook(event, args):
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event in ("socket.connect", "socket.sendto"):
        target = args[1]
        if not isinstance(target, tuple):  # a Unix socket path
            return
        host = target[0]
    else:
        return
    if not _local(host):
        _write(f"refused {event} {host!r} pid={os.getpid()} argv={' '.join(sys.argv[:3])}")
        raise PermissionError(f"network audit: {event} to {host!r} refused (tests stay on this machine)")


if _LOG:
    sys.addaudithook(_hook)
    _write(f"armed pid={os.getpid()} argv={' '.join(sys.argv[:3])}")

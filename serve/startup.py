"""What `risk serve` checks before it serves, so a bad start is one line and exit code 4.

uvicorn meets a certificate and key that do not fit (say, swapped) with a traceback, and a busy
port with its own exit code; both are settings the user gives, so both become `ConfigError`
here: the TLS pair is loaded once up front, and the listening socket is bound by us and handed
to uvicorn.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import ssl
from pathlib import Path

from risk.errors import ConfigError


def check_tls(certfile: Path | None, keyfile: Path | None) -> None:
    """Both files or neither; both readable PEM files holding a certificate and its key."""
    if (certfile is None) != (keyfile is None):
        raise ConfigError("TLS needs both --certfile and --keyfile (or neither, for plain HTTP)")
    if certfile is None or keyfile is None:
        return
    for path in (certfile, keyfile):
        if not Path(path).is_file():
            raise ConfigError(f"{path}: file not found; give the PEM certificate and key files")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(certfile), str(keyfile))
    except (ssl.SSLError, OSError, ValueError):
        swapped = _pem_holds(keyfile, "CERTIFICATE") and _pem_holds(certfile, "PRIVATE KEY")
        why = "they look swapped" if swapped else "the key does not belong to the certificate"
        raise ConfigError(
            f"--certfile {certfile} and --keyfile {keyfile} are not a TLS certificate and its "
            f"private key ({why}); fix: give the certificate (BEGIN CERTIFICATE) to "
            "--certfile and its private key (BEGIN ... PRIVATE KEY) to --keyfile"
        ) from None


def _pem_holds(path: Path, label: str) -> bool:
    try:
        text = Path(path).read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return f"-----BEGIN {label}" in text or (label == "PRIVATE KEY" and "PRIVATE KEY-----" in text)


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host:port`` (as uvicorn binds it); `ConfigError` in words
    when the port is taken, not ours to use, or the address is not this machine's."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a port number; give one in 1..65535")
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET  # a host name such as localhost
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use (another `risk serve`?); fix: stop "
                "that service or pass another --port"
            ) from None
        if exc.errno == errno.EACCES:
            raise ConfigError(
                f"port {port} on {host} needs privileges this user lacks; fix: pass --port 1024 "
                "or above (e.g. 8000)"
            ) from None
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); fix: give --host as an "
            "address of this machine (e.g. 127.0.0.1) and a free --port"
        ) from None
    sock.set_inheritable(True)
    return sock


__all__ = ["bind", "check_tls"]

"""A real Dovecot IMAP server (Debian's dovecot-imapd) for the mailbox tests, started as a subprocess with its own
configuration in a temporary directory: 127.0.0.1 on a free port, passwd-file users with plain passwords,
maildir mail, no TLS. Run as root, the mail itself belongs to `nobody` (Dovecot refuses mail access as root).

Tests deliver mail with IMAP APPEND, as a mail client or an MTA's copy to Sent would."""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

DOVECOT = "/usr/sbin/dovecot"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dovecot:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kontor-dovecot-"))
        self.port = free_port()
        self.host = "127.0.0.1"
        self.users: dict[str, str] = {}
        self.process: subprocess.Popen[bytes] | None = None
        if os.getuid() == 0:
            mail_user = pwd.getpwnam("nobody")
            self.uid, self.gid = mail_user.pw_uid, mail_user.pw_gid
            internal, login = "dovecot", "dovenull"
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
            internal = login = pwd.getpwuid(os.getuid()).pw_name

        self.internal, self.login = internal, login

    def _config(self) -> str:
        d = self.dir
        return f"""
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {self.internal}
default_internal_group = {grp.getgrgid(pwd.getpwnam(self.internal).pw_gid).gr_name}
default_login_user = {self.login}
first_valid_uid = {min(self.uid, 1)}
first_valid_gid = 0
mail_location = maildir:{d}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users/%u
}}
userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={d}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}
"""

    def _write_passwd(self) -> None:
        # One passwd-file per user (the path names the user): a user added later is a file Dovecot has not read
        # yet, whereas a shared file changed within the second of its last check would not be read again.
        users = self.dir / "users"
        users.mkdir(exist_ok=True)
        for name, password in self.users.items():
            path = users / name
            path.write_text(f"{name}:{{PLAIN}}{password}::::::\n")
            os.chmod(path, 0o644)

    def start(self) -> None:
        for sub in ("run", "state", "mail"):
            (self.dir / sub).mkdir(exist_ok=True)
        os.chmod(self.dir, 0o755)
        os.chown(self.dir / "mail", self.uid, self.gid)
        self._write_passwd()
        (self.dir / "dovecot.conf").write_text(self._config())
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.dir / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                errors = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"dovecot stopped: {errors} {self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def add_user(self, name: str, password: str) -> None:
        """A mailbox (read by the server at each login: no restart)."""
        self.users[name] = password
        self._write_passwd()

    def client(self, name: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(name, self.users[name])
        return client

    def append(self, name: str, raw: bytes, *, folder: str = "INBOX") -> None:
        """Deliver a message into a folder of `name`'s mailbox."""
        client = self.client(name)
        try:
            if folder != "INBOX":
                client.create(f'"{folder}"')  # NO when it exists: fine
            typ, data = client.append(f'"{folder}"', None, None, raw)
            assert typ == "OK", data
        finally:
            client.logout()

    def count(self, name: str, folder: str = "INBOX") -> int:
        client = self.client(name)
        try:
            typ, data = client.select(f'"{folder}"', readonly=True)
            return int(data[0]) if typ == "OK" else 0
        finally:
            client.logout()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A running Dovecot for the session (skipped where Debian's dovecot-imapd is not installed: `make dovecot`)."""
    if not os.path.exists(DOVECOT):
        pytest.skip("dovecot is missing: run 'make dovecot' (apt-get install -y dovecot-imapd)")
    server = Dovecot()
    server.start()
    yield server
    server.stop()

"""A real PostgreSQL for the tests, started on 127.0.0.1 from Debian's `postgresql` package (.ci/run installs it).

initdb refuses to run as root: as root the server runs as `nobody` on a folder nobody owns. Up in about 2 s; one
server for the whole run, a fresh empty schema for each test.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile

import sqlalchemy as sa

USER = "cnnlab"


def binaries():
    """The folder of initdb and pg_ctl (the newest installed PostgreSQL), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(found[-1]) if found else None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """initdb, pg_ctl start; url; stop() removes it all."""

    def __init__(self):
        self.bin = binaries()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (see .ci/run)")
        self.folder = tempfile.mkdtemp(prefix="cnnlab-pg-")
        self.data = os.path.join(self.folder, "data")
        self.port = _free_port()
        self.as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.folder, "nobody")
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", USER, "--no-sync", "-E", "UTF8")
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.folder, "log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        self.url = f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, program, *args):
        subprocess.run([*self.as_user, os.path.join(self.bin, program), *args], check=True, cwd=self.folder,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def empty(self):
        """Drop every table: the next test starts from an empty database."""
        engine = sa.create_engine(self.url)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()

    def stop(self):
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

"""Throwaway MariaDB server for rowcast's integration tests and benchmarks.

Usage:

    from mariadb_sandbox import MariaDBSandbox

    with MariaDBSandbox(extra_args=["--log-bin-compress=ON"]) as db:
        db.sql("CREATE DATABASE t")
        rows = db.query("SELECT 1, 'a'")      # [['1', 'a']]
        files = db.binlog_files()             # absolute paths, oldest first
        db.restart()                          # shut down, start again: same datadir and port
        db.restart(kill=True)                 # the same after a crash (SIGKILL)

Every sandbox gets its own temporary directory (data dir, socket, binlogs, error log) and a
free loopback port; nothing depends on a server someone else left running, and the directory
is removed when the context manager exits, also on exceptions.  Set
ROWCAST_KEEP_SANDBOX=1 in the environment to keep the directory for post-mortem inspection.

Only the Python standard library is used (Debian's /usr/bin/python3).
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

__all__ = ["MariaDBSandbox", "SandboxError", "find_tool", "mariadb_missing"]


class SandboxError(RuntimeError):
    pass


def find_tool(*names):
    """Return the first of `names` found on PATH (or in /usr/sbin, /usr/bin), else raise."""
    extra = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
    path = os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(extra)
    for name in names:
        found = shutil.which(name, path=path)
        if found:
            return found
    raise SandboxError("none of %s found on PATH" % ", ".join(names))


def mariadb_missing(*more):
    """What a test that starts a server lacks, or None: the server, mariadb-install-db, the client,
    and each of `more` (a tuple of names, e.g. ("mariadb-dump", "mysqldump")). The tests print it
    after SKIP and exit 77."""
    tools = (("mariadbd", "mysqld"), ("mariadb-install-db", "mysql_install_db"), ("mariadb", "mysql")) + more
    try:
        for names in tools:
            find_tool(*names)
    except SandboxError as e:
        return "MariaDB is not installed (%s)" % e
    return None


def _free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _tail(path, n=40):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join(lines[-n:])


class MariaDBSandbox:
    """A private mariadbd with row-based binary logging enabled.

    extra_args: additional mariadbd options (e.g. ["--binlog-row-metadata=FULL"]).
    startup_timeout: seconds to wait for the server to accept connections.
    base_dir: parent directory for the temporary directory (default: $TMPDIR or /tmp).
    """

    BINLOG_BASENAME = "mariadb-bin"

    def __init__(self, extra_args=None, startup_timeout=60.0, base_dir=None,
                 keep=None, binlog_dir=None):
        self.extra_args = list(extra_args or [])
        self.startup_timeout = startup_timeout
        self.base_dir = base_dir
        self.keep = keep if keep is not None else bool(os.environ.get("ROWCAST_KEEP_SANDBOX"))
        self.binlog_dir_override = binlog_dir
        self.proc = None
        self.tmpdir = None
        self.port = None
        self.mariadbd = find_tool("mariadbd", "mysqld")
        self.install_db = find_tool("mariadb-install-db", "mysql_install_db")
        self.client = find_tool("mariadb", "mysql")
        self.admin = find_tool("mariadb-admin", "mysqladmin")

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        return False

    def start(self):
        self.tmpdir = tempfile.mkdtemp(prefix="rowcast-mariadb-", dir=self.base_dir)
        self.datadir = os.path.join(self.tmpdir, "data")
        self.binlog_dir = self.binlog_dir_override or os.path.join(self.tmpdir, "binlog")
        os.makedirs(self.binlog_dir, exist_ok=True)
        self.socket = os.path.join(self.tmpdir, "mariadb.sock")
        self.pidfile = os.path.join(self.tmpdir, "mariadb.pid")
        self.error_log = os.path.join(self.tmpdir, "error.log")
        install_log = os.path.join(self.tmpdir, "install.log")
        if len(self.socket) > 100:  # sun_path is 108 bytes
            raise SandboxError("socket path too long: %s" % self.socket)

        # a private tmpdir: servers of concurrent tests must not share (and clean up) /tmp's
        # temporary tables
        private_tmp = os.path.join(self.tmpdir, "tmp")
        os.makedirs(private_tmp, exist_ok=True)
        common = [
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=16M",
            "--tmpdir=" + private_tmp,
            "--skip-name-resolve",
        ]
        with open(install_log, "wb") as log:
            r = subprocess.run(
                [self.install_db, "--no-defaults", "--user=root",
                 "--auth-root-authentication-method=normal",
                 "--datadir=" + self.datadir, "--skip-test-db",
                 "--skip-name-resolve"] + common[:3],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                timeout=120)
        if r.returncode != 0:
            raise SandboxError("mariadb-install-db failed (status %d):\n%s"
                               % (r.returncode, _tail(install_log)))

        self._launch()
        return self

    def _launch(self, port=None):
        """Start mariadbd on the prepared data directory: on `port` (a restart keeps its
        port), else on a free port, retried if it got taken between probe and bind."""
        common = [
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=16M",
            "--tmpdir=" + os.path.join(self.tmpdir, "tmp"),
            "--skip-name-resolve",
        ]
        last_err = None
        for _attempt in range(3 if port is None else 40):
            self.port = port or _free_port()
            args = [
                self.mariadbd, "--no-defaults", "--user=root",
                "--datadir=" + self.datadir,
                "--socket=" + self.socket,
                "--pid-file=" + self.pidfile,
                "--log-error=" + self.error_log,
                "--port=%d" % self.port,
                "--bind-address=127.0.0.1",
                "--skip-networking=0",
                "--log-bin=" + os.path.join(self.binlog_dir, self.BINLOG_BASENAME),
                "--binlog-format=ROW",
                "--server-id=1",
                "--innodb-flush-log-at-trx-commit=2",
                "--sync-binlog=0",
                "--skip-innodb-doublewrite",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci",
                "--max-connections=20",
                "--performance-schema=OFF",
                "--skip-slave-start",
            ] + common + self.extra_args
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL,
                                         start_new_session=True)
            log_start = os.path.getsize(self.error_log) if os.path.exists(self.error_log) else 0
            try:
                self._wait_ready()
                return self
            except SandboxError as e:
                last_err = e
                try:
                    with open(self.error_log, "rb") as f:
                        f.seek(log_start)
                        log = f.read().decode("utf-8", "replace")
                except OSError:
                    log = ""
                self._kill()
                if "Address already in use" not in log:
                    raise
                if port is not None:
                    time.sleep(0.25)  # our own port: wait until whoever holds it lets go
        raise last_err

    def _wait_ready(self):
        deadline = time.monotonic() + self.startup_timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise SandboxError("mariadbd exited with status %d during startup; error log "
                                   "%s (tail):\n%s" % (rc, self.error_log, _tail(self.error_log)))
            if os.path.exists(self.socket):
                r = subprocess.run(self._client_args() + ["-e", "SELECT 1"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, timeout=30)
                if r.returncode == 0:
                    return
            if time.monotonic() > deadline:
                raise SandboxError("mariadbd did not accept connections within %.0f s; error "
                                   "log %s (tail):\n%s"
                                   % (self.startup_timeout, self.error_log, _tail(self.error_log)))
            time.sleep(0.05)

    def _kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        self.proc = None

    def shutdown_server(self, kill=False):
        """Stop mariadbd but keep its data directory, binlogs and port for start_server():
        a clean shutdown (mariadb-admin shutdown), or SIGKILL with kill=True (a crash)."""
        if self.proc is None:
            return
        if kill:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=30)
            self.proc = None
            return
        if self.proc.poll() is None:
            r = subprocess.run([self.admin, "--no-defaults", "--user=root",
                                "--socket=" + self.socket, "shutdown"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, timeout=60)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                raise SandboxError("mariadbd did not shut down within 60 s (%s)"
                                   % r.stdout.decode("utf-8", "replace").strip())
        self.proc = None

    def start_server(self):
        """Start mariadbd again after shutdown_server(): same data directory, binlogs,
        socket and port."""
        if self.proc is not None and self.proc.poll() is None:
            raise SandboxError("mariadbd is still running")
        self._launch(port=self.port)

    def restart(self, kill=False, down_seconds=0.0):
        """shutdown_server(kill), `down_seconds` with no server, start_server()."""
        self.shutdown_server(kill=kill)
        if down_seconds > 0:
            time.sleep(down_seconds)
        self.start_server()

    def stop(self):
        """Shut the server down (mariadb-admin shutdown, then SIGTERM/SIGKILL) and remove the
        temporary directory.  Safe to call more than once."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                subprocess.run([self.admin, "--no-defaults", "--user=root",
                                "--socket=" + self.socket, "shutdown"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, timeout=30)
                self.proc.wait(timeout=30)
            except (subprocess.TimeoutExpired, OSError):
                pass
        self._kill()
        if self.tmpdir and not self.keep:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        elif self.tmpdir:
            print("mariadb_sandbox: kept %s" % self.tmpdir)
        self.tmpdir = None

    # ----------------------------------------------------------------- SQL

    def _client_args(self, database=None):
        a = [self.client, "--no-defaults", "--user=root", "--socket=" + self.socket,
             "--batch", "--raw", "--skip-column-names", "--default-character-set=utf8mb4"]
        if database:
            a.append("--database=" + database)
        return a

    def sql(self, statements, database=None, timeout=300):
        """Run SQL text (one or more ';'-separated statements) through the mariadb CLI.
        Returns the raw stdout as str; raises SandboxError with the CLI's error on failure."""
        if isinstance(statements, (list, tuple)):
            statements = ";\n".join(s.rstrip().rstrip(";") for s in statements) + ";\n"
        r = subprocess.run(self._client_args(database), input=statements.encode("utf-8"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        if r.returncode != 0:
            snippet = statements if len(statements) < 2000 else statements[:2000] + "..."
            raise SandboxError("mariadb client failed (status %d): %s\nSQL:\n%s"
                               % (r.returncode, r.stderr.decode("utf-8", "replace").strip(),
                                  snippet))
        return r.stdout.decode("utf-8", "surrogateescape")

    def query(self, statements, database=None, timeout=300):
        """Run SQL and return the result rows as lists of strings (tab-separated --raw output,
        so values must not contain tabs or newlines; wrap them in HEX() when they could)."""
        out = self.sql(statements, database=database, timeout=timeout)
        return [line.split("\t") for line in out.split("\n") if line != ""]

    def query_value(self, statement, database=None):
        rows = self.query(statement, database=database)
        return rows[0][0] if rows else None

    def sql_file(self, path, database=None, timeout=600):
        """Feed a (possibly large) SQL file to the client."""
        with open(path, "rb") as f:
            r = subprocess.run(self._client_args(database), stdin=f, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=timeout)
        if r.returncode != 0:
            raise SandboxError("mariadb client failed on %s (status %d): %s"
                               % (path, r.returncode, r.stderr.decode("utf-8", "replace")))
        return r.stdout.decode("utf-8", "surrogateescape")

    # ----------------------------------------------------------------- binlogs

    def binlog_files(self):
        """Absolute paths of the binlog files, oldest first (SHOW BINARY LOGS order)."""
        rows = self.query("SHOW BINARY LOGS")
        return [os.path.join(self.binlog_dir, r[0]) for r in rows]

    def flush_binlogs(self):
        self.sql("FLUSH BINARY LOGS")

    def master_status(self):
        """(file name, position) of the current end of the binlog."""
        rows = self.query("SHOW MASTER STATUS")
        return rows[0][0], int(rows[0][1])


if __name__ == "__main__":
    t0 = time.monotonic()
    with MariaDBSandbox() as db:
        print("started in %.2f s on port %d, %s" % (time.monotonic() - t0, db.port, db.tmpdir))
        print(db.query("SELECT VERSION(), @@binlog_format, @@log_bin"))
        db.flush_binlogs()
        print(db.binlog_files())
    print("total %.2f s" % (time.monotonic() - t0))

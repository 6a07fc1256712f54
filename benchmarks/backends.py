"""The servers behind the drivers, with the counters the benchmarks read.

* ZooKeeper: ``nova.tests.zkserver.ZooKeeperServer`` (the Debian package's
  server on a free loopback port); writes are the zxid delta (every
  transaction - create, delete, setData, session open and close - takes a
  zxid; pings and reads do not), requests the ``zk_packets_received`` delta.
* memcached: ``nova.tests.mcserver.MemcachedServer``; writes are the
  ``cmd_set`` delta of ``stats``.
* SQLite: a file in the job's scratch directory; heartbeat UPDATEs are the
  delta of SUM(report_count) of the services table (each db heartbeat is one
  UPDATE that adds 1 to its row's report_count).
* PostgreSQL: a throwaway cluster (initdb + pg_ctl, loopback port, trust
  authentication, run as the ``postgres`` user when we are root); a
  database per job; UPDATEs from SUM(report_count) and, as a cross-check,
  from ``pg_stat_user_tables.n_tup_upd`` (statistics that backends flush
  with a delay of up to a few seconds).
"""

from __future__ import print_function

import os
import pwd
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time

from benchmarks import common
from nova.tests import mcserver
from nova.tests import zkserver

PG_BIN = '/usr/lib/postgresql/15/bin'


# -- ZooKeeper ----------------------------------------------------------------

class ZooKeeper(zkserver.ZooKeeperServer):
    """The fixture's server (tick_time first; heap: the fixture's 256 MB is
    plenty for tests, a server holding 10,000 sessions needs more), with
    the counters the benchmarks read."""

    def srvr(self):
        fields = {}
        for line in self.four_letter('srvr').splitlines():
            key, sep, value = line.partition(':')
            if sep:
                fields[key.strip()] = value.strip()
        return fields

    def zxid(self):
        return int(self.srvr()['Zxid'], 16)

    def version(self):
        return self.srvr().get('Zookeeper version', '?').split(',')[0]

    def counters(self):
        stats = self.mntr()
        return {'zxid': self.zxid(),
                'packets_received': int(stats.get('zk_packets_received', 0)),
                'connections': int(stats.get('zk_num_alive_connections', 0)),
                'ephemerals': int(stats.get('zk_ephemerals_count', 0)),
                'znodes': int(stats.get('zk_znode_count', 0)),
                'cpu': common.cpu_seconds(self.pid),
                'rss': common.rss(self.pid),
                'time': time.time()}


# -- memcached ----------------------------------------------------------------

class Memcached(mcserver.MemcachedServer):
    """The fixture's server, with the counters the benchmarks read.

    max_conns: memcached accepts 1024 connections by default, and the mc
    driver holds one per worker (python-memcached's Client is thread-local,
    and under eventlet each green thread is a thread; a real nova-compute
    process has one heartbeat thread): 1,000 workers and a reader reach the
    limit.
    """

    def counters(self):
        stats = self.stats()
        return {'cmd_set': int(stats.get('cmd_set', 0)),
                'cmd_get': int(stats.get('cmd_get', 0)),
                'connections': int(stats.get('curr_connections', 0)),
                'max_connections': int(stats.get('max_connections', 0)),
                'rejected_connections': int(stats.get('rejected_connections',
                                                      0)),
                'cpu': common.cpu_seconds(self.pid),
                'rss': common.rss(self.pid),
                'time': time.time()}


# -- SQLite -------------------------------------------------------------------

class SQLite(object):
    def __init__(self, directory):
        self.path = os.path.join(directory, 'nova.sqlite')
        self.url = 'sqlite:///' + self.path
        self.pid = None

    def start(self):
        return self

    def version(self):
        return sqlite3.sqlite_version

    def _query(self, sql):
        conn = sqlite3.connect('file:%s?mode=ro' % self.path, uri=True,
                               timeout=30)
        try:
            return conn.execute(sql).fetchone()
        finally:
            conn.close()

    def counters(self):
        row = self._query('SELECT COALESCE(SUM(report_count), 0), COUNT(*) '
                          'FROM services')
        return {'report_count': int(row[0]), 'rows': int(row[1]),
                'time': time.time()}

    def cleanup(self):
        pass


# -- PostgreSQL ---------------------------------------------------------------

class PostgresUnavailable(Exception):
    pass


class _PgClient(object):
    """SQL through pg8000 to ``self.database`` (or another one)."""

    user, host, database = 'postgres', '127.0.0.1', 'postgres'

    def query(self, *statements, **kwargs):
        """Run the statements in one connection; their rows."""
        import pg8000.native
        conn = pg8000.native.Connection(
            self.user, host=self.host, port=self.port,
            database=kwargs.get('database') or self.database)
        try:
            return [conn.run(sql) for sql in statements]
        finally:
            conn.close()

    def version(self):
        return self.query('SHOW server_version')[0][0][0]


class PgCluster(_PgClient):
    """A throwaway PostgreSQL 15 cluster on a loopback port."""

    def __init__(self, bin_dir=PG_BIN, max_connections=400):
        self.bin_dir = bin_dir
        self.max_connections = max_connections
        self.port = None
        self.base = None
        self.data = None

    def _run_as(self):
        if os.geteuid() != 0:
            return []
        try:
            pwd.getpwnam('postgres')
        except KeyError:
            raise PostgresUnavailable('running as root and there is no '
                                      '"postgres" user to run PostgreSQL as')
        return ['runuser', '-u', 'postgres', '--']

    def start(self):
        for tool in ('initdb', 'pg_ctl', 'postgres'):
            if not os.path.exists(os.path.join(self.bin_dir, tool)):
                raise PostgresUnavailable('%s not found in %s (Debian package '
                                          'postgresql-15)' % (tool,
                                                              self.bin_dir))
        try:
            import pg8000  # noqa: F401
        except ImportError:
            raise PostgresUnavailable(
                'the Python driver pg8000 is not installed '
                '(benchmarks/requirements.txt)')
        prefix = self._run_as()
        self.base = tempfile.mkdtemp(prefix='nova-bench-pg-')
        if prefix:
            os.chmod(self.base, 0o755)
            shutil.chown(self.base, 'postgres')
        self.data = os.path.join(self.base, 'data')
        self.port = zkserver.free_port()
        out = subprocess.run(
            prefix + [os.path.join(self.bin_dir, 'initdb'), '-D', self.data,
                      '-A', 'trust', '-U', 'postgres', '-E', 'UTF8'],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if out.returncode != 0:
            raise PostgresUnavailable('initdb failed: %s'
                                      % out.stdout.decode()[-1000:])
        options = ('-p %d -k %s -c listen_addresses=127.0.0.1 '
                   '-c max_connections=%d -c shared_buffers=128MB'
                   % (self.port, self.base, self.max_connections))
        out = subprocess.run(
            prefix + [os.path.join(self.bin_dir, 'pg_ctl'), '-D', self.data,
                      '-l', os.path.join(self.base, 'server.log'), '-w',
                      '-t', '60', '-o', options, 'start'],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if out.returncode != 0:
            log = ''
            try:
                with open(os.path.join(self.base, 'server.log')) as f:
                    log = f.read()[-1000:]
            except IOError:
                pass
            raise PostgresUnavailable('pg_ctl start failed: %s %s'
                                      % (out.stdout.decode()[-1000:], log))
        return self

    def url(self, name):
        return 'postgresql+pg8000://postgres@127.0.0.1:%d/%s' % (
            self.port, name)

    def stop(self):
        if self.data and os.path.isdir(self.data):
            subprocess.run(self._run_as() + [
                os.path.join(self.bin_dir, 'pg_ctl'), '-D', self.data, '-m',
                'immediate', '-w', 'stop'],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self.base:
            shutil.rmtree(self.base, ignore_errors=True)
        self.base = self.data = None


class Postgres(_PgClient):
    """One database of a running cluster (given by its URL)."""

    def __init__(self, url):
        match = re.match(r'postgresql\+pg8000://(\w+)@([\d.]+):(\d+)/(\w+)$',
                         url)
        if not match:
            raise ValueError('unexpected PostgreSQL URL %r' % url)
        self.user, self.host, port, self.database = match.groups()
        self.port = int(port)
        self.url = url
        self.pid = None

    def start(self):
        pid = self.query('DROP DATABASE IF EXISTS %s' % self.database,
                         'CREATE DATABASE %s' % self.database,
                         "SELECT pid FROM pg_stat_activity WHERE "
                         "backend_type = 'checkpointer'",
                         database='postgres')[-1]
        # The postmaster is the checkpointer's parent.
        if pid:
            import psutil
            try:
                self.pid = psutil.Process(pid[0][0]).ppid()
            except Exception:
                self.pid = None
        return self

    def _server_cpu(self):
        """CPU seconds of the postmaster and all its backends."""
        import psutil
        if self.pid is None:
            return None
        try:
            parent = psutil.Process(self.pid)
            procs = [parent] + parent.children(recursive=True)
        except Exception:
            return None
        total = 0.0
        for proc in procs:
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except Exception:
                pass
        return total

    def counters(self):
        rows, _clear, upd, xact = self.query(
            'SELECT COALESCE(SUM(report_count), 0), COUNT(*) FROM services',
            'SELECT pg_stat_clear_snapshot()',
            "SELECT COALESCE(SUM(n_tup_upd), 0) FROM pg_stat_user_tables "
            "WHERE relname = 'services'",
            "SELECT xact_commit FROM pg_stat_database WHERE datname = '%s'"
            % self.database)
        return {'report_count': int(rows[0][0]), 'rows': int(rows[0][1]),
                'n_tup_upd': int(upd[0][0]) if upd else 0,
                'xact_commit': int(xact[0][0]) if xact else 0,
                'cpu': self._server_cpu(),
                'time': time.time()}

    def cleanup(self):
        try:
            self.query('DROP DATABASE IF EXISTS %s WITH (FORCE)'
                       % self.database, database='postgres')
        except Exception:
            pass


def start_servers(driver, workdir, db='sqlite', pg_url=None,
                  mc_max_conns=4096):
    """A job's servers, started: (backend, database).  The backend is the
    database itself for db; tooz has no database."""
    backend = database = None
    try:
        if driver in ('zk', 'tooz'):
            backend = ZooKeeper(2000).start()
        elif driver == 'mc':
            backend = Memcached(max_conns=mc_max_conns).start()
        if driver != 'tooz':
            database = (Postgres(pg_url) if db == 'pg'
                        else SQLite(workdir)).start()
        return backend or database, database
    except BaseException:
        common.cleanup(backend, database)
        raise


# -- nova.conf ----------------------------------------------------------------

def conf_sections(driver, report_interval=10, service_down_time=60,
                  zk_address=None, recv_timeout=4000, mc_address=None):
    """nova.conf's sections for a driver (and its server)."""
    default = {'servicegroup_driver': '"%s"' % driver,
               'report_interval': str(report_interval),
               'service_down_time': str(service_down_time)}
    sections = {'DEFAULT': default}
    if zk_address:
        sections['zookeeper'] = {'address': '"%s"' % zk_address,
                                 'recv_timeout': str(recv_timeout),
                                 'sg_retry_interval': '1'}
    if mc_address:
        default['memcached_servers'] = mc_address
    return sections


def nova_conf(directory, driver, db_url, name='nova.conf', **options):
    """Write the nova.conf of a job (``options``: conf_sections'); return
    its path."""
    from nova.tests.functional import cloud
    sections = conf_sections(driver, **options)
    sections['DEFAULT'].update(state_path=directory, sql_connection=db_url)
    path = os.path.join(directory, name)
    cloud.write_conf(path, sections)
    return path


def address_of(driver, backend):
    """nova_conf's zk_address or mc_address: the driver's server."""
    if driver in ('zk', 'mc'):
        return {driver + '_address': backend.address}
    return {}


def zk_conf(directory, zk, recv_timeout):
    """The nova.conf of a zk job without a database."""
    return nova_conf(directory, 'zk', 'sqlite:///' + os.path.join(
        directory, 'unused.db'), zk_address=zk.address,
        recv_timeout=recv_timeout)


def manage(conf_path, *args, **kwargs):
    """Run nova-manage with a nova.conf; return (rc, out, err, seconds)."""
    cmd = common.module_cmd('nova.cmd.manage', '--config-file', conf_path,
                            *args)
    started = time.time()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=common.env(), timeout=kwargs.get('timeout',
                                                               300))
    return (proc.returncode, proc.stdout.decode('utf-8', 'replace'),
            proc.stderr.decode('utf-8', 'replace'), time.time() - started)


def db_sync(conf_path):
    rc, out, err, _t = manage(conf_path, 'db', 'sync')
    if rc != 0:
        raise RuntimeError('nova-manage db sync failed: %s%s' % (out, err))

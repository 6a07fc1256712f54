#!/usr/bin/env python3
"""End-to-end: the zk ServiceGroup driver in real Nova 34.0.0 processes.

Starts, on loopback only and in a scratch directory:

* ZooKeeper (nova/tests/zkserver.py; short tickTime),
* RabbitMQ (nova/tests/rabbitserver.py; own node name, cookie, ports),
* Placement (openstack-placement under wsgiref, ``auth_strategy=noauth2``),
* SQLite databases for Nova's API DB, cell0 and cell1 (nova-manage),

then, per concurrency mode, ``nova-conductor`` and three ``nova-compute``
(FakeDriver, a host name each) with ``servicegroup_driver=zk``, and a watcher
process that reads liveness the way Nova does: ``nova.objects.ServiceList``
rows handed to ``nova.servicegroup.API().service_is_up``, every 50 ms.  The
mode is Nova 34's own switch, OS_NOVA_DISABLE_EVENTLET_PATCHING ('1':
native threads, nova-compute's default in 34; '0': eventlet), with the
matching ``[DEFAULT] concurrency_backend``; the watcher runs in the same
mode.  It checks:

* nova-conductor answers an RPC ping (the computes start after that: a
  ping sent before the conductor's queue exists is lost, and nova-compute
  would wait 10 s to ping again);
* all three computes come up, and Nova runs in the mode asked for;
* SIGKILL one: down within session timeout + tickTime + 1 s (the session
  timeout the server granted, as the C client logged it, else recv_timeout
  within 2 and 20 ticks: 2 s + 0.2 s + 1 s by default);
* SIGTERM another: down within 1 s;
* the operator's nova-zk-service-list (zkgroup's, when installed) shows
  those two XXX, the third and the conductor :-);
* those two stay down, and the third stays up all along.

The times are those between the signal and the watcher's first read that
says "down".  nova-compute gets no database connection (as in a
deployment); nova-conductor, nova-manage and the watcher do.

Usage:
    tools/nova34/e2e.py [--mode threading|eventlet|both]
                        [--python <venv>/bin/python] [--driver zk|db]
                        [--keep] [--timeout S]

--python names the interpreter of a virtualenv with Nova 34, Placement and
(for the zk driver) the patched-in driver; its bin/ holds nova-manage,
nova-conductor and nova-compute.  --driver db proves the setup without the
zk driver (there, SIGKILL and SIGTERM are noticed after service_down_time).
Each check is printed as it is made, with the measured seconds; the last
line is ``e2e: N passed, N failed``.  Exit status 0 when all passed.
Every process started is killed (by process group) and the scratch
directory removed at the end, also on failure, Ctrl-C, SIGTERM or
--timeout (default 240 s a mode; every wait in between has its own bound);
--keep keeps the directory (logs, configs, databases) and says where.
Only a SIGKILL of this script leaves its children behind (the watcher then
exits by itself).  --mode both shares the servers and databases (about
15 s of the run) between the two modes (about 13 s each): 42 s in all on
two otherwise idle cores, 50 to 70 s on a busy machine.

Internal sub-commands, run with --python: ``_placement`` (the WSGI server)
and ``_watch`` (the liveness reader).
"""

from __future__ import print_function

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DEFAULT_PYTHON = os.path.join(REPO, '.venv-nova34', 'bin', 'python')
MODES = ('threading', 'eventlet')
MODE_ENV = 'OS_NOVA_DISABLE_EVENTLET_PATCHING'
# Nova 34 reads OS_NOVA_DISABLE_EVENTLET_PATCHING first ('1': threading,
# '0': eventlet), then [DEFAULT] concurrency_backend; both are set, alike.
MODE_ENV_VALUE = {'threading': '1', 'eventlet': '0'}
WATCH_PREFIX = 'E2E-WATCH'
# The C client's line once the server has granted a session timeout (ms).
NEGOTIATED = re.compile(r'negotiated timeout=(\d+)')
# What Nova 34 writes on stderr when it monkey patches (and only then).
EVENTLET_WARNING = 'Eventlet based concurrency mode is deprecated'
GRACEFUL_SHUTDOWN = 5  # [DEFAULT] graceful_shutdown_timeout, seconds
# A mode takes 15 to 25 s after 15 to 25 s of shared set-up; inside a CI
# step's 300 s so that this script's own report (with the logs) comes first.
TIMEOUT_PER_MODE = 240


# ---------------------------------------------------------------------------
# Processes


class Proc(object):
    """A child in a session (and process group) of its own, its output in
    a log file; kill() takes the whole group."""

    def __init__(self, name, cmd, log_path, env=None, stdout_pipe=False,
                 cwd=None):
        self.name = name
        self.cmd = cmd
        self.log_path = log_path
        log = open(log_path, 'ab')
        try:
            self.popen = subprocess.Popen(
                cmd, env=env, stdin=subprocess.DEVNULL, cwd=cwd,
                stdout=subprocess.PIPE if stdout_pipe else log,
                stderr=log, start_new_session=True)
        finally:
            log.close()
        self.started = time.time()

    @property
    def pid(self):
        return self.popen.pid

    def running(self):
        return self.popen.poll() is None

    def signal(self, signum):
        if self.running():
            os.kill(self.popen.pid, signum)

    def wait(self, timeout):
        """The exit status, or None when still running after timeout."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except OSError:
            pass
        self.wait(10)
        if self.popen.stdout is not None:
            self.popen.stdout.close()

    def log_tail(self, lines=25):
        try:
            with open(self.log_path, errors='replace') as f:
                return ''.join(f.readlines()[-lines:])
        except (IOError, OSError):
            return ''


def wait_for(predicate, timeout, interval=0.1):
    """True as soon as predicate() is, False after timeout seconds."""
    deadline = time.time() + timeout
    while True:
        if predicate():
            return True
        if time.time() >= deadline:
            return False
        time.sleep(interval)


class Failure(Exception):
    pass


class Timeout(BaseException):
    """--timeout ran out (a BaseException: no check may swallow it)."""


# ---------------------------------------------------------------------------
# Configuration files (generated here; nothing of Nova's is copied)


def ini(sections):
    out = []
    for section, options in sections:
        out.append('[%s]' % section)
        out.extend('%s = %s' % (k, v) for k, v in options)
        out.append('')
    return '\n'.join(out)


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return path


def sqlite_url(path):
    return 'sqlite:///%s' % path


# ---------------------------------------------------------------------------
# The run


class Watcher(object):
    """The _watch child: reads its state lines in a thread."""

    def __init__(self, proc):
        self.proc = proc
        self.lock = threading.Lock()
        self.state = {}        # host -> 'up' | 'down' | 'absent'
        self.events = []       # (time, host, state)
        self.ready = False
        self.conductor_up = None
        self.mode = None
        self.error = None
        thread = threading.Thread(target=self._read, name='e2e-watch')
        thread.daemon = True
        thread.start()

    def _read(self):
        for raw in iter(self.proc.popen.stdout.readline, b''):
            line = raw.decode('utf-8', 'replace').split()
            if not line or line[0] != WATCH_PREFIX:
                continue
            with self.lock:
                if line[1] == 'ready':
                    self.ready = True
                elif line[1] == 'mode':
                    self.mode = line[2]
                elif line[1] == 'conductor':
                    self.conductor_up = float(line[2])
                elif line[1] == 'error':
                    self.error = ' '.join(line[2:])
                elif len(line) == 4:
                    stamp, host, state = float(line[1]), line[2], line[3]
                    self.state[host] = state
                    self.events.append((stamp, host, state))

    def states(self, hosts):
        with self.lock:
            return [self.state.get(h, 'absent') for h in hosts]

    def first_change(self, host, state, since):
        """The time at which host was first seen in state after since."""
        with self.lock:
            for stamp, h, s in self.events:
                if h == host and s == state and stamp >= since:
                    return stamp
        return None

    def changes_of(self, host, since):
        with self.lock:
            return [(t, s) for t, h, s in self.events
                    if h == host and t >= since]


class E2E(object):

    def __init__(self, args):
        self.args = args
        self.python = args.python
        self.bin_dir = os.path.dirname(args.python)
        self.base = tempfile.mkdtemp(prefix='nova34-e2e-')
        self.procs = []
        self.servers = []
        self.passed = 0
        self.failed = 0
        self.t0 = time.time()

    # -- reporting --

    def say(self, text):
        print('e2e %6.1fs %s' % (time.time() - self.t0, text))
        sys.stdout.flush()

    def check(self, mode, name, ok, detail):
        word = 'PASS' if ok else 'FAIL'
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        self.say('[%s] %s %s: %s' % (mode, word, name, detail))

    def dump_logs(self, procs):
        for proc in procs:
            tail = proc.log_tail()
            if tail:
                print('----- %s (%s), last lines -----\n%s'
                      % (proc.name, proc.log_path, tail.rstrip()))

    # -- processes --

    def spawn(self, name, cmd, env=None, stdout_pipe=False):
        # In the scratch directory: a checkout's nova/ in the working
        # directory must not shadow the installed Nova.
        proc = Proc(name, cmd, os.path.join(self.base, 'log', name + '.log'),
                    env=env, stdout_pipe=stdout_pipe, cwd=self.base)
        self.procs.append(proc)
        return proc

    def nova_env(self, mode):
        env = dict(os.environ)
        env[MODE_ENV] = MODE_ENV_VALUE[mode]
        # The watcher and the servers must not pick up a checkout's nova
        # (the project's Nova-shaped tree) instead of the installed one.
        env.pop('PYTHONPATH', None)
        env['PYTHONDONTWRITEBYTECODE'] = '1'
        return env

    def finish(self, proc, timeout):
        """Wait for a one-shot command; Failure unless it exits 0."""
        rc = proc.wait(max(1, timeout))
        if rc is None:
            proc.kill()
            raise Failure('%s did not finish within %ds\n%s'
                          % (proc.name, timeout, proc.log_tail()))
        self.procs.remove(proc)
        if rc != 0:
            raise Failure('%s exited %d\n%s'
                          % (proc.name, rc, proc.log_tail()))

    def binary(self, name):
        path = os.path.join(self.bin_dir, name)
        if not os.access(path, os.X_OK):
            raise Failure('%s not found next to %s' % (name, self.python))
        return path

    # -- shared servers --

    def make_servers(self):
        # The fixtures of this checkout, in this process only: the
        # sub-commands, run by --python, must see the installed Nova.
        sys.path.insert(0, REPO)
        from nova.tests.rabbitserver import RabbitMQServer
        from nova.tests.zkserver import free_port
        from nova.tests.zkserver import ZooKeeperServer

        self.zk = ZooKeeperServer(
            tick_time=self.args.tick_time,
            base_dir=os.path.join(self.base, 'zookeeper'))
        self.rabbit = RabbitMQServer(
            base_dir=os.path.join(self.base, 'rabbitmq'))
        self.servers = [self.zk, self.rabbit]
        self.placement_port = free_port()
        self.placement_url = 'http://127.0.0.1:%d' % self.placement_port

    def start_servers(self):
        started = time.time()
        # The BEAM and the JVM boot for seconds: side by side.
        self.rabbit.start(wait=False)
        self.zk.start(30)
        self.rabbit.wait_until_ready(60)
        self.say('ZooKeeper %s (tickTime %d ms) and RabbitMQ %s ready in '
                 '%.1fs' % (self.zk.address, self.args.tick_time,
                            self.rabbit.transport_url, time.time() - started))

    def start_placement(self):
        conf_dir = os.path.join(self.base, 'placement')
        os.makedirs(conf_dir)
        write(os.path.join(conf_dir, 'placement.conf'), ini([
            ('DEFAULT', [('debug', 'False'),
                         ('log_file', os.path.join(self.base, 'log',
                                                   'placement-app.log'))]),
            ('api', [('auth_strategy', 'noauth2')]),
            ('placement_database', [
                ('connection', sqlite_url(os.path.join(conf_dir,
                                                       'placement.db'))),
                ('sync_on_startup', 'True')]),
        ]))
        env = self.nova_env('threading')
        env['OS_PLACEMENT_CONFIG_DIR'] = conf_dir
        self.placement = self.spawn('placement', [
            self.python, os.path.abspath(__file__), '_placement',
            '--port', str(self.placement_port)], env=env)

    def wait_placement(self):
        proc = self.placement
        started = proc.started

        def answers():
            if not proc.running():
                raise Failure('placement exited %s\n%s'
                              % (proc.popen.poll(), proc.log_tail()))
            try:
                conn = socket.create_connection(
                    ('127.0.0.1', self.placement_port), 1)
            except (socket.error, socket.timeout):
                return False
            try:
                conn.sendall(b'GET / HTTP/1.0\r\n\r\n')
                conn.settimeout(5)
                return conn.recv(12).startswith(b'HTTP/1.0 200')
            except (socket.error, socket.timeout):
                return False
            finally:
                conn.close()
        if not wait_for(answers, 60, 0.2):
            raise Failure('placement did not answer within 60s\n%s'
                          % proc.log_tail())
        self.say('Placement %s ready in %.1fs'
                 % (self.placement_url, time.time() - started))

    def nova_conf(self):
        """nova.conf shared by every Nova process and nova-manage."""
        db = os.path.join(self.base, 'db')
        os.makedirs(db)
        self.cell0_url = sqlite_url(os.path.join(db, 'cell0.db'))
        self.conf_dir = os.path.join(self.base, 'etc')
        os.makedirs(self.conf_dir)
        default = [
            ('transport_url', self.rabbit.transport_url),
            ('state_path', os.path.join(self.base, 'state')),
            ('compute_driver', 'fake.FakeDriver'),
            ('servicegroup_driver', self.args.driver),
            ('report_interval', str(self.args.report_interval)),
            ('service_down_time', str(self.args.service_down_time)),
            ('debug', 'False'),
            ('use_stderr', 'False'),
            # Quick SIGTERM: no 60 s of graceful waiting in tear-down.
            ('graceful_shutdown_timeout', str(GRACEFUL_SHUTDOWN)),
        ]
        sections = [
            ('DEFAULT', default),
            ('placement', [('auth_type', 'admin_token'),
                           ('endpoint', self.placement_url),
                           ('token', 'admin')]),
            ('conductor', [('workers', '1')]),
            ('oslo_concurrency', [('lock_path', os.path.join(
                self.base, 'lock'))]),
            ('zookeeper', [('address', self.zk.address),
                           ('recv_timeout', str(self.args.recv_timeout))]),
        ]
        self.conf = write(os.path.join(self.conf_dir, 'nova.conf'),
                          ini(sections))
        # The databases only for those that have them in a deployment
        # (conductor, nova-manage, the watcher), not for nova-compute.
        self.db_conf = write(os.path.join(self.conf_dir, 'db.conf'), ini([
            ('api_database', [('connection', sqlite_url(
                os.path.join(db, 'api.db')))]),
            ('database', [('connection', sqlite_url(
                os.path.join(db, 'cell1.db')))]),
        ]))
        self.cell0_conf = write(os.path.join(self.conf_dir, 'cell0.conf'),
                                ini([('database',
                                      [('connection', self.cell0_url)])]))

    def manage(self, name, argv, conf=()):
        """Start one nova-manage command (in threading mode)."""
        cmd = [self.binary('nova-manage'), '--config-file', self.conf,
               '--config-file', self.db_conf]
        for path in conf:
            cmd += ['--config-file', path]
        return self.spawn('nova-manage-' + name, cmd + argv,
                          env=self.nova_env('threading'))

    def start_databases(self):
        """The schema syncs, side by side: the API DB, cell1, cell0."""
        self.db_started = time.time()
        self.syncs = [
            self.manage('api_db-sync', ['api_db', 'sync']),
            self.manage('cell1-sync', ['db', 'sync', '--local_cell']),
            self.manage('cell0-sync', ['db', 'sync', '--local_cell'],
                        conf=[self.cell0_conf]),
        ]

    def finish_databases(self, timeout=300):
        deadline = time.time() + timeout
        self.finish(self.syncs[0], deadline - time.time())
        # The cell mappings, in the API DB.  One after the other: side by
        # side, one waits seconds for SQLite's lock.
        self.finish(self.manage('map_cell0', [
            'cell_v2', 'map_cell0', '--database_connection',
            self.cell0_url]), deadline - time.time())
        self.finish(self.manage('create_cell', [
            'cell_v2', 'create_cell', '--name', 'cell1']),
            deadline - time.time())
        for proc in self.syncs[1:]:
            self.finish(proc, deadline - time.time())
        self.say('Nova API, cell0 and cell1 databases (SQLite) made in %.1fs'
                 % (time.time() - self.db_started))

    # -- one mode --

    def mode_conf(self, mode, host):
        """The per-process file that follows nova.conf on the command line.
        """
        state = os.path.join(self.base, 'state', host)
        os.makedirs(state, exist_ok=True)
        return write(os.path.join(self.conf_dir, '%s.conf' % host), ini([
            ('DEFAULT', [('host', host),
                         ('state_path', state),
                         ('instances_path', os.path.join(state, 'instances')),
                         ('concurrency_backend', mode)]),
        ]))

    def service(self, mode, binary, host):
        env = self.nova_env(mode)
        db = ['--config-file', self.db_conf] if binary != 'nova-compute' \
            else []
        argv = [self.binary(binary), '--config-file', self.conf] + db + [
                '--config-file', self.mode_conf(mode, host),
                '--log-file', os.path.join(self.base, 'log',
                                           '%s-%s.log' % (binary, host))]
        return self.spawn('%s-%s' % (binary, host), argv, env=env)

    def check_mode(self, mode, watcher, procs):
        """The watcher says which mode Nova chose in it; nova-compute
        says so on stderr only in eventlet mode (its deprecation warning).
        """
        warned = []
        for proc in procs:
            with open(proc.log_path, errors='replace') as f:
                warned.append(EVENTLET_WARNING in f.read())
        want = mode == 'eventlet'
        ok = watcher.mode == mode and warned == [want] * len(procs)
        self.check(mode, 'Nova runs in %s mode' % mode, ok,
                   'watcher: %s; computes %s the eventlet warning'
                   % (watcher.mode, 'all give' if all(warned) else
                      'none gives' if not any(warned) else
                      'not all give'))

    def limits(self, log_path=None):
        """(SIGKILL bound, SIGTERM bound) in seconds.

        The session timeout is the one the server granted, as the C client
        logged it in log_path ("negotiated timeout=N"); else recv_timeout
        within 2 and 20 ticks, as the server grants it.
        """
        if self.args.driver == 'db':
            # Down once the row is service_down_time old; a SIGTERMed
            # service goes on reporting through its graceful shutdown.
            bound = self.args.service_down_time + self.args.report_interval + 1
            return bound, bound + GRACEFUL_SHUTDOWN
        tick = self.args.tick_time / 1000.0
        session = min(max(self.args.recv_timeout / 1000.0, 2 * tick),
                      20 * tick)
        granted = None
        if log_path:
            with open(log_path, errors='replace') as f:
                granted = NEGOTIATED.findall(f.read())
        if granted:
            session = int(granted[-1]) / 1000.0
        return session + tick + 1.0, 1.0

    def run_mode(self, mode):
        failed_before = self.failed
        run = ModeRun(self, mode)
        try:
            run.checks()
        except Failure as e:
            self.check(mode, 'mode run', False, str(e))
        except Exception:  # this script's own error: say it, go on
            self.check(mode, 'mode run', False, traceback.format_exc())
        finally:
            if self.failed > failed_before:
                self.dump_logs(run.procs)
            for proc in run.procs:
                proc.kill()
                if proc in self.procs:
                    self.procs.remove(proc)
            self.say('[%s] done in %.1fs' % (mode, time.time() - run.started))

    def run(self, modes):
        self.sigkill_seconds = {}
        self.sigterm_seconds = {}
        try:
            os.makedirs(os.path.join(self.base, 'log'))
            self.make_servers()
            self.nova_conf()
            # All at once: the syncs are Python, the servers JVM and BEAM.
            self.start_databases()
            self.start_placement()
            self.start_servers()
            self.wait_placement()
            self.finish_databases()
        except Exception as e:  # a fixture's RuntimeError, NotInstalled...
            self.check('setup', 'servers and databases', False,
                       '%s: %s' % (type(e).__name__, e))
            return
        for mode in modes:
            self.run_mode(mode)

    def cleanup(self):
        for proc in reversed(self.procs):
            proc.kill()
        self.procs = []
        for server in self.servers:
            try:
                server.kill()
            except Exception as e:  # keep tearing down the rest
                self.say('cleanup: %s: %s' % (server, e))
        if self.args.keep:
            self.say('kept %s' % self.base)
        else:
            shutil.rmtree(self.base, ignore_errors=True)


class ModeRun(object):
    """One concurrency mode: a conductor, three computes, a watcher."""

    def __init__(self, e2e, mode):
        self.e2e = e2e
        self.mode = mode
        tag = {'threading': 'thr', 'eventlet': 'ev'}[mode]
        self.tag = tag
        self.hosts = ['e2e-%s-%d' % (tag, i) for i in (1, 2, 3)]
        self.procs = []
        self.computes = {}
        self.watcher = None
        self.stopped = set()   # names of the processes stopped on purpose
        self.started = time.time()

    def check(self, name, ok, detail):
        self.e2e.check(self.mode, name, ok, detail)
        return ok

    def alive(self):
        """True, or Failure when a process of this mode has exited."""
        for proc in self.procs:
            if not proc.running() and proc.name not in self.stopped:
                raise Failure('%s exited %s' % (proc.name,
                                                proc.popen.poll()))
        if self.watcher.error:
            raise Failure('watcher: %s' % self.watcher.error)
        return True

    def wait_check(self, name, predicate, timeout):
        try:
            ok = wait_for(lambda: self.alive() and predicate(), timeout,
                          0.05)
            detail = '%.1fs after start' % (time.time() - self.started)
        except Failure as e:
            ok, detail = False, str(e)
        return self.check(name, ok, detail)

    def start(self):
        e2e = self.e2e
        self.procs.append(e2e.service(self.mode, 'nova-conductor',
                                      'e2e-%s-cond' % self.tag))
        watch = e2e.spawn('watch-%s' % self.tag, [
            e2e.python, os.path.abspath(__file__), '_watch',
            '--config-file', e2e.conf, '--config-file', e2e.db_conf,
            '--hosts', ','.join(self.hosts),
            '--interval', str(e2e.args.poll)],
            env=e2e.nova_env(self.mode), stdout_pipe=True)
        self.procs.append(watch)
        self.watcher = Watcher(watch)
        if not self.wait_check('nova-conductor answers a ping',
                               lambda: self.watcher.conductor_up,
                               e2e.args.start_timeout):
            return False
        for host in self.hosts:
            self.computes[host] = e2e.service(self.mode, 'nova-compute',
                                              host)
            self.procs.append(self.computes[host])
        return self.wait_check(
            'all three computes up',
            lambda: self.watcher.states(self.hosts) == ['up'] * 3,
            e2e.args.start_timeout)

    def stop_one(self, host, signum, bound, grace, meanwhile=None):
        """Send signum to host's nova-compute; check it is seen down within
        bound seconds (waiting bound + grace at most).  meanwhile(): what
        to start once it is seen down, before waiting for the process to
        exit.  The time seen, the seconds it took, meanwhile's result."""
        proc = self.computes[host]
        self.stopped.add(proc.name)
        sent = time.time()
        proc.signal(signum)
        seen = None
        if wait_for(lambda: self.watcher.first_change(host, 'down', sent),
                    bound + grace, 0.02):
            seen = self.watcher.first_change(host, 'down', sent)
        started = meanwhile() if meanwhile else None
        rc = proc.wait(15)
        exited = time.time() - sent
        name = {signal.SIGKILL: 'SIGKILL', signal.SIGTERM: 'SIGTERM'}[signum]
        self.check('%s %s down within %.1fs' % (name, host, bound),
                   seen is not None and seen - sent <= bound,
                   'down after %s; process %s' % (
                       '%.2fs' % (seen - sent) if seen is not None
                       else 'never (%.0fs)' % (bound + grace),
                       'exited %s after %.1fs' % (rc, exited)
                       if rc is not None else 'still running after 15s'))
        return seen, None if seen is None else seen - sent, started

    def start_service_list(self):
        """The operator's view: nova-zk-service-list (zkgroup), started."""
        e2e = self.e2e
        command = [os.path.join(e2e.bin_dir, 'nova-zk-service-list')]
        proc = e2e.spawn('service-list-%s' % self.tag, command + [
            '--config-file', e2e.conf, '--config-file', e2e.db_conf],
            env=e2e.nova_env(self.mode), stdout_pipe=True)
        self.procs.append(proc)
        return proc

    def finish_service_list(self, proc, expected):
        """Check that it showed each host of ``expected`` with its State
        (``:-)`` or ``XXX``)."""
        if proc is None:
            return
        try:
            out = proc.popen.communicate(timeout=60)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            self.check('nova-zk-service-list', False, 'no answer in 60s')
            return
        shown = {}
        for line in out.decode('utf-8', 'replace').splitlines():
            words = line.split()
            if len(words) >= 5 and words[1] in expected:
                shown[words[1]] = ':-)' if ':-)' in words else (
                    'XXX' if 'XXX' in words else '?')
        self.check('nova-zk-service-list shows %s' % ', '.join(
                       '%s %s' % kv for kv in sorted(expected.items())),
                   proc.popen.returncode == 0 and shown == expected,
                   'exit %s, shows %s' % (proc.popen.returncode, shown))

    def checks(self):
        e2e = self.e2e
        if not self.start():
            return
        killed, termed, survivor = self.hosts
        watcher = self.watcher
        e2e.check_mode(self.mode, watcher,
                       [self.computes[h] for h in self.hosts])
        up_since = time.time()
        # A moment of quiet: no one goes down by itself.
        time.sleep(e2e.args.settle)
        changes = [(h, watcher.changes_of(h, up_since)) for h in self.hosts]
        changes = [c for c in changes if c[1]]
        if changes:
            # with what came just before: the state it came back from
            self.check('all stay up %.1fs' % e2e.args.settle, False,
                       'changes %s (since %.3f: %s)' % (
                           changes, up_since - 5, [
                               (h, watcher.changes_of(h, up_since - 5))
                               for h, _c in changes]))
        kill_bound, term_bound = e2e.limits(self.computes[killed].log_path)
        # SIGKILL: no goodbye; the session must expire.  SIGTERM: a
        # stopping service leaves at once.
        kill_seen, e2e.sigkill_seconds[self.mode], _ = self.stop_one(
            killed, signal.SIGKILL, kill_bound, 5)
        # The operator's view, started as soon as both are seen down.
        term_seen, e2e.sigterm_seconds[self.mode], listing = self.stop_one(
            termed, signal.SIGTERM, term_bound, 10, self.start_service_list)
        self.finish_service_list(listing, {
            killed: 'XXX', termed: 'XXX', survivor: ':-)',
            'e2e-%s-cond' % self.tag: ':-)'})
        # The two stopped ones must not come back.
        back = [(h, watcher.changes_of(h, since))
                for h, since in ((killed, kill_seen), (termed, term_seen))
                if since is not None]
        back = [(h, c) for h, c in back if len(c) > 1]
        states = watcher.states([killed, termed])
        self.check('%s and %s stay down' % (killed, termed),
                   not back and states == ['down'] * 2,
                   'states %s%s' % (dict(zip((killed, termed), states)),
                                    '; changes %s' % back if back else ''))
        # The third one, untouched, must never have been seen down.
        changes = watcher.changes_of(survivor, up_since)
        self.check('%s stayed up' % survivor,
                   watcher.states([survivor]) == ['up'] and not changes and
                   self.computes[survivor].running(),
                   '%.1fs, changes %s' % (time.time() - up_since,
                                          changes or 'none'))


def main(argv):
    parser = argparse.ArgumentParser(
        description='Real Nova 34 processes with the zk ServiceGroup driver.')
    parser.add_argument('--mode', choices=MODES + ('both',), default='both')
    parser.add_argument('--python', default=DEFAULT_PYTHON)
    parser.add_argument('--driver', choices=('zk', 'db'), default='zk')
    parser.add_argument('--tick-time', type=int, default=200,
                        help='ZooKeeper tickTime, ms (default 200)')
    parser.add_argument('--recv-timeout', type=int, default=2000,
                        help='[zookeeper] recv_timeout, ms (default 2000)')
    parser.add_argument('--report-interval', type=int, default=2)
    parser.add_argument('--service-down-time', type=int, default=6)
    parser.add_argument('--poll', type=float, default=0.05,
                        help='seconds between the watcher\'s reads')
    parser.add_argument('--settle', type=float, default=1.0,
                        help='seconds all three must stay up first')
    parser.add_argument('--start-timeout', type=float, default=120.0)
    parser.add_argument('--timeout', type=int, default=None,
                        help='the whole run, seconds (default %d a mode)'
                        % TIMEOUT_PER_MODE)
    parser.add_argument('--keep', action='store_true',
                        help='keep the scratch directory')
    args = parser.parse_args(argv)
    problem = preflight(args)
    if problem:
        print('e2e: %s' % problem)
        print('e2e: 0 passed, 1 failed')
        return 1
    modes = MODES if args.mode == 'both' else (args.mode,)
    if args.timeout is None:
        args.timeout = TIMEOUT_PER_MODE * len(modes)

    def on_alarm(signum, frame):
        raise Timeout()

    def on_term(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(args.timeout)
    run = E2E(args)
    try:
        run.run(modes)
    except Timeout:
        run.check('run', 'within --timeout %ds' % args.timeout, False,
                  'stopped')
        run.dump_logs(run.procs)
    except KeyboardInterrupt:
        run.check('run', 'not interrupted', False, 'interrupted')
        run.dump_logs(run.procs)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        run.cleanup()
    for mode in modes:
        if mode in run.sigkill_seconds:
            run.say('[%s] detection: SIGKILL %s, SIGTERM %s' % (
                mode, _secs(run.sigkill_seconds.get(mode)),
                _secs(run.sigterm_seconds.get(mode))))
    run.say('wall time %.1fs' % (time.time() - run.t0))
    print('e2e: %d passed, %d failed' % (run.passed, run.failed))
    return 0 if run.failed == 0 and run.passed else 1


def preflight(args):
    """What keeps the run from starting, in a sentence; None when nothing
    (seconds before the servers would have been started for nothing)."""
    if not os.access(args.python, os.X_OK):
        return ('no interpreter %s (build it with tools/nova34/build_venv.sh '
                'or pass --python)' % args.python)
    try:
        out = subprocess.run(
            [args.python, '-c', 'import sysconfig; '
             'print(sysconfig.get_paths()["purelib"])'],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
            cwd=tempfile.gettempdir()).stdout.decode('utf-8', 'replace')
    except (OSError, subprocess.TimeoutExpired) as e:
        return '%s does not run: %s' % (args.python, e)
    site = out.strip().splitlines()[-1] if out.strip() else ''
    args.site = site
    nova = os.path.join(site, 'nova')
    if not os.path.isdir(nova):
        return 'no Nova installed for %s (%s)' % (args.python, site)
    for binary in ('nova-manage', 'nova-conductor', 'nova-compute'):
        if not os.access(os.path.join(os.path.dirname(args.python), binary),
                         os.X_OK):
            return '%s not found next to %s' % (binary, args.python)
    if args.driver == 'zk' and not os.path.exists(
            os.path.join(nova, 'servicegroup', 'drivers', 'zk.py')):
        return ('the Nova of %s has no zk driver: run tools/patch_nova.py '
                '--python %s' % (args.python, args.python))
    return None


def _secs(value):
    return 'n/a' if value is None else '%.2fs' % value


# ---------------------------------------------------------------------------
# Sub-commands run by the Nova virtualenv's interpreter


def serve_placement(argv):
    """Placement's WSGI application under wsgiref, one request at a time
    (its SQLite database takes one writer; a few computes need no more)."""
    from wsgiref import simple_server

    parser = argparse.ArgumentParser(prog='e2e.py _placement')
    parser.add_argument('--port', type=int, required=True)
    args = parser.parse_args(argv)

    from placement.wsgi import api

    class Quiet(simple_server.WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = simple_server.make_server('127.0.0.1', args.port,
                                       api.application, handler_class=Quiet)
    sys.stderr.write('placement: serving on 127.0.0.1:%d\n' % args.port)
    sys.stderr.flush()
    server.serve_forever()


def watch(argv):
    """Print each compute's liveness as Nova's servicegroup API tells it.

    One line per change: ``E2E-WATCH <time> <host> up|down``; ``ready``
    once the API is built.  Exits when its parent is gone.
    """
    parser = argparse.ArgumentParser(prog='e2e.py _watch')
    parser.add_argument('--config-file', action='append', required=True)
    parser.add_argument('--hosts', required=True)
    parser.add_argument('--interval', type=float, default=0.05)
    args = parser.parse_args(argv)
    parent = os.getppid()
    hosts = args.hosts.split(',')

    # As a Nova command does: the concurrency mode first, from the
    # environment the parent set.
    from nova import monkey_patch
    monkey_patch.patch(backend='threading')
    from nova import config
    from nova import context
    from nova import objects
    from nova import servicegroup
    import nova.conf

    def emit(*words):
        sys.stdout.write(' '.join([WATCH_PREFIX] + [str(w) for w in words])
                         + '\n')
        sys.stdout.flush()
    try:
        argv = ['e2e-watch']
        for path in args.config_file:
            argv += ['--config-file', path]
        config.parse_args(argv)
        objects.register_all()
        api = servicegroup.API()
        ctxt = context.get_admin_context()
        refetch_always = nova.conf.CONF.servicegroup_driver == 'db'
    except Exception as e:
        emit('error', '%s: %s' % (type(e).__name__, e))
        raise
    emit('ready')
    from nova import utils
    emit('mode', 'threading' if utils.concurrency_mode_threading()
         else 'eventlet')
    ping_conductor(ctxt, parent)
    emit('conductor', '%.3f' % time.time())
    state = {}
    services = {}
    while os.getppid() == parent:
        if refetch_always or len(services) < len(hosts):
            rows = objects.ServiceList.get_by_binary(
                ctxt, 'nova-compute', include_disabled=True)
            services = dict((s.host, s) for s in rows if s.host in hosts)
        for host in hosts:
            service = services.get(host)
            if service is None:
                now = 'absent'
            else:
                try:
                    now = 'up' if api.service_is_up(service) else 'down'
                except Exception as e:
                    # The zk driver: unknown while its session is away.
                    now = 'unknown:%s' % type(e).__name__
            if state.get(host) != now:
                state[host] = now
                emit('%.3f' % time.time(), host, now)
        time.sleep(args.interval)


def ping_conductor(ctxt, parent):
    """Until nova-conductor answers an RPC ping (1 s per try).

    A ping sent before the conductor has declared its queue is dropped by
    RabbitMQ, and nova-compute's own first ping would then wait its full
    10 s: so the computes are started once this has returned.
    """
    import oslo_messaging
    from nova import baserpc
    from nova.conductor import rpcapi

    base_api = baserpc.BaseAPI(topic=rpcapi.RPC_TOPIC)
    while os.getppid() == parent:
        try:
            base_api.ping(ctxt, 'e2e', timeout=1)
            return
        except oslo_messaging.MessagingTimeout:
            pass


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '_placement':
        serve_placement(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == '_watch':
        watch(sys.argv[2:])
    else:
        sys.exit(main(sys.argv[1:]))

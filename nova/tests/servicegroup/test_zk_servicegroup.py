# vim: tabstop=4 shiftwidth=4 softtabstop=4

# Copyright (c) AT&T 2012-2013 Yun Mao <yunmao@gmail.com>
#
#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""Test the ZooKeeper driver for servicegroup, against a real ZooKeeper.

The server is started by nova.tests.zkserver on a loopback port; nothing
is skipped when a library is missing: the import error is the failure.

The same file runs on Python 3 with this project's ports of ``zookeeper``
and ``evzookeeper``, and on Python 2.7 with the originals (zkpython,
evzookeeper 0.4.0, eventlet 0.16.1; ``run_tests.sh --py27``).  Where an
original cannot do what the port does, the test says so and checks what the
original does deliver (``ORIGINAL_LIBS``).
"""

import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import eventlet
import evzookeeper
import fixtures
import zookeeper

import nova
from nova import exception
from nova import servicegroup
from nova import test
from nova.tests import zkserver

ZK = None
TMP_ROOT = tempfile.gettempdir()
TICK_MS = 200
RECV_TIMEOUT_MS = 1000
NOVA_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(nova.__file__)))


def _is_extension_module(module):
    path = getattr(module, '__file__', None) or ''
    return os.path.splitext(path)[1] in ('.so', '.pyd')


def _distribution_version(name):
    try:
        import pkg_resources
        return pkg_resources.get_distribution(name).version
    except Exception:
        return None


# zkpython's ``zookeeper`` is one C extension module; the port's is a
# package of Python code over cffi.  evzookeeper 0.4.0 has no state_name(),
# which the port adds.
ORIGINAL_LIBS = (_is_extension_module(zookeeper) and
                 not hasattr(evzookeeper, 'state_name'))
# zkpython 0.4.2 calls every watcher, the session watcher included, only
# once (tools/py27/NOTES.md); 0.4 calls it on every state change.
ONCE_ONLY_SESSION_WATCHER = (
    ORIGINAL_LIBS and
    (_distribution_version('zkpython') or '0.4') not in ('0.4', '0.4.0'))

HOLDER = """
import sys, time
import evzookeeper
from evzookeeper import membership
session = evzookeeper.ZKSession(sys.argv[1], timeout=10, recv_timeout=%d,
                                zklog_fd=open('/dev/null', 'w'))
try:
    session.create(sys.argv[2], b'', acl=[evzookeeper.ZOO_OPEN_ACL_UNSAFE])
except Exception:
    pass
try:
    session.create(sys.argv[2] + '/' + sys.argv[3], b'',
                   acl=[evzookeeper.ZOO_OPEN_ACL_UNSAFE])
except Exception:
    pass
member = membership.Membership(session, sys.argv[2] + '/' + sys.argv[3],
                               sys.argv[4])
sys.stdout.write('joined\\n')
sys.stdout.flush()
time.sleep(600)
""" % RECV_TIMEOUT_MS


# A nova worker: joins through the servicegroup API with the zk driver and
# keeps its green threads running (the Membership re-joins after an
# expiry) until it is killed.
WORKER = """
import logging
import sys
import eventlet
logging.basicConfig(level=logging.WARNING,
                    format='%(levelname)s %(name)s %(message)s')
try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg
from nova import servicegroup
from nova.servicegroup.drivers import zk  # noqa: the [zookeeper] options
CONF = cfg.CONF
CONF([], project='nova', default_config_files=[])
CONF.set_override('servicegroup_driver', 'zk')
address, recv_timeout, prefix, topic, host = sys.argv[1:6]
CONF.set_override('address', address, 'zookeeper')
CONF.set_override('recv_timeout', int(recv_timeout), 'zookeeper')
CONF.set_override('sg_prefix', prefix, 'zookeeper')
CONF.set_override('sg_retry_interval', 1, 'zookeeper')
servicegroup.API().join(host, topic)
sys.stdout.write('joined\\n')
sys.stdout.flush()
while True:
    eventlet.sleep(1)
"""


def wait_for(predicate, timeout, interval=0.05):
    """True once ``predicate`` holds, False when ``timeout`` runs out.

    Here rather than in nova.test: this file also runs, patched, in a
    Grizzly checkout whose TestCase has no such helper.
    """
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        eventlet.sleep(interval)
    return predicate()


# What a thread of the C client is doing when it waits: poll (its I/O
# thread), futex (its completion thread), and their variants (x86-64
# numbers, as /proc/PID/task/TID/syscall gives them).
_WAITING_SYSCALLS = frozenset(['7', '23', '202', '232', '270', '271', '281'])


def _other_threads_wait():
    """True when every other thread of this process is inside a waiting
    system call, so that none holds a lock of the C library."""
    me = str(getattr(threading, 'get_native_id', os.getpid)())
    tasks = '/proc/self/task'
    for tid in os.listdir(tasks):
        if tid == me:
            continue
        try:
            with open(os.path.join(tasks, tid, 'syscall')) as f:
                call = f.read().split(' ', 1)[0].strip()
        except (IOError, OSError):
            continue            # the thread ended
        if call not in _WAITING_SYSCALLS:
            return False
    return True


def fork_when_threads_wait(timeout=5.0):
    """os.fork() at a moment when the ZooKeeper C client's threads wait.

    glibc's getaddrinfo() is not fork-safe: the lock of its interface
    check (__check_pf) is copied locked into a child forked while another
    thread holds it, and the child's own first getaddrinfo() then waits for
    good.  The C client 3.8 resolves the servers at each turn of its I/O
    loop, right after each reply, so a fork that follows a request of the
    parent often falls inside one (seen in the Grizzly lane, with a gdb
    backtrace).  A process manager forks its workers before any session
    exists (Grizzly's ProcessLauncher); a test of a session that must not
    cross a fork has to fork after one, so it waits for a quiet moment:
    the I/O thread then sleeps in poll() until its next ping.
    """
    deadline = time.time() + timeout
    quiet = 0
    while quiet < 3 and time.time() < deadline:
        quiet = quiet + 1 if _other_threads_wait() else 0
        time.sleep(0.001)
    return os.fork()


def zk_server():
    """The module's ZooKeeper server: started on first use, stopped at exit.

    Not nose's setup_module: Grizzly's own runner (testr, testtools) never
    calls it, and each of testr's worker processes needs its own server.
    """
    global ZK
    if ZK is None:
        # Not in the test's temporary folder: Grizzly's TestCase
        # (fixtures.NestedTempfile) deletes it when the first test ends.
        base_dir = tempfile.mkdtemp(prefix='zk-test-', dir=TMP_ROOT)
        server = zkserver.ZooKeeperServer(tick_time=TICK_MS,
                                          base_dir=base_dir)
        server.start()
        owner = os.getpid()

        def stop():
            # (a child forked by a test inherits this handler)
            if os.getpid() == owner:
                server.cleanup()
                shutil.rmtree(base_dir, True)
        atexit.register(stop)
        ZK = server
    return ZK


class ZKServiceGroupTestCase(test.TestCase):

    def setUp(self):
        super(ZKServiceGroupTestCase, self).setUp()
        # Grizzly's nova.test.TestCase has no state_path of its own.
        self.tmp_dir = self.useFixture(fixtures.TempDir()).path
        self.zk_address = zk_server().address
        servicegroup.API._driver = None
        from nova.servicegroup.drivers import zk
        self.zk = zk
        self.flags(servicegroup_driver='zk')
        self.flags(address=self.zk_address, recv_timeout=RECV_TIMEOUT_MS,
                   sg_retry_interval=1, group="zookeeper")
        self.prefix = '/sg-%s' % self.id().rsplit('.', 1)[-1]
        self.flags(sg_prefix=self.prefix, group='zookeeper')
        self.cache_dir = os.path.join(self.tmp_dir, 'zk-members')
        self.flags(members_cache_dir=self.cache_dir, group='zookeeper')
        self.addCleanup(self._forget_driver)

    def _forget_driver(self):
        driver, servicegroup.API._driver = servicegroup.API._driver, None
        if driver is not None:
            driver.cleanup()

    def test_join_leave(self):
        self.servicegroup_api = servicegroup.API()
        service_id = {'topic': 'unittest', 'host': 'serviceA'}
        self.servicegroup_api.join(service_id['host'], service_id['topic'])
        self.assertTrue(self.servicegroup_api.service_is_up(service_id))
        self.servicegroup_api.leave(service_id['host'], service_id['topic'])
        # make sure zookeeper is updated and watcher is triggered
        eventlet.sleep(1)
        self.assertFalse(self.servicegroup_api.service_is_up(service_id))

    def test_stop(self):
        self.servicegroup_api = servicegroup.API()
        service_id = {'topic': 'unittest', 'host': 'serviceA'}
        pulse = self.servicegroup_api.join(service_id['host'],
                                           service_id['topic'], None)
        self.assertTrue(self.servicegroup_api.service_is_up(service_id))
        pulse.stop()
        eventlet.sleep(1)
        self.assertFalse(self.servicegroup_api.service_is_up(service_id))

    def test_get_all_and_get_one(self):
        api = servicegroup.API()
        for host in ('h1', 'h2', 'h3'):
            api.join(host, 'compute')
        self.assertEqual(['h1', 'h2', 'h3'], sorted(api.get_all('compute')))
        self.assertIn(api.get_one('compute'), ['h1', 'h2', 'h3'])
        self.assertEqual([], api.get_all('scheduler'))
        self.assertIsNone(api.get_one('scheduler'))

    def test_prefix_and_nodes_in_zookeeper(self):
        self.flags(sg_prefix=self.prefix + '/deep/er', group='zookeeper')
        api = servicegroup.API()
        api.join('hostX', 'compute')
        # The driver's log stream: zkpython keeps the FILE* of the last
        # stream it was given (see zk._zk_log_stream).
        session = evzookeeper.ZKSession(self.zk_address, timeout=10,
                                        recv_timeout=RECV_TIMEOUT_MS,
                                        zklog_fd=self.zk._zk_log_stream())
        self.addCleanup(session.close)
        self.assertEqual(['hostX'], session.get_children(
            self.prefix + '/deep/er/compute'))
        stat = session.exists(self.prefix + '/deep/er/compute/hostX')
        self.assertNotEqual(0, stat['ephemeralOwner'])

    def test_other_readers_see_join_and_leave(self):
        writer = servicegroup.API()
        writer.join('hostW', 'compute')
        reader = self.zk.ZooKeeperDriver()
        self.addCleanup(reader.cleanup)
        self.assertEqual(['hostW'], reader.get_all('compute'))
        writer.leave('hostW', 'compute')
        self.assertTrue(wait_for(
            lambda: reader.get_all('compute') == [], 2))

    def test_leave_unknown_member_is_logged(self):
        api = servicegroup.API()
        api.leave('ghost', 'compute')  # must not raise
        self.assertFalse(api.service_is_up({'host': 'ghost',
                                            'topic': 'compute'}))

    def test_unreachable_raises_unavailable(self):
        port = zkserver.free_port()
        self.flags(address='127.0.0.1:%d' % port, group='zookeeper')
        api = servicegroup.API()
        start = time.time()
        e = self.assertRaises(exception.ServiceGroupUnavailable,
                              api.service_is_up,
                              {'host': 'a', 'topic': 'compute'})
        self.assertIn('127.0.0.1:%d' % port, str(e))
        # The first read waits a bounded time, then says so.
        self.assertTrue(time.time() - start < 8)
        start = time.time()
        self.assertRaises(exception.ServiceGroupUnavailable,
                          api.get_all, 'compute')
        self.assertTrue(time.time() - start < 1)

    def test_join_with_zookeeper_unreachable_keeps_trying(self):
        port = zkserver.free_port()
        server = zkserver.ZooKeeperServer(tick_time=TICK_MS, port=port)
        self.addCleanup(server.cleanup)
        self.flags(address=server.address, group='zookeeper')
        api = servicegroup.API()
        start = time.time()
        timer = api.join('late', 'compute')
        self.assertTrue(time.time() - start < 15)
        self.assertIsNotNone(timer)
        server.start()
        reader = self.zk.ZooKeeperDriver()
        self.addCleanup(reader.cleanup)
        self.assertTrue(wait_for(
            lambda: 'late' in reader.get_all('compute'), 20))
        timer.stop()
        self.assertTrue(wait_for(
            lambda: 'late' not in reader.get_all('compute'), 2))

    def test_missing_address_names_the_option(self):
        self.flags(address=None, group='zookeeper')
        e = self.assertRaises(self.zk.InvalidZooKeeperConfig,
                              servicegroup.API)
        self.assertIn('[zookeeper] address', str(e))

    def test_malformed_addresses(self):
        for bad in ('localhost', 'host:port', 'h:99999', 'h:1,', 'h:1/',
                    'h:1//x'):
            servicegroup.API._driver = None
            self.flags(address=bad, group='zookeeper')
            e = self.assertRaises(self.zk.InvalidZooKeeperConfig,
                                  servicegroup.API)
            self.assertIn('address', str(e))
            self.assertIn(repr(bad), str(e))

    def test_bad_member_names(self):
        api = servicegroup.API()
        for bad in ('', 'a/b', '..'):
            self.assertRaises(exception.NovaException, api.join, bad,
                              'compute')
            self.assertRaises(exception.NovaException, api.join, 'h', bad)

    def _holder(self, group, host):
        proc = subprocess.Popen(
            [sys.executable, '-c', HOLDER, self.zk_address, self.prefix, group,
             host], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        line = proc.stdout.readline()
        self.assertEqual(b'joined\n', line, proc.stderr.read()
                         if proc.poll() is not None else '')
        return proc

    def _worker(self, topic, host):
        """Start a worker process; return it once it has joined."""
        log_path = os.path.join(self.tmp_dir, 'worker-%s.log' % host)
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [NOVA_ROOT] + [p for p in [env.get('PYTHONPATH')] if p])
        with open(log_path, 'w') as log:
            proc = subprocess.Popen(
                [sys.executable, '-c', WORKER, self.zk_address,
                 str(RECV_TIMEOUT_MS), self.prefix, topic, host],
                stdout=subprocess.PIPE, stderr=log, env=env)

        def stop():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait()
        self.addCleanup(stop)
        line = proc.stdout.readline()
        if line != b'joined\n':
            stop()
            with open(log_path) as log:
                self.fail('the worker did not join: %r\n%s'
                          % (line, log.read()))
        proc.log_path = log_path
        return proc

    def _worker_log(self, proc):
        with open(proc.log_path) as log:
            return log.read()

    def test_killed_worker_disappears_within_session_timeout(self):
        worker = self._worker('compute', 'hostK')
        reader = self.zk.ZooKeeperDriver()
        self.addCleanup(reader.cleanup)
        self.assertTrue(wait_for(
            lambda: 'hostK' in reader.get_all('compute'), 5))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        start = time.time()
        # The server expires a silent session between timeout and
        # timeout + tickTime after it last heard from it.
        bound = (RECV_TIMEOUT_MS + TICK_MS) / 1000.0 + 1.0
        self.assertTrue(wait_for(
            lambda: 'hostK' not in reader.get_all('compute'), bound + 5))
        took = time.time() - start
        self.assertTrue(took < bound, '%.2fs >= %.2fs' % (took, bound))
        self.assertFalse(servicegroup.API().service_is_up(
            {'host': 'hostK', 'topic': 'compute'}))

    def test_worker_rejoins_after_its_session_expired(self):
        """A worker frozen past its session timeout re-joins on waking.

        The server expires the session and deletes the node; the woken
        worker's client learns EXPIRED on reconnecting, evzookeeper opens a
        new session and the Membership re-creates the node.
        """
        worker = self._worker('compute', 'hostE')
        reader = self.zk.ZooKeeperDriver()
        self.addCleanup(reader.cleanup)

        def up():
            return 'hostE' in reader.get_all('compute')

        self.assertTrue(wait_for(up, 5))
        worker.send_signal(signal.SIGSTOP)
        try:
            self.assertTrue(wait_for(lambda: not up(), 10))
        finally:
            worker.send_signal(signal.SIGCONT)
        if ONCE_ONLY_SESSION_WATCHER:
            # zkpython 0.4.2 calls the session watcher only once (the first
            # CONNECTED): EXPIRED never reaches evzookeeper, which never
            # opens a new session, so the worker stays out of the group.
            # The port (and zkpython 0.4) re-join.  What 0.4.2 delivers: the
            # frozen worker is reported down, and stays down rather than
            # being reported up by a stale cache.
            eventlet.sleep(3 * RECV_TIMEOUT_MS / 1000.0)
            self.assertFalse(up())
            return
        self.assertTrue(wait_for(up, 15), self._worker_log(worker))
        # ... and says so at WARNING, the default level of Grizzly's log.
        self.assertTrue(wait_for(
            lambda: 'the compute group (session' in self._worker_log(worker),
            5), self._worker_log(worker))
        log = self._worker_log(worker)
        for expected in (r'WARNING .*reconnected to ZooKeeper at .* with a '
                         r'new session',
                         r'WARNING .*hostE re-joined the compute group'):
            self.assertTrue(re.search(expected, log), log)

    def test_restarted_worker_joins_when_old_session_expires(self):
        holder = self._holder('compute', 'hostR')
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        api = servicegroup.API()
        start = time.time()
        api.join('hostR', 'compute')
        took = time.time() - start
        self.assertTrue(api.service_is_up({'host': 'hostR',
                                           'topic': 'compute'}))
        # Joined as soon as the old session expired, not after a fixed
        # retry and not with an error.
        self.assertTrue(took < (RECV_TIMEOUT_MS + TICK_MS) / 1000.0 + 1.0,
                        took)

    def test_name_held_by_live_session_is_a_clear_error(self):
        holder = self._holder('compute', 'hostD')
        api = servicegroup.API()
        e = self.assertRaises(self.zk.DuplicateServiceMember, api.join,
                              'hostD', 'compute')
        self.assertIn('hostD', str(e))
        self.assertIn('another live ZooKeeper session', str(e))
        self.assertIsNone(holder.poll())
        self.assertTrue(api.service_is_up({'host': 'hostD',
                                           'topic': 'compute'}))

    def test_session_is_per_process(self):
        api = servicegroup.API()
        api.join('parent', 'compute')
        self.assertEqual(['parent'], api.get_all('compute'))
        child_log = os.path.join(self.tmp_dir, 'child.log')
        pid = fork_when_threads_wait()
        if pid == 0:
            code = 1
            try:
                # What the child prints (the tracebacks of green threads it
                # inherited, with the originals) goes with the test.
                fd = os.open(child_log, os.O_WRONLY | os.O_CREAT, 0o644)
                os.dup2(fd, 2)
                if ORIGINAL_LIBS:
                    # As Grizzly's ProcessLauncher starts a worker: a hub
                    # of its own (eventlet 0.16 would share the parent's
                    # epoll instance, and the child's hub would run the
                    # parent's green threads, which read evzookeeper
                    # 0.4.0's wake-up pipes: a byte meant for the parent
                    # read by the child, or the other way round, left one
                    # of them waiting for good).  The port needs no such
                    # care: its green threads wake from one queue, with a
                    # periodic check.
                    eventlet.hubs.use_hub()
                child = servicegroup.API()
                child.join('child', 'compute')
                members = sorted(child.get_all('compute'))
                if members == ['child', 'parent']:
                    code = 0
                else:
                    sys.stderr.write('the child read %r\n' % members)
                child._driver.cleanup()
            except Exception:
                traceback.print_exc()
            finally:
                os._exit(code)
        status = []

        def reaped():
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                status.append(code)
            return bool(status)

        def kill_hung_child():
            # A hung child would keep the runner's output pipe open, and the
            # whole run would wait for it (also if the test's own time-out
            # ends the wait below).
            if not status:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        self.addCleanup(kill_hung_child)
        wait_for(reaped, 30)
        with open(child_log) as f:
            log = f.read()
        self.assertTrue(status, 'the child did not end within 30 s: %s' % log)
        self.assertEqual(0, status[0], log)
        self.assertTrue(wait_for(
            lambda: api.get_all('compute') == ['parent'], 3))
        # The parent's monitor still follows changes.
        other = self.zk.ZooKeeperDriver()
        self.addCleanup(other.cleanup)
        other.join('later', 'compute')
        self.assertTrue(wait_for(
            lambda: sorted(api.get_all('compute')) == ['later', 'parent'], 3))

    def test_concurrent_first_callers_open_one_session(self):
        created = []
        real = evzookeeper.ZKSession

        def counting_session(*args, **kwargs):
            session = real(*args, **kwargs)
            created.append(session)
            return session

        self.stubs.Set(evzookeeper, 'ZKSession', counting_session)
        api = servicegroup.API()
        threads = [eventlet.spawn(api.get_all, 'compute') for _i in range(8)]
        self.assertEqual([[]] * 8, [thread.wait() for thread in threads])
        self.assertEqual(1, len(created))
        self.assertEqual(['compute'], list(api._driver._monitors))
        api.join('h1', 'compute')
        self.assertTrue(wait_for(lambda: api.get_all('compute') == ['h1'], 3))
        self.assertEqual(1, len(created))

    def test_is_up_is_a_lookup_in_the_watched_set(self):
        api = servicegroup.API()
        api.join('h1', 'compute')
        driver = api._driver
        self.assertTrue(api.service_is_up({'host': 'h1', 'topic': 'compute'}))
        members = driver._live_members('compute')
        self.assertTrue(driver._live_members('compute') is members)
        self.assertEqual(['h1'], api.get_all('compute'))
        asked = []
        # on the class: evzookeeper 0.4.0's ZKSession has __slots__
        cls = type(driver._session)
        calls = dict((name, getattr(cls, name))
                     for name in ('get_children', 'exists', 'get'))
        for name in calls:
            setattr(cls, name, lambda *a, **k: asked.append(a) or 1 / 0)
        try:
            for _i in range(1000):
                self.assertTrue(api.service_is_up({'host': 'h1',
                                                   'topic': 'compute'}))
                self.assertFalse(api.service_is_up({'host': 'h2',
                                                    'topic': 'compute'}))
        finally:
            for name, method in calls.items():
                setattr(cls, name, method)
        self.assertEqual([], asked)

    def _open_session(self):
        session = evzookeeper.ZKSession(self.zk_address, timeout=10,
                                        recv_timeout=RECV_TIMEOUT_MS,
                                        zklog_fd=self.zk._zk_log_stream())
        self.addCleanup(session.close)
        return session

    def test_persistent_node_is_never_a_member(self):
        api = servicegroup.API()
        api.join('live', 'compute')
        other = self._open_session()
        other.create(self.prefix + '/compute/ghost', b'',
                     acl=[evzookeeper.ZOO_OPEN_ACL_UNSAFE])
        other.create(self.prefix + '/compute/late', b'',
                     acl=[evzookeeper.ZOO_OPEN_ACL_UNSAFE],
                     flags=zookeeper.EPHEMERAL)
        self.assertTrue(wait_for(
            lambda: sorted(api.get_all('compute')) == ['late', 'live'], 3))
        self.assertFalse(api.service_is_up({'host': 'ghost',
                                            'topic': 'compute'}))
        # a fresh reader's first read sees the same
        reader = self.zk.ZooKeeperDriver()
        self.addCleanup(reader.cleanup)
        self.assertEqual(['late', 'live'], sorted(reader.get_all('compute')))

    def _read_cost(self):
        """(members a new reader sees, requests the server got meanwhile)."""
        server = zk_server()

        def received():
            return int(zkserver.mntr(server.host, server.port)[
                'zk_packets_received'])
        before = received()
        reader = self.zk.ZooKeeperDriver()
        try:
            members = sorted(reader.get_all('compute'))
        finally:
            reader.cleanup()
        return members, received() - before

    def test_new_reader_takes_the_cached_list_while_nobody_came_or_went(self):
        holder = self._open_session()
        group = self.prefix + '/compute'
        creator = self.zk.ZooKeeperDriver()
        self.addCleanup(creator.cleanup)
        creator._ensure_group('compute', group)
        hosts = ['h%02d' % i for i in range(60)]
        for host in hosts:
            holder.create(group + '/' + host, b'',
                          acl=[evzookeeper.ZOO_OPEN_ACL_UNSAFE],
                          flags=zookeeper.EPHEMERAL)
        members, cold = self._read_cost()
        self.assertEqual(hosts, members)
        self.assertTrue(cold > 60, cold)
        if ORIGINAL_LIBS:
            # evzookeeper 0.4.0's monitor keeps no snapshot: no cache
            self.assertFalse(os.path.exists(self.cache_dir))
            return
        files = os.listdir(self.cache_dir)
        self.assertEqual(1, len(files))
        cache = os.path.join(self.cache_dir, files[0])
        self.assertEqual(0o600, os.stat(cache).st_mode & 0o777)
        self.assertEqual(0o700, os.stat(self.cache_dir).st_mode & 0o777)
        members, warm = self._read_cost()
        self.assertEqual(hosts, members)
        self.assertTrue(warm < 20, (warm, cold))
        # a member's node replaced by a forged persistent one: the names
        # are the same, the children are not; the new list is cached
        holder.delete(group + '/h00')
        holder.create(group + '/h00', b'',
                      acl=[evzookeeper.ZOO_OPEN_ACL_UNSAFE])
        members, cost = self._read_cost()
        self.assertEqual(hosts[1:], members)
        self.assertTrue(cost > 60, cost)
        self.assertEqual(hosts[1:], self._read_cost()[0])
        # a file others may write is not trusted, and is written anew
        os.chmod(cache, 0o666)
        members, cost = self._read_cost()
        self.assertEqual(hosts[1:], members)
        self.assertTrue(cost > 60, cost)
        self.assertEqual(0o600, os.stat(cache).st_mode & 0o777)

    def test_no_members_cache_when_its_dir_is_empty(self):
        self.flags(members_cache_dir='', group='zookeeper')
        api = servicegroup.API()
        api.join('h1', 'compute')
        self.assertEqual(['h1'], self._read_cost()[0])
        self.assertFalse(os.path.exists(self.cache_dir))

    def test_name_that_flips_from_persistent_to_ephemeral_is_up(self):
        # An operator removes a leftover persistent node and the worker
        # waiting for its name creates its ephemeral node at once: the name
        # may be in both child lists the reader gets.
        api = servicegroup.API()
        api.join('live', 'compute')
        other = self._open_session()
        node = self.prefix + '/compute/h1'
        other.create(node, b'', acl=[evzookeeper.ZOO_OPEN_ACL_UNSAFE])
        other.create(self.prefix + '/compute/h2', b'',
                     acl=[evzookeeper.ZOO_OPEN_ACL_UNSAFE],
                     flags=zookeeper.EPHEMERAL)
        self.assertTrue(wait_for(
            lambda: sorted(api.get_all('compute')) == ['h2', 'live'], 3))
        other.delete(node)
        other.create(node, b'', acl=[evzookeeper.ZOO_OPEN_ACL_UNSAFE],
                     flags=zookeeper.EPHEMERAL)
        self.assertTrue(wait_for(
            lambda: api.service_is_up({'host': 'h1', 'topic': 'compute'}),
            3))

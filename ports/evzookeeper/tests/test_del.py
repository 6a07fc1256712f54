"""__del__ of ZKSession, ZKServiceBase and Membership.

A session nobody references is collected: its __del__ closes the handle
(the server deletes its ephemeral nodes at once) and the wake-up pipe, on
a helper thread.  The descriptors (/proc/self/fd) and OS threads come back.
A recipe whose green thread is gone is collected too and unhooks itself (a
Membership leaves).  Half-built objects and interpreter shutdown raise
nothing.
"""

import gc
import os
import subprocess
import sys
import time
import unittest
import weakref

import eventlet
import zookeeper

import evzookeeper
from evzookeeper import membership

import evzk_fixture as fx

HERE = os.path.dirname(os.path.abspath(__file__))
#: Long enough that a node deleted within it was deleted by a close, not by
#: the session's expiry.
LONG_RECV_TIMEOUT = 4000


class DelTestCase(unittest.TestCase):

    def setUp(self):
        self.server = fx.shared_server()
        self.base = fx.unique_path()
        self.unraisable = []
        self._old_hook = sys.unraisablehook
        sys.unraisablehook = self.unraisable.append
        self.observer = evzookeeper.ZKSession(self.server.address,
                                              timeout=10,
                                              recv_timeout=fx.RECV_TIMEOUT)

    def tearDown(self):
        self.observer.close()
        sys.unraisablehook = self._old_hook
        self.assertEqual(self.unraisable, [], 'errors in __del__: %s' % [
            (u.exc_value, u.object) for u in self.unraisable])

    def collect(self):
        for _i in range(3):
            gc.collect()
            eventlet.sleep(0.01)

    def baseline(self):
        """Warm up (log stream, hub, ...), settle, count."""
        evzookeeper.ZKSession(self.server.address, timeout=10,
                              recv_timeout=fx.RECV_TIMEOUT).close()
        self.collect()
        return fx.open_fds(), fx.settled_os_threads()

    def assert_back_to(self, fds, threads):
        fx.wait_for(lambda: fx.open_fds() == fds, 10,
                    'descriptors back: %r' % fx.fd_targets())
        fx.wait_for(lambda: fx.os_threads() <= threads, 10,
                    'OS threads back to %d' % threads)


class TestSessionDel(DelTestCase):

    def test_dropped_session_releases_descriptors_threads_and_nodes(self):
        fds, threads = self.baseline()
        session = evzookeeper.ZKSession(self.server.address, timeout=10,
                                        recv_timeout=LONG_RECV_TIMEOUT)
        node = session.create(self.base, 'eph', None, zookeeper.EPHEMERAL)
        # a pending watch and a connection callback hold no reference
        try:
            session.exists(self.base + '-none', lambda *args: None)
        except zookeeper.NoNodeException:
            pass
        session.add_connection_callback(lambda *args: None)
        self.assertTrue(len(fx.open_fds()) > len(fds))
        ref = weakref.ref(session)
        del session
        self.collect()
        self.assertIsNone(ref(), 'the session was not collected')
        dropped = time.monotonic()
        self.assert_back_to(fds, threads)
        fx.wait_for(lambda: fx.stat_or_none(self.observer, node) is None,
                    5, 'the ephemeral node deleted')
        # a close, not the server's expiry of a silent session
        self.assertTrue(time.monotonic() - dropped <
                        LONG_RECV_TIMEOUT / 1000.0 * 0.75)

    def test_session_with_stopped_recipes_is_collected(self):
        fds, threads = self.baseline()
        session = evzookeeper.ZKSession(self.server.address, timeout=10,
                                        recv_timeout=fx.RECV_TIMEOUT)
        member = membership.Membership(session, self.base, 'm')
        monitor = membership.MembershipMonitor(session, self.base)
        monitor.wait_until_ready(5)
        member.leave()
        monitor.stop()
        refs = [weakref.ref(o) for o in (session, member, monitor)]
        del session, member, monitor
        self.collect()
        self.assertEqual([r() for r in refs], [None] * 3)
        self.assert_back_to(fds, threads)

    def test_closed_session_then_dropped(self):
        fds, threads = self.baseline()
        session = evzookeeper.ZKSession(self.server.address, timeout=10,
                                        recv_timeout=fx.RECV_TIMEOUT)
        session.close()
        del session
        self.collect()
        self.assert_back_to(fds, threads)

    def test_failed_constructor(self):
        fds, threads = self.baseline()
        address = '127.0.0.1:%d' % fx.zkserver.free_port()
        self.assertRaises(eventlet.Timeout, evzookeeper.ZKSession, address,
                          timeout=0.3, recv_timeout=1000)
        self.assertRaises(zookeeper.ZooKeeperException,
                          evzookeeper.ZKSession, 'no-such-host.invalid:2181',
                          recv_timeout=1000)
        self.collect()
        self.assert_back_to(fds, threads)

    def test_half_built_objects(self):
        # __init__ never ran, or stopped early: __del__ finds little
        for cls in (evzookeeper.ZKSession, evzookeeper.ZKServiceBase,
                    membership.Membership, membership.MembershipMonitor):
            cls.__new__(cls).__del__()
        session = evzookeeper.ZKSession(self.server.address, timeout=10,
                                        recv_timeout=fx.RECV_TIMEOUT)
        try:
            self.assertRaises(ValueError, membership.Membership, session,
                              self.base, 'a/b')
            membership.Membership(session, self.base, 'dup')
            self.assertRaises(RuntimeError, membership.Membership, session,
                              self.base, 'dup')
            self.collect()
            self.assertEqual(len(session._services), 1)
            self.assertEqual(fx.stat_or_none(self.observer,
                                             self.base + '/dup')
                             ['ephemeralOwner'], session.client_id()[0])
        finally:
            session.close()
        session.close()
        self.assertRaises(zookeeper.ClosingException, membership.Membership,
                          session, self.base, 'late')
        self.collect()

    def test_session_from_a_parent_process_is_left_alone(self):
        session = evzookeeper.ZKSession(self.server.address, timeout=10,
                                        recv_timeout=fx.RECV_TIMEOUT)
        try:
            session._pid = -1  # as in a forked child
            session.__del__()
            self.assertFalse(session._closed)
            session._pid = os.getpid()
            self.assertTrue(session.is_connected())
        finally:
            session.close()


class TestRecipeDel(DelTestCase):

    def setUp(self):
        super(TestRecipeDel, self).setUp()
        self.session = evzookeeper.ZKSession(self.server.address, timeout=10,
                                             recv_timeout=fx.RECV_TIMEOUT)

    def tearDown(self):
        self.session.close()
        super(TestRecipeDel, self).tearDown()

    def test_dropped_recipes_keep_working(self):
        # as in 0.4.0 (its tests dropped their monitors): the green thread
        # holds the recipe
        seen = []
        membership.MembershipMonitor(self.session, self.base,
                                     cb_func=seen.append)
        membership.Membership(self.session, self.base, 'kept')
        self.collect()
        fx.wait_for(lambda: seen and seen[-1] == {'kept'}, 5, 'kept')
        self.assertEqual(len(self.session._services), 2)

    def test_membership_collected_without_leave_leaves(self):
        member = membership.Membership(self.session, self.base, 'gone')
        path = member.path
        member._thread.kill()  # its green thread is gone
        ref = weakref.ref(member)
        del member
        self.collect()
        self.assertIsNone(ref())
        fx.wait_for(lambda: fx.stat_or_none(self.observer, path) is None,
                    5, 'the member node deleted')
        self.assertEqual(len(self.session._services), 0)
        self.assertEqual(self.session._conn_cbs, [])

    def test_monitor_collected_unhooks_itself(self):
        monitor = membership.MembershipMonitor(self.session, self.base)
        monitor.wait_until_ready(5)
        spc = monitor._session_spc
        monitor._thread.kill()
        del monitor
        self.collect()
        self.assertNotIn(spc, self.session._conn_cbs)
        fx.wait_for(lambda: spc.closed, 5, 'the queue closed on the hub')
        self.assertEqual(len(self.session._services), 0)


class TestShutdown(unittest.TestCase):

    def test_interpreter_shutdown_closes_what_was_left_open(self):
        server = fx.shared_server()
        base = fx.unique_path()
        proc = subprocess.Popen(
            [fx.python(), '-W', 'ignore',
             os.path.join(HERE, 'evzk_shutdown_script.py'), server.address,
             base, str(LONG_RECV_TIMEOUT)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            # (a child that hangs fails the test by the timeout)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        exited = time.monotonic()
        err = err.decode('utf-8', 'replace')
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(out.decode(), 'ready\n')
        self.assertNotIn('Exception ignored', err)
        self.assertNotIn('Traceback', err)
        observer = evzookeeper.ZKSession(server.address, timeout=10,
                                         recv_timeout=fx.RECV_TIMEOUT)
        try:
            for path in (base + '-eph', base + '/at-exit', base + '-dropped'):
                fx.wait_for(lambda: fx.stat_or_none(observer, path) is None,
                            10, '%s deleted' % path)
            # closed at exit, not expired later
            self.assertTrue(time.monotonic() - exited <
                            LONG_RECV_TIMEOUT / 1000.0 * 0.75)
        finally:
            observer.close()

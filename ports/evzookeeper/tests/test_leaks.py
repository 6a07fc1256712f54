"""No leaks: 30 sessions with members and monitors come and go.

Counts descriptors (/proc/self/fd), OS threads (/proc/self/task) and live
greenlets before and after.
"""

import unittest

import eventlet
import zookeeper

import evzookeeper
from evzookeeper import membership

import evzk_fixture as fx

SESSIONS = 30
BATCH = 10


class TestLeaks(unittest.TestCase):

    def setUp(self):
        self.server = fx.shared_server()
        self.base = fx.unique_path()

    def settle(self):
        # let ended green threads finish and helper threads be joined
        for _i in range(10):
            eventlet.sleep(0.02)

    def one_round(self, index):
        """A session with two members and a monitor; half of them are
        stopped one by one, the other half by closing the session."""
        session = evzookeeper.ZKSession(self.server.address, timeout=10,
                                        recv_timeout=fx.RECV_TIMEOUT)
        group = '%s/g%d' % (self.base, index % 3)
        monitor = membership.MembershipMonitor(session, group)
        members = [membership.Membership(session, group, 'm%d-%d' % (index, k))
                   for k in range(2)]
        names = set(m.name for m in members)
        fx.wait_for(lambda: names <= (monitor.get_all() or set()), 5,
                    'members of round %d' % index)
        # a failed duplicate must not leave anything behind either
        try:
            membership.Membership(session, group, members[0].name)
        except RuntimeError:
            pass
        else:
            self.fail('duplicate accepted')
        # watches that are pending when the session goes
        try:
            session.exists('%s/none-%d' % (self.base, index),
                           lambda *args: None)
        except zookeeper.NoNodeException:
            pass
        if index % 2:
            for member in members:
                member.leave()
            monitor.stop()
        session.close()

    def test_no_leaks_after_30_sessions(self):
        # warm-up: the C client's log stream, the hub's descriptors, ...
        self.one_round(-1)
        self.settle()
        threads = fx.settled_os_threads()
        fds, targets = fx.open_fds(), fx.fd_targets()
        greenlets = len(fx.live_greenlets())

        for start in range(0, SESSIONS, BATCH):
            pool = eventlet.GreenPool(BATCH)
            for index in range(start, start + BATCH):
                pool.spawn(self.one_round, index)
            pool.waitall()
            # while sessions run, each costs 2 C threads and a pipe; all
            # back now
        self.settle()

        after = fx.open_fds()
        self.assertEqual(after, fds, 'descriptors: before %r, after %r' % (
            targets, fx.fd_targets()))
        fx.wait_for(lambda: fx.os_threads() <= threads, 3,
                    'OS threads back to %d' % threads)
        self.assertEqual(fx.os_threads(), threads)
        live = fx.live_greenlets()
        self.assertEqual(len(live), greenlets,
                         fx.describe_greenlets(live))
        # the binding holds no callbacks of closed handles either
        counter = getattr(getattr(zookeeper, '_client', None),
                          '_context_count', None)
        if counter is not None:
            self.assertEqual(counter(), 0)

    def test_resources_of_one_session(self):
        threads = fx.settled_os_threads()
        fds = len(fx.open_fds())
        session = evzookeeper.ZKSession(self.server.address, timeout=10,
                                        recv_timeout=fx.RECV_TIMEOUT)
        try:
            monitor = membership.MembershipMonitor(session, self.base)
            monitor.wait_until_ready(5)
            # one wake-up pipe, the C client's socket and its own pipes
            # (libzookeeper_mt: a self-pipe for the I/O thread); two C
            # threads; nothing per call
            during = len(fx.open_fds())
            pool = eventlet.GreenPool(50)
            list(pool.imap(lambda i: session.exists(self.base), range(200)))
            self.assertEqual(len(fx.open_fds()), during)
            self.assertEqual(fx.os_threads(), threads + 2)
            self.assertTrue(during - fds <= 6, during - fds)
        finally:
            session.close()
        self.settle()
        self.assertEqual(len(fx.open_fds()), fds)
        fx.wait_for(lambda: fx.os_threads() <= threads, 3, 'OS threads')
        self.assertEqual(fx.os_threads(), threads)

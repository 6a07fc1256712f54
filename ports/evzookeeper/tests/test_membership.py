"""Membership and MembershipMonitor against real ZooKeeper servers.

Joins and leaves, duplicate names, a restarted worker waiting for its old
node, the monitor's "unknown" while the server is away, and session expiry
(forced, and by pausing the server past the session timeout).
"""

import logging
import os
import signal
import subprocess
import time

import eventlet
import fixtures
import zookeeper

from evzookeeper import membership

from nova.tests import zkserver

import evzk_fixture as fx

HERE = os.path.dirname(os.path.abspath(__file__))


class MembershipTestCase(fx.SessionTestCase):

    def setUp(self):
        super(MembershipTestCase, self).setUp()
        self.children = []

    def tearDown(self):
        for child in self.children:
            if child.poll() is None:
                child.kill()
            child.wait()
            child.stdout.close()
        super(MembershipTestCase, self).tearDown()

    def member_process(self, name, recv_timeout=fx.RECV_TIMEOUT):
        """A worker in another process; returns (process, session id)."""
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [HERE] + env.get('PYTHONPATH', '').split(os.pathsep))
        child = subprocess.Popen(
            [fx.python(), '-W', 'ignore',
             os.path.join(HERE, 'evzk_member_process.py'),
             self.server.address, self.base, name, str(recv_timeout)],
            stdout=subprocess.PIPE, env=env)
        self.children.append(child)
        line = child.stdout.readline().decode()
        self.assertTrue(line.startswith('joined '), line)
        return child, int(line.split()[1])


class TestJoinLeave(MembershipTestCase):

    def test_join_and_leave_seen_by_a_monitor_of_another_session(self):
        worker, observer = self.session(), self.session()
        seen = []
        monitor = membership.MembershipMonitor(observer, self.base,
                                               cb_func=seen.append)
        self.assertEqual(monitor.wait_until_ready(5), set())
        self.assertEqual(observer.get(self.base)[0], b'ZKMembers')
        m1 = membership.Membership(worker, self.base, 'host1')
        m2 = membership.Membership(worker, self.base, 'host2')
        self.assertTrue(m1.joined and m2.joined)
        fx.wait_for(lambda: monitor.get_all() == {'host1', 'host2'}, 5,
                    'both members')
        value, stat = monitor.get_member_details('host1')
        self.assertEqual(stat['ephemeralOwner'], worker.client_id()[0])
        self.assertEqual(len(value), 32)  # the random token
        self.assertTrue(m1.leave())
        self.assertFalse(m1.leave())
        self.assertIsNone(m1.name)
        fx.wait_for(lambda: monitor.get_all() == {'host2'}, 5, 'host1 gone')
        self.assertRaises(zookeeper.NoNodeException,
                          monitor.get_member_details, 'host1')
        worker.close()  # the member goes with its session
        fx.wait_for(lambda: monitor.get_all() == set(), 5, 'host2 gone')
        self.assertEqual(seen[0], set())
        self.assertEqual(seen[-1], set())
        self.assertIn({'host2'}, seen)
        monitor.stop()
        self.assertIsNone(monitor.get_all())

    def test_missing_parents_are_created(self):
        s = self.session()
        base = self.base + '/group/compute'
        membership.Membership(s, base, 'h')
        self.assertEqual(s.get(self.base)[0], b'')
        self.assertEqual(s.get(self.base + '/group')[0], b'')
        self.assertEqual(s.get(base)[0], b'ZKMembers')
        monitor = membership.MembershipMonitor(s, self.base + '/other/x')
        self.assertEqual(monitor.wait_until_ready(5), set())
        self.assertEqual(s.get(self.base + '/other/x')[0], b'ZKMembers')

    def test_monitor_follows_deletion_of_the_basepath(self):
        s, other = self.session(), self.session()
        monitor = membership.MembershipMonitor(s, self.base)
        self.assertEqual(monitor.wait_until_ready(5), set())
        # ephemeral: a persistent child is no member
        other.create(self.base + '/x', b'', flags=zookeeper.EPHEMERAL)
        fx.wait_for(lambda: monitor.get_all() == {'x'}, 5, 'x')
        other.delete(self.base + '/x')
        other.delete(self.base)
        fx.wait_for(lambda: monitor.get_all() == set(), 5, 'empty')
        fx.wait_for(lambda: fx.stat_or_none(other, self.base), 5,
                    're-created base')
        other.create(self.base + '/y', b'', flags=zookeeper.EPHEMERAL)
        fx.wait_for(lambda: monitor.get_all() == {'y'}, 5, 'y')

    def test_duplicate_name_of_a_live_session(self):
        first, second = self.session(), self.session()
        membership.Membership(first, self.base, 'dup')
        started = time.monotonic()
        self.assertRaises(RuntimeError, membership.Membership, second,
                          self.base, 'dup')
        self.assertTrue(time.monotonic() - started < 0.5)
        # with wait=: the name stays taken, so it fails when wait runs out
        started = time.monotonic()
        self.assertRaises(RuntimeError, membership.Membership, second,
                          self.base, 'dup', wait=0.6)
        self.assertTrue(0.6 <= time.monotonic() - started < 1.5)
        # twice in the same session: no point in waiting
        started = time.monotonic()
        self.assertRaises(RuntimeError, membership.Membership, first,
                          self.base, 'dup', wait=5)
        self.assertTrue(time.monotonic() - started < 0.5)
        # failed members leave nothing behind
        self.assertEqual(len(second._services), 0)
        self.assertEqual(len(first._services), 1)

    def test_restarted_worker_waits_for_its_old_node(self):
        old, old_sid = self.member_process('worker')
        new = self.session()
        self.assertRaises(RuntimeError, membership.Membership, new,
                          self.base, 'worker')
        # the old worker dies without closing its session
        old.send_signal(signal.SIGKILL)
        old.wait()
        killed = time.monotonic()
        member = membership.Membership(new, self.base, 'worker', wait=10)
        waited = time.monotonic() - killed
        _value, stat = new.get(member.path)
        self.assertEqual(stat['ephemeralOwner'], new.client_id()[0])
        self.assertNotEqual(stat['ephemeralOwner'], old_sid)
        # ZooKeeper deleted the node between timeout and timeout + a tick
        # after it last heard of the old session
        self.assertTrue(0.3 <= waited < 3.0, waited)

    def test_leave_is_final(self):
        s = self.session()
        member = membership.Membership(s, self.base, 'h')
        member.leave()
        eventlet.sleep(0.1)
        self.assertRaises(zookeeper.NoNodeException, s.get, member.path)
        self.assertFalse(member.joined)


class TestExpiry(MembershipTestCase):

    def expire(self, session):
        fx.expire_session(self.server, session)

    def test_member_recreated_after_expiry(self):
        states = []
        worker = self.session(init_cbs=[lambda h, t, s, p: states.append(s)])
        observer = self.session()
        member = membership.Membership(worker, self.base, 'w1')
        own_monitor = membership.MembershipMonitor(worker, self.base)
        monitor = membership.MembershipMonitor(observer, self.base)
        fx.wait_for(lambda: monitor.get_all() == {'w1'}, 5, 'w1')
        fx.wait_for(lambda: own_monitor.get_all() == {'w1'}, 5, 'own w1')
        old_sid = worker.client_id()[0]
        self.expire(worker)
        fx.wait_for(lambda: zookeeper.EXPIRED_SESSION_STATE in states, 10,
                    'EXPIRED_SESSION_STATE')
        fx.wait_for(lambda: worker.is_connected() and
                    worker.client_id()[0] != old_sid, 10, 'a new session')
        fx.wait_for(lambda: monitor.get_all() == {'w1'}, 10, 'w1 back')
        fx.wait_for(lambda: own_monitor.get_all() == {'w1'}, 10,
                    'own monitor back')
        _value, stat = observer.get(member.path)
        self.assertEqual(stat['ephemeralOwner'], worker.client_id()[0])
        self.assertTrue(member.joined)
        self.assertEqual(states[-1], zookeeper.CONNECTED_STATE)
        # the new session works and the monitor's watch is armed again
        other = membership.Membership(worker, self.base, 'w2')
        fx.wait_for(lambda: own_monitor.get_all() == {'w1', 'w2'}, 5,
                    'w2 in own monitor')
        fx.wait_for(lambda: monitor.get_all() == {'w1', 'w2'}, 5, 'w2')
        other.leave()
        fx.wait_for(lambda: own_monitor.get_all() == {'w1'}, 5, 'w2 gone')

    def test_leave_after_expiry_stops_recreation(self):
        worker, observer = self.session(), self.session()
        member = membership.Membership(worker, self.base, 'w1')
        monitor = membership.MembershipMonitor(observer, self.base)
        fx.wait_for(lambda: monitor.get_all() == {'w1'}, 5, 'w1')
        member.leave()
        fx.wait_for(lambda: monitor.get_all() == set(), 5, 'w1 gone')
        old_sid = worker.client_id()[0]
        self.expire(worker)
        fx.wait_for(lambda: worker.is_connected() and
                    worker.client_id()[0] != old_sid, 10, 'a new session')
        eventlet.sleep(0.3)
        self.assertEqual(monitor.get_all(), set())


class TestServerOutages(MembershipTestCase):
    """Each test stops or pauses this class's own server."""

    @classmethod
    def setUpClass(cls):
        cls.server = fx.own_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        if not self.server.running or self.server._server.paused:
            self.server.resume()
            self.server.start()
        MembershipTestCase.setUp(self)

    def test_monitor_unknown_while_server_stopped(self):
        worker, observer = self.session(), self.session()
        membership.Membership(worker, self.base, 'w1')
        monitor = membership.MembershipMonitor(observer, self.base)
        fx.wait_for(lambda: monitor.get_all() == {'w1'}, 5, 'w1')
        self.server.stop()
        # get_all() follows the state the session reported (an event, on
        # the hub), not the C client's live state
        fx.wait_for(lambda: not observer._connected(), 5, 'disconnect')
        self.assertIsNone(monitor.get_all())
        eventlet.sleep(1.0)
        self.assertIsNone(monitor.get_all())
        self.server.start()
        fx.wait_for(lambda: monitor.get_all() == {'w1'}, 10, 'w1 back')

    def test_monitor_unknown_while_server_paused(self):
        worker, observer = self.session(), self.session()
        membership.Membership(worker, self.base, 'w1')
        monitor = membership.MembershipMonitor(observer, self.base)
        fx.wait_for(lambda: monitor.get_all() == {'w1'}, 5, 'w1')
        results = []

        def reader():
            try:
                results.append(observer.get_children(self.base))
            except zookeeper.ZooKeeperException as exc:
                results.append(exc)

        self.server.pause()
        ticker = fx.Ticker()
        try:
            eventlet.spawn(reader)
            # detected after 2/3 of the session timeout
            fx.wait_for(lambda: monitor.get_all() is None, 3, 'unknown')
            fx.wait_for(lambda: results, 3, 'the call to fail')
            # the C client fails requests that got no answer in time
            self.assertIsInstance(results[0],
                                  (zookeeper.ConnectionLossException,
                                   zookeeper.OperationTimeoutException))
            self.assertTrue(ticker.max_gap < 0.1, ticker.max_gap)
        finally:
            ticker.stop()
            self.server.resume()
        fx.wait_for(lambda: monitor.get_all() == {'w1'}, 10, 'w1 back')

    def test_expiry_by_pausing_the_server(self):
        states = []
        worker = self.session(init_cbs=[lambda h, t, s, p: states.append(s)])
        observer = self.session()
        member = membership.Membership(worker, self.base, 'w1')
        monitor = membership.MembershipMonitor(observer, self.base)
        fx.wait_for(lambda: monitor.get_all() == {'w1'}, 5, 'w1')
        old_sid = worker.client_id()[0]
        # On SIGCONT the server's session expirer races with the client's
        # pending reconnection: if the reconnection wins, the session lives
        # on (ZooKeeper's choice, not ours); then pause again.
        for _attempt in range(4):
            self.server.pause()
            try:
                fx.wait_for(lambda: monitor.get_all() is None, 3, 'unknown')
                eventlet.sleep(2 * fx.RECV_TIMEOUT / 1000.0 + 0.5)
                self.assertIsNone(monitor.get_all())
            finally:
                self.server.resume()
            fx.wait_for(worker.is_connected, 10, 'reconnection')
            if worker.client_id()[0] != old_sid:
                break
        self.assertIn(zookeeper.EXPIRED_SESSION_STATE, states)
        self.assertNotEqual(worker.client_id()[0], old_sid)
        fx.wait_for(lambda: monitor.get_all() == {'w1'}, 10, 'w1 back')
        _value, stat = observer.get(member.path)
        self.assertEqual(stat['ephemeralOwner'], worker.client_id()[0])

    def test_frozen_worker_expires_then_rejoins(self):
        # A worker process frozen (SIGSTOP) past its session timeout: the
        # server expires the session and deletes the node; once thawed the
        # worker learns EXPIRED, opens a new session and joins again.
        observer = self.session()
        monitor = membership.MembershipMonitor(observer, self.base)
        worker, old_sid = self.member_process('frozen')
        fx.wait_for(lambda: monitor.get_all() == {'frozen'}, 5, 'joined')
        worker.send_signal(signal.SIGSTOP)
        try:
            frozen = time.monotonic()
            fx.wait_for(lambda: monitor.get_all() == set(), 5, 'expiry')
            # between the timeout and the timeout plus a tick (and the
            # ping interval: the last ping may be a third of it earlier)
            self.assertTrue(0.5 < time.monotonic() - frozen < 2.5)
        finally:
            worker.send_signal(signal.SIGCONT)
        fx.wait_for(lambda: monitor.get_all() == {'frozen'}, 10, 'rejoined')
        _value, stat = monitor.get_member_details('frozen')
        self.assertNotEqual(stat['ephemeralOwner'], old_sid)


class TestRefusingServer(MembershipTestCase):
    """A server that enforces an auth scheme closes the connection at the
    first request of a client without it; the C client reconnects at
    once."""

    @classmethod
    def setUpClass(cls):
        cls.server = zkserver.ZooKeeperServer(
            tick_time=fx.TICK_TIME, extra_config=[
                'enforce.auth.enabled=true',
                'enforce.auth.schemes=digest']).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_refusal_is_tried_again_after_a_pause_not_at_reconnect(self):
        log = fixtures.FakeLogger(name='evzookeeper.membership',
                                  level=logging.WARNING,
                                  format='%(message)s')
        log.setUp()
        self.addCleanup(log.cleanUp)
        s = self.session()
        monitor = membership.MembershipMonitor(s, self.base)
        member = membership.Membership(s, self.base, 'host1',
                                       async_mode=True)
        eventlet.sleep(3.0)
        self.assertIsNone(monitor.get_all())
        self.assertFalse(member.joined)
        # (the C client's pings are refused too: the reconnects alone say
        # nothing.)  About five tries each, after pauses of 0.2, 0.4, 0.8
        # and 1.6 s; without the pause one at each reconnect, dozens.
        for who in ('MembershipMonitor %s:' % self.base,
                    'Membership %s/host1:' % self.base):
            tries = [line for line in log.output.splitlines()
                     if line.startswith(who) and 'SASL' in line]
            self.assertTrue(1 <= len(tries) <= 7, (who, len(tries)))
        # the same server takes a session with credentials
        ok = self.session()
        ok.add_auth('digest', 'nova:secret')
        reader = membership.MembershipMonitor(ok, self.base + '-ok')
        membership.Membership(ok, self.base + '-ok', 'host2')
        fx.wait_for(lambda: reader.get_all() == {'host2'}, 5, 'host2 seen')

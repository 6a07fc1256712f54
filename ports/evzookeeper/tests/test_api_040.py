"""Programs written for evzookeeper 0.4.0, on the port, against real servers.

The behaviours of 0.4.0's own tests (evzookeeper/tests/test_membership.py
at tag v0.4.0: join, join and leave, expiry, many joins and leaves, the fd
leak) and examples (basic.py, acl.py, membership.py; queue.py is in
test_queue), written the 0.4.0 way: a last-state StatePipeCondition as the
monitor's callback, monitors that nobody keeps a reference to.  Then
Membership's async_mode and refresh(quiet=...).
"""

import time

import eventlet
from eventlet import timeout as _timeout
import zookeeper

import evzookeeper
from evzookeeper import membership
from evzookeeper import utils

import evzk_fixture as fx


class APITestCase(fx.SessionTestCase):

    def monitor_spc(self, session):
        """0.4.0's tests: a monitor (not kept) whose callback notifies a
        StatePipeCondition."""
        spc = utils.StatePipeCondition()

        def callback(members):
            spc.set_and_notify(members)
        membership.MembershipMonitor(session, self.base, cb_func=callback)
        return spc

    def wait_members(self, spc, expected, timeout=5):
        """Wait for the callback's newest state to be ``expected``."""
        deadline = time.monotonic() + timeout
        members = None
        while time.monotonic() < deadline:
            try:
                members = spc.wait_and_get(deadline - time.monotonic())
            except _timeout.Timeout:
                break
            if members == expected:
                return members
        self.fail('members %r, expected %r' % (members, expected))


class TestOriginalTests(APITestCase):
    """evzookeeper 0.4.0's tests/test_membership.py."""

    def test_join(self):
        spc = self.monitor_spc(self.session())
        _n1 = membership.Membership(  # noqa: F841
            self.sessions[0], self.base, "node1")
        eventlet.sleep(0.5)
        # the newest state, though the monitor reported several
        self.assertEqual(spc.wait_and_get(1), set(["node1"]))
        _n2 = membership.Membership(  # noqa: F841
            self.sessions[0], self.base, "node2")
        eventlet.sleep(0.5)
        self.assertEqual(spc.wait_and_get(1), set(["node1", "node2"]))

    def test_join_leave(self):
        session = self.session()
        spc = self.monitor_spc(session)
        _n1 = membership.Membership(session, self.base, "node1")  # noqa: F841
        n2 = membership.Membership(session, self.base, "node2")
        eventlet.sleep(0.5)
        n2.leave()
        eventlet.sleep(0.5)
        self.assertEqual(spc.wait_and_get(1), set(["node1"]))

    def test_expire(self):
        session = self.session()
        spc = self.monitor_spc(session)
        _n1 = membership.Membership(session, self.base, "node1")  # noqa: F841
        _n2 = membership.Membership(session, self.base, "node2")  # noqa: F841
        eventlet.sleep(0.5)
        old_sid = session.client_id()[0]
        # 0.4.0: a second session takes the id over and closes it
        fx.expire_session(self.server, session)
        fx.wait_for(lambda: session.is_connected() and
                    session.client_id()[0] != old_sid, 10, 'a new session')
        self.wait_members(spc, set(["node1", "node2"]), 10)
        observer = self.session()
        for name in ("node1", "node2"):
            stat = observer.get(self.base + '/' + name)[1]
            self.assertEqual(stat['ephemeralOwner'], session.client_id()[0])

    def test_join_leave_many(self):
        session = self.session()
        spc = self.monitor_spc(session)
        fds = None
        for i in range(1000):
            m = membership.Membership(session, self.base, "node%d" % i,
                                      async_mode=False)
            m.leave()
            if i == 10:
                fds = fx.open_fds()
        # 0.4.0 opened pipes per call: here nothing grows
        self.assertEqual(fx.open_fds(), fds)
        self.wait_members(spc, set(), 10)
        self.assertEqual(session.get_children(self.base), [])

    def test_leak(self):
        session = self.session()
        spc = self.monitor_spc(session)
        before = fx.open_fds()
        mem = membership.Membership(session, self.base, "node0")
        mem.leave()
        eventlet.sleep(0.5)
        self.wait_members(spc, set())
        self.assertEqual(fx.open_fds(), before)


class TestOriginalExamples(APITestCase):
    """evzookeeper 0.4.0's examples (queue.py: test_queue)."""

    def test_basic(self):
        session = self.session()
        tmp = self.base + '-tmp'
        session.create(tmp, "abc", [evzookeeper.ZOO_OPEN_ACL_UNSAFE],
                       zookeeper.EPHEMERAL)
        acl, stat = session.get_acl(tmp)
        self.assertEqual(acl, [evzookeeper.ZOO_OPEN_ACL_UNSAFE])
        self.assertEqual(stat['ephemeralOwner'], session.client_id()[0])
        try:
            session.create(self.base, "abc", [evzookeeper.ZOO_OPEN_ACL_UNSAFE],
                           0)
        except zookeeper.NodeExistsException:
            pass
        self.assertRaises(zookeeper.NodeExistsException, session.create,
                          self.base, "abc", [evzookeeper.ZOO_OPEN_ACL_UNSAFE],
                          0)
        self.assertEqual(session.exists(self.base)['dataLength'], 3)
        self.assertEqual(session.delete(self.base), zookeeper.OK)
        session.create(self.base, "abc", [evzookeeper.ZOO_OPEN_ACL_UNSAFE], 0)
        self.assertEqual(session.get(self.base)[0], b"abc")
        self.assertEqual(session.set(self.base, "def"), zookeeper.OK)
        self.assertEqual(session.get(self.base)[0], b"def")
        self.assertEqual(session.sync(self.base), zookeeper.OK)
        session.delete(self.base)

    def test_acl(self):
        session = self.session()
        acl = [{"perms": zookeeper.PERM_ALL, "scheme": "auth", "id": ""}]
        session.add_auth("digest", "user:pass")
        session.create(self.base, "abc", acl, zookeeper.EPHEMERAL)
        got, _stat = session.get_acl(self.base)
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]['scheme'], 'digest')
        self.assertTrue(got[0]['id'].startswith('user:'))
        self.assertRaises(zookeeper.NoAuthException, self.session().get,
                          self.base)
        # set_acl as well: open it up again
        self.assertEqual(session.set_acl(self.base, -1,
                                         [evzookeeper.ZOO_OPEN_ACL_UNSAFE]),
                         zookeeper.OK)
        self.assertEqual(self.session().get(self.base)[0], b'abc')

    def test_membership(self):
        # NodeMonitor's callback asks for every member's details (blocking
        # calls in the callback's green thread); NodeManagers join later
        session = self.session(timeout=None, recv_timeout=4000)
        details = {}
        done = utils.StatePipeCondition()

        def monitor(members):
            for member in members or ():
                details[member] = mon.get_member_details(member)
            done.set_and_notify(set(members or ()))
        mon = membership.MembershipMonitor(session, self.base,
                                           cb_func=monitor)
        managers = [membership.Membership(session, self.base, name)
                    for name in ("node1", "node2")]
        eventlet.sleep(0.3)
        managers.append(membership.Membership(session, self.base, "node3"))
        self.wait_members(done, {"node1", "node2", "node3"})
        for name, member in zip(("node1", "node2", "node3"), managers):
            value, stat = details[name]
            self.assertEqual(value.decode(), member._session_token)
            self.assertEqual(stat['ephemeralOwner'], session.client_id()[0])


class TestRefresh(APITestCase):

    def test_refresh_recreates_a_deleted_node(self):
        worker, other = self.session(), self.session()
        member = membership.Membership(worker, self.base, 'w')
        self.assertIs(member.refresh(), False)  # there already
        other.delete(member.path)
        self.assertIs(member.refresh(quiet=False), True)
        data, stat = other.get(member.path)
        self.assertEqual(data.decode(), member._session_token)
        self.assertEqual(stat['ephemeralOwner'], worker.client_id()[0])
        member.leave()
        self.assertIsNone(member.refresh())
        self.assertRaises(zookeeper.NoNodeException, other.get, member.path)

    def test_refresh_when_another_session_took_the_name(self):
        worker, other = self.session(), self.session()
        member = membership.Membership(worker, self.base, 'w')
        other.delete(member.path)
        other.create(member.path, 'intruder', None, zookeeper.EPHEMERAL)
        self.assertIsNone(member.refresh(quiet=True))
        self.assertRaises(RuntimeError, member.refresh, quiet=False)
        self.assertEqual(other.get(member.path)[0], b'intruder')

    def test_refresh_on_a_closed_session(self):
        worker = self.session()
        member = membership.Membership(worker, self.base, 'w')
        worker.close()
        self.assertIsNone(member.refresh(quiet=True))


class TestAsyncMode(APITestCase):

    def test_joins_in_the_background(self):
        session = self.session()
        ticker = fx.Ticker()
        try:
            started = time.monotonic()
            member = membership.Membership(session, self.base, 'a',
                                           async_mode=True)
            self.assertTrue(time.monotonic() - started < 0.05)
            fx.wait_for(lambda: member.joined, 5, 'joined')
        finally:
            ticker.stop()
        stat = session.exists(member.path)
        self.assertEqual(stat['ephemeralOwner'], session.client_id()[0])
        member.leave()
        self.assertRaises(zookeeper.NoNodeException, session.get,
                          member.path)

    def test_a_name_held_elsewhere_is_not_raised(self):
        holder, late = self.session(), self.session()
        membership.Membership(holder, self.base, 'dup')
        member = membership.Membership(late, self.base, 'dup',
                                       async_mode=True)  # no RuntimeError
        eventlet.sleep(0.5)
        self.assertFalse(member.joined)
        self.assertEqual(holder.exists(member.path)['ephemeralOwner'],
                         holder.client_id()[0])
        member.leave()  # does not delete the holder's node
        self.assertEqual(holder.exists(member.path)['ephemeralOwner'],
                         holder.client_id()[0])

    def test_leave_before_the_join_ran(self):
        session = self.session()
        member = membership.Membership(session, self.base, 'early',
                                       async_mode=True)
        member.leave()
        eventlet.sleep(0.3)
        self.assertRaises(zookeeper.NoNodeException, session.get,
                          member.path)

    def test_recreated_after_expiry(self):
        session, observer = self.session(), self.session()
        member = membership.Membership(session, self.base, 'a',
                                       async_mode=True)
        fx.wait_for(lambda: member.joined, 5, 'joined')
        old_sid = session.client_id()[0]
        fx.expire_session(self.server, session)
        fx.wait_for(lambda: fx.stat_or_none(observer, member.path) and
                    observer.exists(member.path)['ephemeralOwner'] not in
                    (0, old_sid), 10, 'node of the new session')


class TestAsyncModeBeforeTheServer(APITestCase):
    """The server comes after the member: this class's own server."""

    @classmethod
    def setUpClass(cls):
        cls.server = fx.own_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_member_of_a_session_still_connecting(self):
        self.server.stop()
        try:
            session = self.session(timeout=None)  # 0.4.0's default
            started = time.monotonic()
            member = membership.Membership(session, self.base, 'early',
                                           async_mode=True)
            self.assertTrue(time.monotonic() - started < 0.5)
            # the sync mode cannot join now
            with _timeout.Timeout(10):
                self.assertRaises(zookeeper.ZooKeeperException,
                                  membership.Membership, session, self.base,
                                  'sync')
            self.assertFalse(member.joined)
            eventlet.sleep(0.5)
        finally:
            self.server.start()
        fx.wait_for(lambda: member.joined, 15, 'joined once connected')
        self.assertEqual(session.exists(member.path)['ephemeralOwner'],
                         session.client_id()[0])

"""What a MembershipMonitor counts as a member, what a read costs, and what
an idle session does, against a real ZooKeeper server.

A member is a child that a live session owns (ephemeralOwner != 0); the set
is asked about each child once, when it appears; get_all() hands out the
watched set itself; a connected session polls nothing.
"""

import os
import unittest

import eventlet
import zookeeper

import evzookeeper
from evzookeeper import membership

import evzk_fixture as fx

EPHEMERAL = zookeeper.EPHEMERAL


def counting(func, calls):
    """``func``, appending each call's first argument to ``calls``."""
    def counted(arg, *args, **kwargs):
        calls.append(arg)
        return func(arg, *args, **kwargs)
    return counted


class LiveMembersTestCase(fx.SessionTestCase):

    def monitor(self, session):
        monitor = membership.MembershipMonitor(session, self.base)
        self.assertEqual(monitor.wait_until_ready(5), set())
        return monitor


class TestOnlyEphemeralChildrenAreMembers(LiveMembersTestCase):

    def test_persistent_child_is_never_a_member(self):
        writer, reader = self.session(), self.session()
        monitor = self.monitor(reader)
        writer.create(self.base + '/ghost', b'')
        writer.create(self.base + '/live', b'', flags=EPHEMERAL)
        fx.wait_for(lambda: monitor.get_all() == {'live'}, 5, 'live only')
        eventlet.sleep(0.3)
        self.assertEqual(monitor.get_all(), {'live'})

    def test_persistent_child_seen_at_the_first_read(self):
        writer = self.session()
        writer.create(self.base, b'ZKMembers')
        writer.create(self.base + '/ghost', b'')
        writer.create(self.base + '/live', b'', flags=EPHEMERAL)
        monitor = membership.MembershipMonitor(self.session(), self.base)
        self.assertEqual(monitor.wait_until_ready(5), {'live'})

    def test_name_that_flips_from_persistent_to_ephemeral_becomes_member(self):
        # An operator deletes a leftover persistent node and the worker
        # that waited for the name creates its ephemeral node at once:
        # the name may be in both child lists the monitor reads.
        writer, reader = self.session(), self.session()
        monitor = self.monitor(reader)
        writer.create(self.base + '/h1', b'')
        writer.create(self.base + '/other', b'', flags=EPHEMERAL)
        fx.wait_for(lambda: monitor.get_all() == {'other'}, 5, 'other')
        writer.delete(self.base + '/h1')
        writer.create(self.base + '/h1', b'', flags=EPHEMERAL)
        fx.wait_for(lambda: monitor.get_all() == {'h1', 'other'}, 5,
                    'h1 became a member')

    def test_name_that_flips_from_ephemeral_to_persistent_drops_out(self):
        writer, reader = self.session(), self.session()
        monitor = self.monitor(reader)
        writer.create(self.base + '/h1', b'', flags=EPHEMERAL)
        fx.wait_for(lambda: monitor.get_all() == {'h1'}, 5, 'h1')
        writer.delete(self.base + '/h1')
        fx.wait_for(lambda: monitor.get_all() == set(), 5, 'h1 gone')
        writer.create(self.base + '/h1', b'')
        eventlet.sleep(0.3)
        self.assertEqual(monitor.get_all(), set())


class TestReadCost(LiveMembersTestCase):

    def test_each_child_is_asked_about_once(self):
        writer, reader = self.session(), self.session()
        writer.create(self.base, b'ZKMembers')
        for i in range(20):
            writer.create('%s/m%02d' % (self.base, i), b'', flags=EPHEMERAL)
        batches = []
        reader.exists_many = counting(reader.exists_many, batches)
        monitor = membership.MembershipMonitor(reader, self.base)
        self.assertEqual(len(monitor.wait_until_ready(5)), 20)
        self.assertEqual([20], [len(paths) for paths in batches])
        del batches[:]
        writer.create(self.base + '/new', b'', flags=EPHEMERAL)
        fx.wait_for(lambda: 'new' in monitor.get_all(), 5, 'new')
        writer.delete(self.base + '/m00')
        fx.wait_for(lambda: 'm00' not in monitor.get_all(), 5, 'm00 gone')
        self.assertEqual([[self.base + '/new']], batches)

    def test_get_all_hands_out_the_watched_set_without_copying(self):
        writer, reader = self.session(), self.session()
        monitor = self.monitor(reader)
        writer.create(self.base + '/a', b'', flags=EPHEMERAL)
        fx.wait_for(lambda: monitor.get_all() == {'a'}, 5, 'a')
        self.assertIs(monitor.get_all(), monitor.get_all())
        self.assertTrue(membership.MembershipMonitor.live_members_only)


class TestSnapshot(LiveMembersTestCase):
    """A monitor seeded with an earlier monitor's snapshot() (another
    process, in the driver) asks about no child while the group's children
    have not changed, and about every child when they have."""

    def populated(self, writer, names):
        writer.create(self.base, b'ZKMembers')
        for name in names:
            writer.create('%s/%s' % (self.base, name), b'', flags=EPHEMERAL)
        writer.create(self.base + '/ghost', b'')

    def read(self, known):
        reader = self.session()
        batches = []
        reader.exists_many = counting(reader.exists_many, batches)
        monitor = membership.MembershipMonitor(reader, self.base,
                                               known=known)
        members = monitor.wait_until_ready(5)
        return monitor, members, sum(len(paths) for paths in batches)

    def test_unchanged_children_are_not_asked_about(self):
        writer = self.session()
        self.populated(writer, ['a', 'b', 'c'])
        first, members, asked = self.read({})
        self.assertEqual(({'a', 'b', 'c'}, 4), (members, asked))
        snapshot = first.snapshot()
        self.assertEqual(0, snapshot['owners']['ghost'])
        self.assertEqual(writer.client_id()[0], snapshot['owners']['a'])
        second, members, asked = self.read(snapshot)
        self.assertEqual(({'a', 'b', 'c'}, 0), (members, asked))
        self.assertEqual(snapshot, second.snapshot())
        # and it watches as any monitor does
        writer.create(self.base + '/d', b'', flags=EPHEMERAL)
        fx.wait_for(lambda: second.get_all() == {'a', 'b', 'c', 'd'}, 5, 'd')

    def test_only_the_first_read_is_tracked(self):
        # the snapshot is of the first read: a long-lived reader must not
        # pay two exists of the group for every change after it
        writer = self.session()
        self.populated(writer, ['a'])
        reader = self.session()
        looked = []
        reader.exists = counting(reader.exists, looked)
        monitor = membership.MembershipMonitor(reader, self.base, known={})
        self.assertEqual({'a'}, monitor.wait_until_ready(5))
        self.assertEqual([self.base] * 2, looked)
        snapshot = monitor.snapshot()
        del looked[:]
        for name in ('b', 'c'):
            writer.create('%s/%s' % (self.base, name), b'', flags=EPHEMERAL)
            fx.wait_for(lambda: name in monitor.get_all(), 5, name)
        writer.delete(self.base + '/a')
        fx.wait_for(lambda: 'a' not in monitor.get_all(), 5, 'a gone')
        self.assertEqual([], looked)
        self.assertEqual(snapshot, monitor.snapshot())

    def test_a_forged_node_in_place_of_a_member_is_not_taken(self):
        # a worker's node deleted and a persistent one of its name forged
        # after the snapshot: same names, but the children changed
        writer = self.session()
        self.populated(writer, ['a', 'b'])
        snapshot = self.read({})[0].snapshot()
        writer.delete(self.base + '/a')
        writer.create(self.base + '/a', b'')
        monitor, members, asked = self.read(snapshot)
        self.assertEqual(({'b'}, 3), (members, asked))
        self.assertNotEqual(snapshot, monitor.snapshot())

    def test_a_group_created_again_is_read_again(self):
        # the version includes the group node's creation: a group (or a
        # whole tree) created again whose pzxid happens to match is not
        # taken for the old one
        writer = self.session()
        self.populated(writer, ['a'])
        snapshot = self.read({})[0].snapshot()
        forged = dict(snapshot, version=[snapshot['version'][0] + 1] +
                      snapshot['version'][1:])
        self.assertEqual(({'a'}, 2), self.read(forged)[1:])

    def test_malformed_snapshots_are_ignored(self):
        writer = self.session()
        self.populated(writer, ['a'])
        for known in ({'version': 1}, {'owners': None}, {'x': 1}, []):
            self.assertEqual(({'a'}, 2), self.read(known)[1:], known)

    def test_no_snapshot_unless_asked(self):
        writer = self.session()
        self.populated(writer, ['a'])
        monitor, members, asked = self.read(None)
        self.assertEqual(({'a'}, 2), (members, asked))
        self.assertIsNone(monitor.snapshot())


class TestExistsMany(LiveMembersTestCase):

    def test_stats_in_order_none_for_missing(self):
        s = self.session()
        s.create(self.base, b'')
        paths = ['%s/n%03d' % (self.base, i) for i in range(300)]
        for path in paths[::2]:
            s.create(path, b'', flags=EPHEMERAL)
        stats = s.exists_many(paths)
        self.assertEqual(len(paths), len(stats))
        for i, stat in enumerate(stats):
            if i % 2:
                self.assertIsNone(stat)
            else:
                self.assertEqual(s.client_id()[0], stat['ephemeralOwner'])
        self.assertEqual([], s.exists_many([]))
        self.assertEqual({}, s._pending)

    def test_an_error_is_raised(self):
        s = self.session()
        self.assertRaises(zookeeper.BadArgumentsException, s.exists_many,
                          ['/', 'not-absolute'])
        self.assertEqual({}, s._pending)


class TestIdleSession(LiveMembersTestCase):

    def test_connected_session_does_no_periodic_work(self):
        session = self.session()
        monitor = self.monitor(session)
        membership.Membership(session, self.base, 'idle')
        fx.wait_for(lambda: monitor.get_all() == {'idle'}, 5, 'idle')
        polls = []
        state = zookeeper.state
        zookeeper.state = counting(state, polls)
        try:
            # longer than two poll intervals of the old once-a-second poll
            eventlet.sleep(2.5 * evzookeeper.STATE_POLL_INTERVAL)
        finally:
            zookeeper.state = state
        self.assertEqual(polls, [])
        self.assertIsNone(session._bridge._tick)


class TestFork(LiveMembersTestCase):

    def test_a_parent_that_forked_with_a_session_polls_for_good(self):
        # the child shares the hub's epoll instance and the pipe: the
        # parent's dispatcher must not depend on the pipe's wake-ups alone
        session = self.session()
        self.assertIsNone(session._bridge._tick)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        self.assertEqual(evzookeeper.STATE_POLL_INTERVAL,
                         session._bridge._tick)
        session.create(self.base, b'')  # the dispatcher still runs
        eventlet.sleep(0.1)
        self.assertEqual(evzookeeper.STATE_POLL_INTERVAL,
                         session._bridge._tick)


class TestPollWhileAway(unittest.TestCase):

    def test_state_is_polled_only_while_not_connected(self):
        server = fx.own_server()
        try:
            session = evzookeeper.ZKSession(server.address, timeout=10,
                                            recv_timeout=fx.RECV_TIMEOUT)
            try:
                self.assertIsNone(session._bridge._tick)
                server.stop()
                fx.wait_for(lambda: session._bridge._tick ==
                            evzookeeper.STATE_POLL_INTERVAL, 5, 'polling')
                server.start()
                fx.wait_for(session._connected, 15, 'connected again')
                self.assertIsNone(session._bridge._tick)
            finally:
                session.close()
        finally:
            server.cleanup()


if __name__ == '__main__':
    unittest.main()

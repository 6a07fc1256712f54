"""zkgroup's session and membership against real ZooKeeper servers, under
both concurrency models (eventlet without monkey patching, as a program
that uses green threads explicitly would)."""

import logging
import os
import shutil
import tempfile
import threading
import time
import unittest

import fixtures
import zookeeper

from nova.tests import zkserver
from zkgroup import address as zkaddress
from zkgroup import concurrency
from zkgroup import membership
from zkgroup import names
from zkgroup import session as zksession

TICK_MS = 200
TIMEOUT_MS = 2000


def _host(name):
    return name.rsplit('@', 1)[0]


class _MembershipTests(object):
    model_name = None

    @classmethod
    def setUpClass(cls):
        cls.server = zkserver.ZooKeeperServer(tick_time=TICK_MS).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.model = concurrency.get(self.model_name)
        self.prefix = '/t%d-%s' % (os.getpid(), self.id().rsplit('.', 1)[-1])
        self.log = fixtures.FakeLogger(name='zkgroup', level=logging.WARNING,
                                       format='%(message)s')
        self.log.setUp()
        self.addCleanup(self.log.cleanUp)
        self.info = fixtures.FakeLogger(name='zkgroup.session',
                                        level=logging.INFO,
                                        format='%(message)s')
        self.info.setUp()
        self.addCleanup(self.info.cleanUp)

    def session(self, address=None, **kwargs):
        s = zksession.Session(address or self.server.address, self.model,
                              TIMEOUT_MS, **kwargs)
        self.addCleanup(s.close)
        self.assertTrue(s.wait_connected(10), 'no session')
        return s

    def wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        while not predicate():
            if time.monotonic() > deadline:
                self.fail('%s: not within %s s' % (what, timeout))
            self.model.sleep(0.01)
        return time.monotonic() - started

    def group(self, s, path=None):
        g = membership.Group(s, path or self.prefix + '/compute',
                             retry_interval=0.5, key=_host)
        self.addCleanup(g.stop)
        self.assertTrue(g.ready.wait(10))
        return g

    def member(self, s, name, path=None):
        m = membership.Member(s, path or self.prefix + '/compute', name,
                              retry_interval=0.5)
        self.addCleanup(m.stop)
        self.assertTrue(m.joined.wait(10))
        return m

    def test_join_seen_and_read_without_copy(self):
        reader = self.group(self.session())
        self.assertEqual({}, reader.members())
        self.member(self.session(), 'h1@1-a')
        self.wait(lambda: 'h1' in reader.members(), 5, 'h1 seen')
        # a read is a lookup in the same published dict
        self.assertIs(reader.members(), reader.members())

    def test_leave_is_seen_at_once_and_sticks(self):
        reader = self.group(self.session())
        m = self.member(self.session(), 'h1@1-a')
        self.wait(lambda: 'h1' in reader.members(), 5, 'h1 seen')
        self.assertTrue(m.leave())
        took = self.wait(lambda: 'h1' not in reader.members(), 1, 'h1 gone')
        self.assertLess(took, 1)
        self.model.sleep(1.0)  # the loop must not bring it back
        self.assertNotIn('h1', reader.members())

    def test_leave_while_away_completes_when_back(self):
        server = zkserver.ZooKeeperServer(tick_time=TICK_MS).start()
        self.addCleanup(server.stop)
        s = self.session(server.address)
        m = self.member(s, 'h1@1-a')
        held_by = s.session_id
        server.stop()
        self.wait(lambda: not s.is_connected(), 5, 'disconnected')
        self.assertFalse(m.leave())
        server.start()
        self.wait(s.is_connected, 10, 'reconnected')
        # the same session: its node would have stayed without the retry
        self.assertEqual(held_by, s.session_id)
        reader = self.group(self.session(server.address))
        self.wait(lambda: 'h1' not in reader.members(), 5, 'h1 gone')
        self.assertIsNone(s.call(zookeeper.exists, m.path, None))

    def test_node_deleted_by_someone_else_is_recreated(self):
        admin = self.session()
        m = self.member(self.session(), 'h1@1-a')
        admin.call(zookeeper.delete, m.path)
        self.wait(lambda: admin.call(zookeeper.exists, m.path, None)
                  is not None, 5, 'node re-created')
        self.assertIn('deleted by someone else', self.log.output)

    def test_chroot_of_the_address_is_created(self):
        # The C client does not create a missing chroot, and inside it
        # nothing can be created: a member would never join.
        chroot = self.prefix + '/region-1'
        address = self.server.address + chroot
        s = self.session(address, auth_digest='nova:secret')
        reader = self.group(s, '/servicegroups/compute')
        self.member(s, 'h1@1-a', '/servicegroups/compute')
        self.wait(lambda: 'h1' in reader.members(), 5, 'h1 seen')
        outside = self.session()
        self.assertEqual(['h1@1-a'], outside.call(
            zookeeper.get_children, chroot + '/servicegroups/compute', None))
        acl = outside.call(zookeeper.get_acl, chroot)[1]  # (stat, acl)
        self.assertEqual(['digest', 'world'],
                         sorted(entry['scheme'] for entry in acl))
        self.assertIn('creating the chroot', ''.join(self.info.output))

    def test_session_timeout_the_server_changed_is_reported(self):
        # tickTime 200 ms: the server grants at least 400 ms
        s = zksession.Session(self.server.address, self.model, 100)
        self.addCleanup(s.close)
        self.assertTrue(s.wait_connected(10))
        self.assertEqual(0.4, s.session_timeout())
        self.wait(lambda: 'granted 400 ms' in self.log.output, 5, 'warning')
        self.assertIn('asked for a session timeout of 100 ms',
                      self.log.output)
        # a timeout the server grants as asked is not worth a line
        self.assertEqual(TIMEOUT_MS / 1000.0,
                         self.session().session_timeout())
        self.assertEqual(1, self.log.output.count('granted'))

    def test_processes_of_one_host_share_its_liveness(self):
        reader = self.group(self.session())
        a = self.member(self.session(), 'h1@1-a')
        self.member(self.session(), 'h1@2-b')
        self.wait(lambda: 'h1' in reader.members(), 5, 'h1 seen')
        a.leave()
        self.model.sleep(0.5)
        self.assertIn('h1', reader.members())

    def test_persistent_node_is_no_member(self):
        admin = self.session()
        reader = self.group(admin)
        admin.call(zookeeper.create, self.prefix + '/compute/ghost@1-x', '',
                   [zookeeper.ZOO_OPEN_ACL_UNSAFE], 0)
        self.member(self.session(), 'h1@1-a')
        self.wait(lambda: 'h1' in reader.members(), 5, 'h1 seen')
        self.assertNotIn('ghost', reader.members())

    def test_many_members_in_one_read(self):
        holder = self.session()
        holder.ensure_path(self.prefix + '/compute')
        for i in range(300):
            holder.call(zookeeper.create,
                        '%s/compute/h%03d@1-a' % (self.prefix, i), '',
                        holder.acl, zookeeper.EPHEMERAL)
        holder.call(zookeeper.create, self.prefix + '/compute/ghost@1-a',
                    '', holder.acl, 0)
        reader = self.group(self.session())
        self.assertEqual(set('h%03d' % i for i in range(300)),
                         set(reader.members()))
        self.assertEqual([None, None], holder.exists_many(
            [self.prefix + '/none', self.prefix + '/compute/none']))

    def test_expired_session_rejoins_on_a_new_one(self):
        reader = self.group(self.session())
        s = self.session()
        self.member(s, 'h1@1-a')
        self.wait(lambda: 'h1' in reader.members(), 5, 'h1 seen')
        old = s.session_id
        _expire(s)
        self.wait(lambda: s.session_id not in (None, old), 10, 'new session')
        self.wait(lambda: 'h1' in (reader.members() or {}), 5, 'h1 back')
        self.assertIn('expired', self.log.output)

    def test_new_session_when_init_fails_for_a_while(self):
        # The outage that expired the session may take the servers' names
        # with it: init() raises until they resolve again.
        self.patch(zksession, 'REOPEN_MIN', 0.1)
        reader = self.group(self.session())
        s = self.session()
        self.member(s, 'h1@1-a')
        self.wait(lambda: 'h1' in reader.members(), 5, 'h1 seen')
        refused = []

        def unresolved(*args):
            if len(refused) < 3:
                refused.append(args[0])
                raise zookeeper.ZooKeeperException(
                    "zookeeper_init('%s') failed: Name or service not known"
                    % args[0])
            return _REAL_INIT(*args)
        self.patch(zookeeper, 'init', unresolved)
        old = s.session_id
        _expire(s)
        self.wait(lambda: s.session_id not in (None, old), 10, 'new session')
        self.wait(lambda: 'h1' in (reader.members() or {}), 5, 'h1 back')
        self.assertEqual([s.address] * 3, refused)
        self.assertIn('cannot open a ZooKeeper session', self.log.output)

    def test_server_that_enforces_auth_is_asked_once_a_retry(self):
        # The server closes the connection at the first request of a client
        # that did not authenticate; the C client reconnects at once.
        server = zkserver.ZooKeeperServer(
            tick_time=TICK_MS, extra_config=[
                'enforce.auth.enabled=true',
                'enforce.auth.schemes=digest']).start()
        self.addCleanup(server.stop)
        s = self.session(server.address)
        tries = []
        call = s.call

        def counted(func, *args):
            tries.append(func.__name__)
            return call(func, *args)
        s.call = counted
        path = self.prefix + '/compute'
        m = membership.Member(s, path, 'h1@1-a', retry_interval=1.0)
        self.addCleanup(m.stop)
        g = membership.Group(s, path, retry_interval=1.0, key=_host)
        self.addCleanup(g.stop)
        self.model.sleep(3.0)
        self.assertFalse(m.joined.is_set())
        self.assertIsNone(g.members())
        # three or four tries per loop in 3 s (the C client's pings are
        # refused too: the reconnects alone say nothing); without the
        # pause one at each reconnect, dozens a second
        self.assertLessEqual(len(tries), 16, tries)
        lines = [line for line in self.log.output.splitlines()
                 if line.startswith(m.path) and 'refuses' in line]
        self.assertEqual(1, len(lines), self.log.output)
        self.assertIn('refuses this client without credentials (set '
                      'auth_digest)', lines[0])
        self.assertIn('set auth_digest', g.last_error)
        # with credentials the same server takes the member
        ok = self.session(server.address, auth_digest='nova:secret')
        reader = self.group(ok)
        self.member(ok, 'h2@1-a')
        self.wait(lambda: 'h2' in reader.members(), 5, 'h2 seen')
        self.assertNotIn('h1', reader.members())

    def test_session_to_an_unresolvable_name_keeps_trying(self):
        self.patch(zksession, 'REOPEN_MIN', 0.1)
        opened = []

        def init(*args):
            opened.append(args[0])
            return _REAL_INIT(*args)
        self.patch(zookeeper, 'init', init)
        s = zksession.Session('no-such-zk.invalid:%d' % self.server.port,
                              self.model, TIMEOUT_MS)
        self.addCleanup(s.close)
        self.wait(lambda: len(opened) >= 3, 5, 'three attempts')
        self.assertFalse(s.is_connected())
        self.assertIn('cannot resolve host no-such-zk.invalid',
                      self.log.output)
        s.close()
        count = len(opened)
        self.model.sleep(1.0)
        self.assertEqual(count, len(opened), 'tried again after close()')

    def test_unknown_while_away_then_known_again(self):
        server = zkserver.ZooKeeperServer(tick_time=TICK_MS).start()
        self.addCleanup(server.stop)
        reader = self.group(self.session(server.address))
        self.member(self.session(server.address), 'h1@1-a')
        self.wait(lambda: 'h1' in reader.members(), 5, 'h1 seen')
        server.stop()
        # never "down": unknown
        self.wait(lambda: reader.members() is None, 5, 'unknown')
        server.start()
        self.wait(lambda: 'h1' in (reader.members() or {}), 15, 'h1 back')

    def test_refused_session_is_given_up(self):
        # A fresh server (data lost) refuses a client that saw a higher
        # zxid; the session gives the old one up for a new one.
        base = tempfile.mkdtemp(prefix='zkgroup-lost-')
        self.addCleanup(shutil.rmtree, base, True)
        server = zkserver.ZooKeeperServer(tick_time=TICK_MS).start()
        self.addCleanup(server.stop)
        self.patch(zksession, 'GIVE_UP_MIN', 3.0)
        self.patch(zksession, 'GIVE_UP_TIMEOUTS', 1)
        s = self.session(server.address)
        self.member(s, 'h1@1-a')
        for i in range(30):  # a zxid the new server will not have seen
            s.call(zookeeper.create, '%s/n%d' % (self.prefix, i), '',
                   [zookeeper.ZOO_OPEN_ACL_UNSAFE], 0)
        old = s.session_id
        server.stop()
        fresh = zkserver.ZooKeeperServer(tick_time=TICK_MS, port=server.port,
                                         base_dir=base).start()
        self.addCleanup(fresh.stop)
        reader = self.group(self.session(fresh.address))
        took = self.wait(lambda: 'h1' in (reader.members() or {}), 20,
                         'h1 on the fresh server')
        self.assertNotEqual(old, s.session_id)
        self.assertIn('giving it up', self.log.output, took)

    def patch(self, obj, name, value):
        old = getattr(obj, name)
        setattr(obj, name, value)
        self.addCleanup(setattr, obj, name, old)


_REAL_INIT = zookeeper.init


def _expire(s):
    """Expire ``s``'s session on the server: a second handle takes it over
    and closes it (the server ends a session when any holder closes it)."""
    session_id, passwd = zookeeper.client_id(s.handle)
    twin = _REAL_INIT(s.address, None, TIMEOUT_MS, (session_id, passwd))
    deadline = time.monotonic() + 10
    while zookeeper.state(twin) != zookeeper.CONNECTED_STATE:
        if time.monotonic() > deadline:
            raise AssertionError('the twin handle did not connect')
        s.concurrency.sleep(0.01)
    zookeeper.close(twin)


class ThreadingMembershipTest(_MembershipTests, unittest.TestCase):
    model_name = 'threading'

    def test_connected_before_init_returned(self):
        # The C client may connect before init() has returned the handle to
        # the session (its caller preempted): that first event must count.
        real_init = zookeeper.init
        forwarded = threading.Event()

        def slow_init(address, watcher, timeout):
            def watch(*args):
                watcher(*args)
                forwarded.set()
            handle = real_init(address, watch, timeout)
            self.assertTrue(forwarded.wait(10), 'no session event')
            time.sleep(0.2)  # for the dispatcher to look at it first
            return handle
        zookeeper.init = slow_init
        self.addCleanup(setattr, zookeeper, 'init', real_init)
        s = zksession.Session(self.server.address, self.model, TIMEOUT_MS)
        self.addCleanup(s.close)
        self.assertTrue(s.wait_connected(5), 'the first event was lost')
        self.assertIsNotNone(s.session_id)


class EventletMembershipTest(_MembershipTests, unittest.TestCase):
    model_name = 'eventlet'

    def test_hub_keeps_running_while_zookeeper_is_away(self):
        import eventlet
        server = zkserver.ZooKeeperServer(tick_time=TICK_MS).start()
        self.addCleanup(server.stop)
        s = self.session(server.address)
        m = self.member(s, 'h1@1-a')
        server.stop()
        self.wait(lambda: not s.is_connected(), 5, 'disconnected')
        m.leave()  # a call while away: it must not stall the hub
        ticks = []

        def ticker():
            for _i in range(20):
                ticks.append(time.monotonic())
                eventlet.sleep(0.05)
        t = eventlet.spawn(ticker)
        for _i in range(3):
            try:
                s.call(zookeeper.exists, '/', None)
            except zookeeper.ZooKeeperException:
                pass
        t.wait()
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        self.assertLess(max(gaps), 0.5, gaps)


class NamesTest(unittest.TestCase):

    def test_what_zookeeper_refuses(self):
        for bad in ('', 'a/b', '.', '..', 'tab\there', 'del\x7f',
                    'emoji\U0001f600', '\ufff0x'):
            self.assertRaises(names.InvalidName, names.check, 'host', bad)
        for good in ('compute-1', 'h\u00e9te', 'a.b', '...', 'x@y'):
            self.assertEqual(good, names.check('host', good))

    def test_message_names_kind_and_value(self):
        try:
            names.check('topic', 'a/b')
        except names.InvalidName as exc:
            self.assertIn("invalid topic 'a/b'", str(exc))
        else:
            self.fail('a/b accepted')


class AddressTest(unittest.TestCase):

    def test_parse(self):
        self.assertEqual(([('zk1', 2181), ('::1', 2182)], '/nova'),
                         zkaddress.parse('zk1:2181, [::1]:2182/nova'))
        for bad, what in (('', 'no server given'),
                          ('zk1', "'zk1' is not host:port"),
                          ('zk1:0', "the port '0'"),
                          ('zk1:2181,', "'' is not host:port"),
                          ('zk1:2181//nova', 'the chroot //nova'),
                          ('[zk1:2181', "'[zk1' is not a host")):
            try:
                zkaddress.parse(bad)
            except zkaddress.InvalidAddress as exc:
                self.assertIn('%r: ' % bad, str(exc))
                self.assertIn(what, str(exc))
            else:
                self.fail('%r accepted' % bad)

    def test_unresolvable(self):
        self.assertEqual(['no-such-zk.invalid'], zkaddress.unresolvable(
            '127.0.0.1:2181,no-such-zk.invalid:2181'))


class ConcurrencyTest(unittest.TestCase):

    def test_unknown_model(self):
        try:
            concurrency.get('gevent')
        except concurrency.UnknownConcurrency as exc:
            self.assertIn("'gevent'", str(exc))
            self.assertIn('threading, eventlet', str(exc))
        else:
            self.fail('gevent accepted')

    def test_threading_imports_no_eventlet(self):
        import subprocess
        import sys
        code = ('import sys; from zkgroup import concurrency, membership, '
                'session; concurrency.get("threading"); '
                'print("eventlet" in sys.modules)')
        out = subprocess.check_output([sys.executable, '-c', code],
                                      env=dict(os.environ))
        self.assertEqual(b'False', out.strip())

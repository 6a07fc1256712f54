"""ZKSession against a real ZooKeeper: the calls, errors, watchers, the hub.

Run from the project root:

    PYTHONPATH=/work/main:/work/main/ports/zookeeper:\
/work/main/ports/evzookeeper .venv/bin/python -m nose -v \
        ports/evzookeeper/tests
"""

import logging
import os
import time
import unittest

import eventlet
import zookeeper

import evzookeeper
from evzookeeper import utils

import evzk_fixture as fx


SessionTestCase = fx.SessionTestCase


class TestCalls(SessionTestCase):

    def test_create_get_set_children_delete(self):
        s = self.session()
        self.assertTrue(s.is_connected())
        self.assertEqual(s.state(), zookeeper.CONNECTED_STATE)
        self.assertEqual(s.create(self.base, b'base'), self.base)
        self.assertEqual(s.create(self.base + '/a', 'text'),
                         self.base + '/a')
        data, stat = s.get(self.base + '/a')
        self.assertEqual(data, b'text')
        self.assertEqual(stat['version'], 0)
        self.assertEqual(s.set(self.base + '/a', b'v2'), zookeeper.OK)
        stat = s.set2(self.base + '/a', b'v3', 1)
        self.assertEqual(stat['version'], 2)
        self.assertEqual(s.get(self.base + '/a')[0], b'v3')
        self.assertEqual(s.exists(self.base + '/a')['version'], 2)
        seq = s.create(self.base + '/s-', b'', None,
                       zookeeper.SEQUENCE | zookeeper.EPHEMERAL)
        self.assertTrue(seq.startswith(self.base + '/s-'))
        self.assertEqual(sorted(s.get_children(self.base)),
                         sorted(['a', seq.rsplit('/', 1)[1]]))
        acl, _stat = s.get_acl(self.base)
        self.assertEqual(acl, [evzookeeper.ZOO_OPEN_ACL_UNSAFE])
        self.assertEqual(s.sync(self.base), zookeeper.OK)
        self.assertEqual(s.delete(self.base + '/a'), zookeeper.OK)
        self.assertEqual(s.delete(seq), zookeeper.OK)
        self.assertEqual(s.delete(self.base), zookeeper.OK)
        sid, passwd = s.client_id()
        self.assertTrue(sid > 0)
        self.assertEqual(s.session_timeout(), fx.RECV_TIMEOUT)

    def test_errors_raise_zookeeper_exceptions(self):
        s = self.session()
        s.create(self.base, b'')
        self.assertRaises(zookeeper.NodeExistsException, s.create,
                          self.base, b'')
        self.assertRaises(zookeeper.NoNodeException, s.create,
                          self.base + '/no/parent', b'')
        self.assertRaises(zookeeper.NoNodeException, s.get,
                          self.base + '/missing')
        self.assertRaises(zookeeper.NoNodeException, s.exists,
                          self.base + '/missing')
        self.assertRaises(zookeeper.NoNodeException, s.get_children,
                          self.base + '/missing')
        self.assertRaises(zookeeper.BadVersionException, s.set,
                          self.base, b'x', 7)
        s.create(self.base + '/child', b'')
        self.assertRaises(zookeeper.NotEmptyException, s.delete, self.base)
        ephemeral = s.create(self.base + '/e', b'', None, zookeeper.EPHEMERAL)
        self.assertRaises(zookeeper.NoChildrenForEphemeralsException,
                          s.create, ephemeral + '/x', b'')
        self.assertRaises(zookeeper.BadArgumentsException, s.create,
                          'no-slash', b'')
        # every one of them is a ZooKeeperException
        self.assertRaises(zookeeper.ZooKeeperException, s.delete,
                          self.base + '/missing')

    def test_calls_do_not_block_the_hub(self):
        s = self.session()
        s.create(self.base, b'')
        ticker = fx.Ticker()
        try:
            results = []

            def worker(n):
                for i in range(20):
                    path = s.create('%s/w%d-%d' % (self.base, n, i), b'x')
                    results.append(s.get(path)[0])
                    s.set(path, b'y')
                    s.delete(path)

            eventlet.sleep(0.02)
            ticker.reset()
            started = time.monotonic()
            pool = [eventlet.spawn(worker, n) for n in range(5)]
            for thread in pool:
                thread.wait()
            elapsed = time.monotonic() - started
            gap, ticks = ticker.max_gap, ticker.ticks
        finally:
            ticker.stop()
        self.assertEqual(results, [b'x'] * 100)
        # 400 round trips took a while, and the ticker kept ticking all along
        self.assertTrue(ticks >= elapsed / 0.005 / 4,
                        'only %d ticks in %.3f s' % (ticks, elapsed))
        self.assertTrue(gap < 0.1, 'the hub was blocked for %.3f s' % gap)

    def test_connect_and_close_do_not_block_the_hub(self):
        ticker = fx.Ticker()
        try:
            eventlet.sleep(0.02)
            ticker.reset()
            for _i in range(3):
                s = evzookeeper.ZKSession(self.server.address, timeout=10,
                                          recv_timeout=fx.RECV_TIMEOUT)
                s.create(self.base + '-%d' % _i, b'', None,
                         zookeeper.EPHEMERAL)
                s.close()
            gap = ticker.max_gap
        finally:
            ticker.stop()
        self.assertTrue(gap < 0.1, 'the hub was blocked for %.3f s' % gap)

    def test_concurrent_calls_one_pipe(self):
        # many calls in flight share the session's one wake-up pipe
        s = self.session()
        s.create(self.base, b'')
        before = len(fx.open_fds())
        pool = eventlet.GreenPool(200)
        paths = list(pool.imap(
            lambda i: s.create('%s/n%03d' % (self.base, i), b''),
            range(200)))
        self.assertEqual(len(paths), 200)
        self.assertEqual(len(fx.open_fds()), before)
        self.assertEqual(len(s.get_children(self.base)), 200)

    def test_watchers_run_in_green_threads(self):
        s = self.session()
        other = self.session()
        s.create(self.base, b'')
        events = eventlet.queue.LightQueue()

        def watcher(handle, event_type, state, path):
            # a watcher may call the session: it runs in a green thread
            events.put((event_type, path, s.exists(self.base)['cversion']))

        self.assertEqual(s.get_children(self.base, watcher), [])
        other.create(self.base + '/c', b'')
        self.assertEqual(events.get(timeout=5),
                         (zookeeper.CHILD_EVENT, self.base, 1))
        self.assertRaises(zookeeper.NoNodeException, s.exists,
                          self.base + '/later', watcher)
        other.create(self.base + '/later', b'')
        event_type, path, _cv = events.get(timeout=5)
        self.assertEqual((event_type, path),
                         (zookeeper.CREATED_EVENT, self.base + '/later'))
        s.get(self.base + '/later', watcher)
        other.set(self.base + '/later', b'new')
        self.assertEqual(events.get(timeout=5)[:2],
                         (zookeeper.CHANGED_EVENT, self.base + '/later'))
        # 0.4.0's keyword for exists
        s.exists(self.base + '/later', watch=watcher)
        other.delete(self.base + '/later')
        self.assertEqual(events.get(timeout=5)[:2],
                         (zookeeper.DELETED_EVENT, self.base + '/later'))

    def test_connection_callbacks(self):
        spc = utils.StatePipeCondition()
        calls = []
        s = self.session(init_cbs=[spc])
        s.add_connection_callback(lambda *args: calls.append(args))
        handle, event_type, state, path = spc.wait_and_get(timeout=5)
        while state != zookeeper.CONNECTED_STATE:
            handle, event_type, state, path = spc.wait_and_get(timeout=5)
        self.assertEqual(event_type, zookeeper.SESSION_EVENT)
        s.remove_connection_callback(spc)
        self.assertRaises(KeyError, s.remove_connection_callback, spc)

    def test_add_auth_and_digest_acl(self):
        import base64
        import hashlib
        s = self.session()
        s.add_auth('digest', 'alice:secret')
        digest = base64.b64encode(hashlib.sha1(b'alice:secret').digest())
        acl = [{'perms': zookeeper.PERM_ALL, 'scheme': 'digest',
                'id': 'alice:' + digest.decode('ascii')}]
        s.create(self.base, b'private', acl)
        self.assertEqual(s.get(self.base)[0], b'private')
        stranger = self.session()
        self.assertRaises(zookeeper.NoAuthException, stranger.get, self.base)
        s.delete(self.base)

    def test_close_fails_later_calls(self):
        s = self.session()
        s.close()
        self.assertFalse(s.is_connected())
        self.assertRaises(zookeeper.ClosingException, s.get, '/')
        s.close()  # twice is fine
        # and connect() starts over
        s.connect(timeout=10)
        self.assertTrue(s.is_connected())
        self.assertIn('zookeeper', s.get_children('/'))

    def test_session_must_not_cross_a_fork(self):
        s = self.session()
        pid = os.fork()
        if pid == 0:  # the child: never return into the test runner
            code = 3
            try:
                s.get('/')
                code = 1
            except RuntimeError:
                code = 0
            except BaseException:
                code = 2
            finally:
                os._exit(code)
        _pid, status = os.waitpid(pid, 0)
        self.assertEqual(os.WEXITSTATUS(status), 0)
        self.assertTrue(s.is_connected())
        s.get('/')

    def test_reported_loss_wins_over_the_live_state(self):
        # The C client queues CONNECTING_STATE before it leaves
        # CONNECTED_STATE: handled in between, the event must still count,
        # and a poll in that window must not bring CONNECTED_STATE back
        # (a reader then answered "up" for good with its server gone).
        s = self.session()
        self.assertEqual(zookeeper.CONNECTED_STATE, s.state())
        s._check_state(zookeeper.CONNECTING_STATE)
        self.assertFalse(s._connected())
        s._on_tick()
        self.assertFalse(s._connected())
        self.assertTrue(s.is_connected())
        s._check_state(zookeeper.CONNECTED_STATE)
        self.assertTrue(s._connected())


class _Records(logging.Handler):

    def __init__(self):
        logging.Handler.__init__(self, logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


class TestUnreachable(unittest.TestCase):

    def setUp(self):
        self.port = fx.zkserver.free_port()
        self.address = '127.0.0.1:%d' % self.port
        self.log = _Records()
        logging.getLogger('evzookeeper').addHandler(self.log)

    def tearDown(self):
        logging.getLogger('evzookeeper').removeHandler(self.log)

    def test_timeout_bounds_the_constructor(self):
        threads = fx.os_threads()
        started = time.monotonic()
        self.assertRaises(eventlet.Timeout, evzookeeper.ZKSession,
                          self.address, timeout=0.5, recv_timeout=1000)
        self.assertTrue(0.5 <= time.monotonic() - started < 2)
        # the constructor closed what the caller cannot (a joined thread
        # lingers in /proc a moment, hence settled)
        self.assertEqual(fx.settled_os_threads(), threads)

    def test_session_connects_when_the_server_comes(self):
        ticker = fx.Ticker()
        s = evzookeeper.ZKSession(self.address, recv_timeout=1000)
        try:
            self.assertFalse(s.is_connected())
            # calls fail while there is no server
            self.assertRaises(zookeeper.ConnectionLossException, s.get, '/')
            eventlet.sleep(2.2)
            warnings = [r for r in self.log.records
                        if r.levelno == logging.WARNING and
                        'not connected' in r.getMessage()]
            self.assertTrue(warnings, 'no warning while unreachable')
            server = fx.zkserver.ZooKeeperServer(tick_time=fx.TICK_TIME,
                                                 port=self.port)
            try:
                server.start()
                fx.wait_for(s.is_connected, 10, 'connection')
                self.assertIn('zookeeper', s.get_children('/'))
            finally:
                server.cleanup()
            gap = ticker.max_gap
        finally:
            s.close()
            ticker.stop()
        # server.start() polls with time.sleep: the ticker saw that, but
        # not more than the server's start-up
        self.assertTrue(gap < 30, gap)

    def test_bad_host_raises(self):
        self.assertRaises(zookeeper.ZooKeeperException, evzookeeper.ZKSession,
                          'no-such-host.invalid:2181', recv_timeout=1000)

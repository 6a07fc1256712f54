"""Tests of the zookeeper binding against a real ZooKeeper server.

Run from the project root:

    PYTHONPATH=/work/main:/work/main/ports/zookeeper \
        .venv/bin/python -m nose -v ports/zookeeper/tests

One standalone server (tickTime 200 ms: session timeouts between 400 and
4000 ms) is started for the module by nova.tests.zkserver.  Nothing is
mocked: every call goes through libzookeeper_mt to that server over TCP.
"""

import base64
import hashlib
import logging
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import zookeeper
from zookeeper import _client
from zookeeper import _ffi

from nova.tests import zkserver

SERVER = None
DEVNULL = None
TIMEOUT = 4000          # requested session timeout: the server's maximum
ACL = [zookeeper.ZOO_OPEN_ACL_UNSAFE]


def setup_module():
    global SERVER, DEVNULL
    DEVNULL = open(os.devnull, 'w')
    zookeeper.set_log_stream(DEVNULL)     # keep the C client's log quiet
    SERVER = zkserver.ZooKeeperServer(tick_time=200)
    SERVER.start()


def teardown_module():
    if SERVER is not None:
        SERVER.cleanup()
    zookeeper.set_log_stream(None)
    if DEVNULL is not None:
        DEVNULL.close()


def wait_until(predicate, timeout=10.0, what='condition'):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError('timed out waiting for %s' % what)


class Session(object):
    """A handle plus a record of what its session watcher received."""

    def __init__(self, client_id=None, recv_timeout=TIMEOUT, connect=True,
                 address=None):
        self.events = []
        self.cond = threading.Condition()
        self.handle = zookeeper.init(address or SERVER.address, self._watcher,
                                     recv_timeout, client_id)
        self.closed = False
        if connect:
            self.wait_state(zookeeper.CONNECTED_STATE)

    def _watcher(self, handle, type_, state, path):
        with self.cond:
            self.events.append((handle, type_, state, path))
            self.cond.notify_all()

    def states(self):
        with self.cond:
            return [e[2] for e in self.events]

    def wait_state(self, state, after=0, timeout=15.0):
        """Wait for a session event with ``state`` at index >= after."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for i, event in enumerate(self.events[after:], after):
                    if event[2] == state:
                        return i
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError('no state %s after %d in %r' % (
                        state, after, self.events))
                self.cond.wait(left)

    def close(self):
        if not self.closed:
            self.closed = True
            zookeeper.close(self.handle)


class Result(object):
    """A completion callback that records its arguments and its thread."""

    def __init__(self):
        self.calls = []
        self.event = threading.Event()
        self.thread = None

    def __call__(self, *args):
        self.thread = threading.current_thread()
        self.calls.append(args)
        self.event.set()

    def wait(self, timeout=10.0):
        assert self.event.wait(timeout), 'completion not called'
        return self.calls[0]


class Watch(object):
    """A node watcher that records the events it receives."""

    def __init__(self):
        self.calls = []
        self.event = threading.Event()

    def __call__(self, handle, type_, state, path):
        self.calls.append((handle, type_, state, path))
        if type_ != zookeeper.SESSION_EVENT:
            self.event.set()

    def node_events(self):
        return [c for c in self.calls if c[1] != zookeeper.SESSION_EVENT]


def digest_id(user, password):
    raw = ('%s:%s' % (user, password)).encode('utf-8')
    return '%s:%s' % (user, base64.b64encode(hashlib.sha1(raw).digest())
                      .decode('ascii'))


def fd_count():
    return len(os.listdir('/proc/self/fd'))


def task_count():
    return len(os.listdir('/proc/self/task'))


class Relay(object):
    """A TCP relay on 127.0.0.1 to the server that can cut its clients off.

    While blocked, it drops every relayed connection and closes new ones at
    once: the clients behind it lose the server while the server keeps
    running, so the server really expires their sessions.
    """

    def __init__(self, target_port):
        self.target = ('127.0.0.1', target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(16)
        self.address = '127.0.0.1:%d' % self.listener.getsockname()[1]
        self.peers = {}
        self.blocked = False
        self.stopping = False
        self.cut_done = threading.Event()
        self.cut_done.set()
        self.thread = threading.Thread(target=self._run, name='zk-relay')
        self.thread.daemon = True
        self.thread.start()

    def _drop(self, sock):
        peer = self.peers.pop(sock, None)
        sock.close()
        if peer is not None:
            self.peers.pop(peer, None)
            peer.close()

    def _run(self):
        while not self.stopping:
            if not self.cut_done.is_set():
                for sock in list(self.peers):
                    self._drop(sock)
                self.cut_done.set()
            readable = select.select([self.listener] + list(self.peers),
                                     [], [], 0.05)[0]
            for sock in readable:
                if sock is self.listener:
                    client = self.listener.accept()[0]
                    if self.blocked:
                        client.close()
                        continue
                    try:
                        upstream = socket.create_connection(self.target, 2)
                    except socket.error:
                        client.close()
                        continue
                    self.peers[client] = upstream
                    self.peers[upstream] = client
                elif sock in self.peers:
                    try:
                        data = sock.recv(65536)
                        if data:
                            self.peers[sock].sendall(data)
                            continue
                    except socket.error:
                        pass
                    self._drop(sock)
        for sock in list(self.peers):
            self._drop(sock)
        self.listener.close()

    def block(self):
        self.blocked = True
        self.cut_done.clear()
        assert self.cut_done.wait(5)

    def unblock(self):
        self.blocked = False

    def stop(self):
        self.stopping = True
        self.thread.join(5)


class BindingTestCase(unittest.TestCase):

    def setUp(self):
        self.sessions = []
        self.root = '/binding-test-%s' % uuid.uuid4().hex[:12]
        self.zk = self.session()
        zookeeper.create(self.zk.handle, self.root, b'', ACL)

    def tearDown(self):
        for session in reversed(self.sessions):
            try:
                session.close()
            except zookeeper.ZooKeeperException:
                pass
        self.assertEqual(0, _client._context_count(),
                         'callback contexts left after all handles closed')

    def session(self, **kwargs):
        session = Session(**kwargs)
        self.sessions.append(session)
        return session

    def relay(self):
        relay = Relay(SERVER.port)
        self.addCleanup(relay.stop)
        return relay


class TestModule(unittest.TestCase):

    def test_library_and_version(self):
        self.assertEqual('libzookeeper_mt.so.2', zookeeper.LIBRARY)
        self.assertTrue(zookeeper.__version__)

    def test_constants_match_the_library(self):
        lib = _ffi.lib
        for name in ('PERM_READ', 'PERM_WRITE', 'PERM_CREATE', 'PERM_DELETE',
                     'PERM_ADMIN', 'PERM_ALL', 'EPHEMERAL', 'SEQUENCE',
                     'PERSISTENT', 'PERSISTENT_SEQUENTIAL',
                     'EPHEMERAL_SEQUENTIAL', 'CONTAINER',
                     'EXPIRED_SESSION_STATE', 'AUTH_FAILED_STATE',
                     'CONNECTING_STATE', 'ASSOCIATING_STATE',
                     'CONNECTED_STATE', 'READONLY_STATE',
                     'NOTCONNECTED_STATE', 'CREATED_EVENT', 'DELETED_EVENT',
                     'CHANGED_EVENT', 'CHILD_EVENT', 'SESSION_EVENT',
                     'NOTWATCHING_EVENT'):
            self.assertEqual(getattr(lib, 'ZOO_' + name),
                             getattr(zookeeper, name), name)
        for name in ('OK', 'SYSTEMERROR', 'RUNTIMEINCONSISTENCY',
                     'DATAINCONSISTENCY', 'CONNECTIONLOSS',
                     'MARSHALLINGERROR', 'UNIMPLEMENTED', 'OPERATIONTIMEOUT',
                     'BADARGUMENTS', 'INVALIDSTATE', 'APIERROR', 'NONODE',
                     'NOAUTH', 'BADVERSION', 'NOCHILDRENFOREPHEMERALS',
                     'NODEEXISTS', 'NOTEMPTY', 'SESSIONEXPIRED',
                     'INVALIDCALLBACK', 'INVALIDACL', 'AUTHFAILED', 'CLOSING',
                     'NOTHING', 'SESSIONMOVED', 'NOTREADONLY',
                     'THROTTLEDOP'):
            self.assertEqual(getattr(lib, 'Z' + name),
                             getattr(zookeeper, name), name)
        for name in ('ERROR', 'WARN', 'INFO', 'DEBUG'):
            self.assertEqual(getattr(lib, 'ZOO_LOG_LEVEL_' + name),
                             getattr(zookeeper, 'LOG_LEVEL_' + name))
        self.assertEqual({'perms': 31, 'scheme': 'world', 'id': 'anyone'},
                         zookeeper.ZOO_OPEN_ACL_UNSAFE)

    def test_exception_classes_and_table(self):
        zkpython_names = [
            'SystemErrorException', 'RuntimeInconsistencyException',
            'DataInconsistencyException', 'ConnectionLossException',
            'MarshallingErrorException', 'UnimplementedException',
            'OperationTimeoutException', 'BadArgumentsException',
            'InvalidStateException', 'ApiErrorException', 'NoNodeException',
            'NoAuthException', 'BadVersionException',
            'NoChildrenForEphemeralsException', 'NodeExistsException',
            'NotEmptyException', 'SessionExpiredException',
            'InvalidCallbackException', 'InvalidACLException',
            'AuthFailedException', 'ClosingException', 'NothingException',
            'SessionMovedException']
        for name in zkpython_names:
            cls = getattr(zookeeper, name)
            self.assertTrue(issubclass(cls, zookeeper.ZooKeeperException))
            self.assertIs(cls, zookeeper.err_to_exception(cls.code))
            self.assertEqual('zookeeper.%s' % name,
                             '%s.%s' % (cls.__module__, cls.__name__))
        self.assertIs(zookeeper.NoNodeException,
                      zookeeper.err_to_exception(zookeeper.NONODE))
        self.assertIs(zookeeper.NodeExistsException,
                      zookeeper.err_to_exception(zookeeper.NODEEXISTS))
        self.assertIsNone(zookeeper.err_to_exception(zookeeper.OK))
        self.assertIs(zookeeper.ZooKeeperException,
                      zookeeper.err_to_exception(-9999))
        self.assertEqual(len(set(zookeeper.ERROR_CLASSES.values())),
                         len(zookeeper.ERROR_CLASSES))
        self.assertEqual('no node', zookeeper.zerror(zookeeper.NONODE))
        self.assertEqual('node exists', zookeeper.zerror(zookeeper.NODEEXISTS))
        exc = zookeeper.exceptions.exception_for(zookeeper.BADVERSION)
        self.assertIsInstance(exc, zookeeper.BadVersionException)
        self.assertEqual(zookeeper.BADVERSION, exc.code)

    def test_bad_host_raises(self):
        self.assertRaises(zookeeper.ZooKeeperException, zookeeper.init, '')
        self.assertRaises(TypeError, zookeeper.init, b'127.0.0.1:1')
        self.assertEqual(0, _client._context_count())

    def test_unknown_handle_raises(self):
        self.assertRaises(zookeeper.ZooKeeperException, zookeeper.state,
                          123456789)
        self.assertRaises(zookeeper.ZooKeeperException, zookeeper.close,
                          123456789)


class TestSession(BindingTestCase):

    def test_connect_session_watcher_sees_connected(self):
        s = self.session()
        handle, type_, state, path = s.events[s.wait_state(
            zookeeper.CONNECTED_STATE)]
        self.assertEqual(s.handle, handle)
        self.assertEqual(zookeeper.SESSION_EVENT, type_)
        self.assertEqual('', path)
        self.assertEqual(zookeeper.CONNECTED_STATE, zookeeper.state(s.handle))
        self.assertFalse(zookeeper.is_unrecoverable(s.handle))
        session_id, passwd = zookeeper.client_id(s.handle)
        self.assertGreater(session_id, 0)
        self.assertIsInstance(passwd, bytes)
        self.assertEqual(16, len(passwd))

    def test_recv_timeout_is_negotiated(self):
        # tickTime 200: the server grants between 400 and 4000 ms.
        big = self.session(recv_timeout=60000)
        small = self.session(recv_timeout=100)
        self.assertEqual(4000, zookeeper.recv_timeout(big.handle))
        self.assertEqual(400, zookeeper.recv_timeout(small.handle))

    def test_close_twice_and_calls_after_close_raise(self):
        s = self.session()
        self.assertEqual(zookeeper.OK, zookeeper.close(s.handle))
        s.closed = True
        self.assertRaises(zookeeper.ZooKeeperException, zookeeper.close,
                          s.handle)
        for call, args in ((zookeeper.state, ()),
                           (zookeeper.client_id, ()),
                           (zookeeper.get, ('/',)),
                           (zookeeper.aget, ('/',)),
                           (zookeeper.create, ('/x', b'', ACL))):
            self.assertRaises(zookeeper.ZooKeeperException, call, s.handle,
                              *args)
        self.assertEqual(0, _client._context_count(s.handle))

    def test_client_id_resumes_the_session(self):
        # A client loses the server and goes away without closing its
        # session (its close() cannot reach the server); a new handle
        # resumes the session with the id and password.
        relay = self.relay()
        a = self.session(address=relay.address)
        node = zookeeper.create(a.handle, self.root + '/eph', b'a', ACL,
                                zookeeper.EPHEMERAL)
        cid = zookeeper.client_id(a.handle)
        connected = a.wait_state(zookeeper.CONNECTED_STATE)
        relay.block()
        a.wait_state(zookeeper.CONNECTING_STATE, after=connected + 1)
        a.close()
        # A wrong password gets no session: its watcher hears EXPIRED.
        bad = self.session(client_id=(cid[0], b'x' * 16), connect=False)
        bad.wait_state(zookeeper.EXPIRED_SESSION_STATE)
        b = self.session(client_id=cid)
        self.assertEqual(cid, zookeeper.client_id(b.handle))
        self.assertFalse(zookeeper.is_unrecoverable(b.handle))
        # b is the same session: a's ephemeral node is still there, b's
        # own ephemerals have the same owner.
        data, stat = zookeeper.get(b.handle, node)
        self.assertEqual((b'a', cid[0]), (data, stat['ephemeralOwner']))
        other = zookeeper.create(b.handle, self.root + '/eph2', b'', ACL,
                                 zookeeper.EPHEMERAL)
        self.assertEqual(cid[0], zookeeper.exists(self.zk.handle,
                                                  other)['ephemeralOwner'])
        # Closing b ends the session.
        b.close()
        self.assertIsNone(zookeeper.exists(self.zk.handle, node))
        self.assertIsNone(zookeeper.exists(self.zk.handle, other))

    def test_ephemeral_node_disappears_when_its_session_closes(self):
        owner = self.session()
        node = zookeeper.create(owner.handle, self.root + '/member', b'x',
                                ACL, zookeeper.EPHEMERAL)
        stat = zookeeper.exists(self.zk.handle, node)
        self.assertEqual(zookeeper.client_id(owner.handle)[0],
                         stat['ephemeralOwner'])
        watch = Watch()
        self.assertIsNotNone(zookeeper.exists(self.zk.handle, node, watch))
        owner.close()
        self.assertTrue(watch.event.wait(10))
        self.assertEqual([(self.zk.handle, zookeeper.DELETED_EVENT,
                           zookeeper.CONNECTED_STATE, node)],
                         watch.node_events())
        self.assertIsNone(zookeeper.exists(self.zk.handle, node))
        self.assertEqual([], zookeeper.get_children(self.zk.handle,
                                                    self.root))

    def test_session_watcher_fires_again_after_server_restart(self):
        s = self.session()
        eph = zookeeper.create(s.handle, self.root + '/eph', b'', ACL,
                               zookeeper.EPHEMERAL)
        first = s.wait_state(zookeeper.CONNECTED_STATE)
        session_id = zookeeper.client_id(s.handle)[0]
        SERVER.restart()
        lost = s.wait_state(zookeeper.CONNECTING_STATE, after=first + 1)
        again = s.wait_state(zookeeper.CONNECTED_STATE, after=lost + 1,
                             timeout=30)
        self.assertGreater(again, lost)
        # The same session survived: same id, its ephemeral node is there.
        self.assertEqual(session_id, zookeeper.client_id(s.handle)[0])
        self.assertEqual(session_id, zookeeper.exists(
            s.handle, eph)['ephemeralOwner'])
        # The module's other handle recovered as well.
        wait_until(lambda: zookeeper.state(self.zk.handle) ==
                   zookeeper.CONNECTED_STATE, 30, 'main session reconnect')
        # And a second restart is seen too (no once-only watcher).
        SERVER.restart()
        lost2 = s.wait_state(zookeeper.CONNECTING_STATE, after=again + 1)
        s.wait_state(zookeeper.CONNECTED_STATE, after=lost2 + 1, timeout=30)
        wait_until(lambda: zookeeper.state(self.zk.handle) ==
                   zookeeper.CONNECTED_STATE, 30, 'main session reconnect')

    def test_expired_state_is_delivered(self):
        # A real expiry: the client is cut off from the (running) server
        # for longer than its session timeout; the server expires the
        # session, and the client learns EXPIRED when it reconnects.
        relay = self.relay()
        s = self.session(address=relay.address, recv_timeout=1000)
        self.assertEqual(1000, zookeeper.recv_timeout(s.handle))
        node = zookeeper.create(s.handle, self.root + '/eph', b'', ACL,
                                zookeeper.EPHEMERAL)
        watch, children = Watch(), Watch()
        zookeeper.get(s.handle, node, watch)
        zookeeper.get_children(s.handle, self.root, children)
        connected = s.wait_state(zookeeper.CONNECTED_STATE)
        relay.block()
        lost = s.wait_state(zookeeper.CONNECTING_STATE, after=connected + 1)
        # The server expires the session: its ephemeral node goes away.
        wait_until(lambda: zookeeper.exists(self.zk.handle, node) is None,
                   10, 'server-side expiry')
        self.assertNotIn(zookeeper.EXPIRED_SESSION_STATE, s.states())
        relay.unblock()
        expired = s.wait_state(zookeeper.EXPIRED_SESSION_STATE,
                               after=lost + 1, timeout=20)
        self.assertEqual(zookeeper.SESSION_EVENT, s.events[expired][1])
        self.assertEqual(zookeeper.EXPIRED_SESSION_STATE,
                         zookeeper.state(s.handle))
        self.assertTrue(zookeeper.is_unrecoverable(s.handle))
        self.assertRaises(zookeeper.InvalidStateException, zookeeper.aget,
                          s.handle, node)
        self.assertRaises(zookeeper.InvalidStateException, zookeeper.get,
                          s.handle, node)
        # The pending watches heard CONNECTING, then EXPIRED, and were
        # released: only the session watcher's context is left.
        for w in (watch, children):
            self.assertEqual([zookeeper.CONNECTING_STATE,
                              zookeeper.EXPIRED_SESSION_STATE],
                             [c[2] for c in w.calls])
            self.assertEqual([], w.node_events())
        self.assertEqual(1, _client._context_count(s.handle))
        s.close()
        self.assertEqual(0, _client._context_count(s.handle))


class TestOperations(BindingTestCase):

    def test_sync_round_trip(self):
        h = self.zk.handle
        path = self.root + '/node'
        self.assertEqual(path, zookeeper.create(h, path, b'v1', ACL))
        data, stat = zookeeper.get(h, path)
        self.assertEqual(b'v1', data)
        self.assertEqual(0, stat['version'])
        self.assertEqual(2, stat['dataLength'])
        self.assertEqual(set(['czxid', 'mzxid', 'ctime', 'mtime', 'version',
                              'cversion', 'aversion', 'ephemeralOwner',
                              'dataLength', 'numChildren', 'pzxid']),
                         set(stat))
        self.assertEqual(zookeeper.OK, zookeeper.set(h, path, b'v2'))
        stat = zookeeper.set2(h, path, b'\x00\xffbinary', 1)
        self.assertEqual(2, stat['version'])
        self.assertEqual((b'\x00\xffbinary', stat), zookeeper.get(h, path))
        self.assertEqual(stat, zookeeper.exists(h, path))
        self.assertIsNone(zookeeper.exists(h, path + '-missing'))
        seq = zookeeper.create(h, path + '/s-', b'', ACL, zookeeper.SEQUENCE)
        self.assertTrue(seq.startswith(path + '/s-'))
        self.assertEqual(10, len(seq) - len(path + '/s-'))
        zookeeper.create(h, path + '/b', None, ACL)
        self.assertEqual((b'', ), zookeeper.get(h, path + '/b')[:1])
        self.assertEqual(sorted([seq.rsplit('/', 1)[1], 'b']),
                         sorted(zookeeper.get_children(h, path)))
        stat, acl = zookeeper.get_acl(h, path)
        self.assertEqual(ACL, acl)
        self.assertEqual(zookeeper.OK, zookeeper.delete(h, seq))
        zookeeper.delete(h, path + '/b')
        zookeeper.delete(h, path, 2)
        self.assertIsNone(zookeeper.exists(h, path))

    def test_async_round_trip(self):
        h = self.zk.handle
        path = self.root + '/anode'

        def run(call, *args, **kwargs):
            result = Result()
            self.assertEqual(zookeeper.OK,
                             call(h, *args, completion=result, **kwargs))
            args = result.wait()
            self.assertIsNot(threading.main_thread(), result.thread)
            self.assertEqual(1, len(result.calls))
            return args

        self.assertEqual((h, zookeeper.OK, path),
                         run(zookeeper.acreate, path, b'one', ACL))
        handle, rc, data, stat = run(zookeeper.aget, path)
        self.assertEqual((h, zookeeper.OK, b'one', 0),
                         (handle, rc, data, stat['version']))
        handle, rc, stat = run(zookeeper.aset, path, b'two', 0)
        self.assertEqual((zookeeper.OK, 1), (rc, stat['version']))
        handle, rc, stat = run(zookeeper.aexists, path)
        self.assertEqual((zookeeper.OK, 1, 3), (rc, stat['version'],
                                                stat['dataLength']))
        self.assertEqual((h, zookeeper.NONODE, None),
                         run(zookeeper.aexists, path + '/missing'))
        run(zookeeper.acreate, path + '/c1', b'', ACL)
        run(zookeeper.acreate, path + '/c2', b'', ACL)
        handle, rc, children = run(zookeeper.aget_children, path)
        self.assertEqual((zookeeper.OK, ['c1', 'c2']), (rc, sorted(children)))
        self.assertEqual((h, zookeeper.NONODE, []),
                         run(zookeeper.aget_children, path + '/missing'))
        handle, rc, acl, stat = run(zookeeper.aget_acl, path)
        self.assertEqual((zookeeper.OK, ACL), (rc, acl))
        self.assertEqual((h, zookeeper.OK), run(zookeeper.adelete,
                                                path + '/c1'))
        self.assertEqual((h, zookeeper.OK), run(zookeeper.adelete,
                                                path + '/c2', -1))
        self.assertEqual((h, zookeeper.OK), run(zookeeper.adelete, path, 1))
        self.assertEqual((h, zookeeper.NONODE, None, None),
                         run(zookeeper.aget, path))
        self.assertEqual((h, zookeeper.OK, path),
                         run(zookeeper.async_, path))
        self.assertIs(zookeeper.async_, getattr(zookeeper, 'async'))
        # Without a completion the call still happens.
        self.assertEqual(zookeeper.OK,
                         zookeeper.acreate(h, path, b'fire-and-forget', ACL))
        wait_until(lambda: zookeeper.exists(h, path) is not None)
        self.assertEqual(1, _client._context_count(h))   # session watcher

    def test_aexists_many_answers_every_path_in_order_once(self):
        h = self.zk.handle
        names = ['n%03d' % i for i in range(300)]
        for name in names[::2]:
            zookeeper.create(h, self.root + '/' + name, name, ACL,
                             zookeeper.EPHEMERAL if name.endswith('0')
                             else 0)
        result = Result()
        self.assertEqual(zookeeper.OK, zookeeper.aexists_many(
            h, (self.root + '/' + n for n in names), result))
        handle, replies = result.wait()
        self.assertIsNot(threading.main_thread(), result.thread)
        self.assertEqual(h, handle)
        self.assertEqual(len(names), len(replies))
        for i, (rc, stat) in enumerate(replies):
            if i % 2:
                self.assertEqual((zookeeper.NONODE, None), (rc, stat))
            else:
                self.assertEqual(zookeeper.OK, rc)
                self.assertEqual(len(names[i]), stat['dataLength'])
                self.assertEqual(names[i].endswith('0'),
                                 stat['ephemeralOwner'] != 0)
        time.sleep(0.2)
        self.assertEqual(1, len(result.calls))
        empty = Result()
        zookeeper.aexists_many(h, [], empty)
        self.assertEqual((h, []), empty.wait())
        self.assertRaises(TypeError, zookeeper.aexists_many, h, [], None)
        # A path the binding refuses: nothing is called, what was sent is
        # dropped.
        refused = Result()
        self.assertRaises(TypeError, zookeeper.aexists_many, h,
                          [self.root, None], refused)
        time.sleep(0.2)
        self.assertEqual([], refused.calls)

    def test_aexists_many_is_completed_by_close(self):
        session = self.session()
        result = Result()
        zookeeper.aexists_many(session.handle,
                               ['/zookeeper'] * 500, result)
        session.close()
        handle, replies = result.wait()
        self.assertEqual(500, len(replies))
        self.assertTrue(all(rc in (zookeeper.OK, zookeeper.CLOSING)
                            for rc, _stat in replies), replies)
        self.assertEqual(1, len(result.calls))

    def test_errors_are_mapped(self):
        h = self.zk.handle
        path = self.root + '/e'
        zookeeper.create(h, path, b'', ACL)
        self.assertRaises(zookeeper.NodeExistsException, zookeeper.create,
                          h, path, b'', ACL)
        self.assertRaises(zookeeper.NoNodeException, zookeeper.get,
                          h, path + '/missing')
        self.assertRaises(zookeeper.NoNodeException, zookeeper.delete,
                          h, path + '/missing')
        self.assertRaises(zookeeper.NoNodeException, zookeeper.create,
                          h, path + '/missing/child', b'', ACL)
        self.assertRaises(zookeeper.BadVersionException, zookeeper.set,
                          h, path, b'x', 7)
        self.assertRaises(zookeeper.BadVersionException, zookeeper.delete,
                          h, path, 7)
        zookeeper.create(h, path + '/child', b'', ACL)
        self.assertRaises(zookeeper.NotEmptyException, zookeeper.delete,
                          h, path)
        eph = zookeeper.create(h, path + '/eph', b'', ACL, zookeeper.EPHEMERAL)
        self.assertRaises(zookeeper.NoChildrenForEphemeralsException,
                          zookeeper.create, h, eph + '/c', b'', ACL)
        self.assertRaises(zookeeper.InvalidACLException, zookeeper.create,
                          h, path + '/noacl', b'', [])
        try:
            zookeeper.get(h, path + '/missing')
        except zookeeper.ZooKeeperException as exc:
            self.assertEqual(zookeeper.NONODE, exc.code)
            self.assertEqual('no node', str(exc))
        # Asynchronous errors arrive as return codes ...
        result = Result()
        zookeeper.acreate(h, path, b'', ACL, 0, result)
        self.assertEqual((h, zookeeper.NODEEXISTS, None), result.wait())
        result = Result()
        zookeeper.aset(h, path, b'', 7, result)
        self.assertEqual((h, zookeeper.BADVERSION, None), result.wait())
        # ... unless the C client refuses the call: then it raises at once.
        self.assertRaises(zookeeper.BadArgumentsException, zookeeper.aget,
                          h, 'no-leading-slash', None, Result())
        self.assertRaises(zookeeper.BadArgumentsException, zookeeper.acreate,
                          h, path + '/', b'', ACL)
        self.assertRaises(zookeeper.InvalidACLException, zookeeper.acreate,
                          h, path + '/x', b'', None)
        self.assertRaises(zookeeper.InvalidACLException, zookeeper.acreate,
                          h, path + '/x', b'', [{'perms': 31}])
        # Data is bytes or str; paths are str.
        self.assertRaises(TypeError, zookeeper.create, h, path + '/s', 42,
                          ACL)
        self.assertRaises(TypeError, zookeeper.aset, h, path, 4.2)
        self.assertRaises(TypeError, zookeeper.set, h, path, ['x'])
        self.assertRaises(TypeError, zookeeper.get, h, path.encode())
        self.assertIsNone(zookeeper.exists(h, path + '/s'))
        self.assertEqual(1, _client._context_count(h))

    def test_str_data_is_sent_as_utf8_and_read_back_as_bytes(self):
        h = self.zk.handle
        node = self.root + '/text'
        self.assertEqual(node, zookeeper.create(h, node, 'h\u00e9llo', ACL))
        self.assertEqual('h\u00e9llo'.encode('utf-8'),
                         zookeeper.get(h, node)[0])
        zookeeper.set(h, node, '\u2603')
        self.assertEqual(b'\xe2\x98\x83', zookeeper.get(h, node)[0])
        self.assertEqual(3, zookeeper.set2(h, node, 'abc')['dataLength'])
        result = Result()
        zookeeper.aset(h, node, 'async \u00e9', -1, result)
        self.assertEqual(zookeeper.OK, result.wait()[1])
        result = Result()
        zookeeper.acreate(h, node + '/a', '\u00e9', ACL, 0, result)
        self.assertEqual(zookeeper.OK, result.wait()[1])
        result = Result()
        zookeeper.aget(h, node, None, result)
        self.assertEqual(b'async \xc3\xa9', result.wait()[2])
        self.assertEqual((b'\xc3\xa9', 2), (lambda d, st: (
            d, st['dataLength']))(*zookeeper.get(h, node + '/a')))

    def test_child_watcher_fires_once_on_create(self):
        h = self.zk.handle
        other = self.session()
        watch = Watch()
        self.assertEqual([], zookeeper.get_children(h, self.root, watch))
        zookeeper.create(other.handle, self.root + '/c1', b'', ACL)
        self.assertTrue(watch.event.wait(10))
        self.assertEqual([(h, zookeeper.CHILD_EVENT, zookeeper.CONNECTED_STATE,
                           self.root)], watch.node_events())
        # One-shot: a second change is not reported, and the context is gone.
        zookeeper.create(other.handle, self.root + '/c2', b'', ACL)
        self.assertEqual(['c1', 'c2'], sorted(zookeeper.get_children(
            h, self.root)))
        time.sleep(0.3)
        self.assertEqual(1, len(watch.node_events()))
        self.assertEqual(1, _client._context_count(h))

    def test_async_child_watcher_and_data_watchers(self):
        h = self.zk.handle
        other = self.session()
        node = self.root + '/w'
        zookeeper.create(h, node, b'', ACL)
        children, data, exists = Watch(), Watch(), Watch()
        done = Result()
        zookeeper.aget_children(h, node, children, done)
        self.assertEqual((h, zookeeper.OK, []), done.wait())
        done = Result()
        zookeeper.aget(h, node, data, done)
        self.assertEqual(zookeeper.OK, done.wait()[1])
        done = Result()
        zookeeper.aexists(h, node + '/later', exists, done)
        self.assertEqual((h, zookeeper.NONODE, None), done.wait())
        zookeeper.create(other.handle, node + '/later', b'', ACL)
        zookeeper.set(other.handle, node, b'changed')
        for watch, event, path in ((children, zookeeper.CHILD_EVENT, node),
                                   (data, zookeeper.CHANGED_EVENT, node),
                                   (exists, zookeeper.CREATED_EVENT,
                                    node + '/later')):
            self.assertTrue(watch.event.wait(10))
            self.assertEqual([(h, event, zookeeper.CONNECTED_STATE, path)],
                             watch.node_events())
        # A watch the server did not set (get on a missing node) is freed.
        missing = Watch()
        self.assertRaises(zookeeper.NoNodeException, zookeeper.get, h,
                          node + '/missing', missing)
        self.assertEqual(1, _client._context_count(h))

    def test_digest_acl_keeps_unauthenticated_sessions_out(self):
        user, password = 'nova', 's3cret'
        owner = self.session()
        result = Result()
        self.assertEqual(zookeeper.OK, zookeeper.add_auth(
            owner.handle, 'digest', '%s:%s' % (user, password), result))
        self.assertEqual((owner.handle, zookeeper.OK), result.wait())
        acl = [{'perms': zookeeper.PERM_ALL, 'scheme': 'digest',
                'id': digest_id(user, password)}]
        parent = zookeeper.create(owner.handle, self.root + '/private',
                                  b'secret', acl)
        child = zookeeper.create(owner.handle, parent + '/member', b'', acl)
        self.assertEqual(acl, zookeeper.get_acl(owner.handle, parent)[1])
        # Deleting a node needs DELETE on its parent: denied to strangers.
        stranger = self.session()
        self.assertRaises(zookeeper.NoAuthException, zookeeper.delete,
                          stranger.handle, child)
        self.assertRaises(zookeeper.NoAuthException, zookeeper.get,
                          stranger.handle, parent)
        self.assertRaises(zookeeper.NoAuthException, zookeeper.get_acl,
                          stranger.handle, parent)
        self.assertRaises(zookeeper.NoAuthException, zookeeper.set,
                          stranger.handle, child, b'overwritten')
        wrong = self.session()
        zookeeper.add_auth(wrong.handle, 'digest', b'%s:wrong' % user.encode())
        self.assertRaises(zookeeper.NoAuthException, zookeeper.delete,
                          wrong.handle, child)
        # The owner (authenticated) can.
        self.assertEqual(b'secret', zookeeper.get(owner.handle, parent)[0])
        zookeeper.delete(owner.handle, child)
        zookeeper.delete(owner.handle, parent)

    def test_set_acl(self):
        h = self.zk.handle
        node = zookeeper.create(h, self.root + '/acl', b'', ACL)
        read_only = [{'perms': zookeeper.PERM_READ | zookeeper.PERM_ADMIN,
                      'scheme': 'world', 'id': 'anyone'}]
        self.assertEqual(zookeeper.OK, zookeeper.set_acl(h, node, 0,
                                                         read_only))
        stat, acl = zookeeper.get_acl(h, node)
        self.assertEqual(read_only, acl)
        self.assertEqual(1, stat['aversion'])
        self.assertRaises(zookeeper.NoAuthException, zookeeper.set, h, node,
                          b'x')
        result = Result()
        zookeeper.aset_acl(h, node, 1, ACL, result)
        self.assertEqual((h, zookeeper.OK), result.wait())
        zookeeper.set(h, node, b'x')


class TestCallbacks(BindingTestCase):

    def test_close_calls_pending_completions_once_then_nothing(self):
        s = self.session()
        node = zookeeper.create(s.handle, self.root + '/n', b'', ACL)
        watch = Watch()
        zookeeper.get(s.handle, node, watch)     # a watch that stays pending
        results = [Result() for _i in range(3)]
        SERVER.pause()
        try:
            for result in results:
                zookeeper.aget(s.handle, node, None, result)
            self.assertEqual(5, _client._context_count(s.handle))
            s.close()
        finally:
            SERVER.resume()
        for result in results:
            self.assertEqual([(s.handle, zookeeper.CLOSING, None, None)],
                             result.calls)
        self.assertEqual(0, _client._context_count(s.handle))
        # Nothing reaches the closed handle's callbacks afterwards.
        calls = list(watch.calls)
        zookeeper.set(self.zk.handle, node, b'changed')
        time.sleep(0.5)
        self.assertEqual(calls, watch.calls)
        self.assertEqual([], watch.node_events())

    def test_close_waits_for_synchronous_calls_in_other_threads(self):
        # zookeeper_close frees the C handle: close() must not run it under
        # a synchronous call still inside the C client.  Those calls end
        # when the C client gives up on the silent server (2/3 of the
        # session timeout); close() then finishes at once.
        s = self.session(recv_timeout=1500)
        node = zookeeper.create(s.handle, self.root + '/n', b'', ACL)
        outcomes = []

        def reader():
            try:
                outcomes.append(zookeeper.get(s.handle, node))
            except zookeeper.ZooKeeperException as exc:
                outcomes.append(exc)

        def closer():
            outcomes.append(('closed', zookeeper.close(s.handle)))

        threads = [threading.Thread(target=reader, daemon=True)
                   for _i in range(3)]
        closing = threading.Thread(target=closer, daemon=True)
        SERVER.pause()
        try:
            for thread in threads:
                thread.start()
            # Each waits (GIL released) for a reply that cannot come.
            wait_until(lambda: _client._handles[s.handle].inflight == 3, 5,
                       'three pending reads')
            self.assertEqual([], outcomes)
            started = time.time()
            closing.start()
            s.closed = True
            # New calls are refused while close() waits.
            wait_until(lambda: _client._handles[s.handle].closing, 5,
                       'close() to start')
            self.assertRaises(zookeeper.ClosingException, zookeeper.get,
                              s.handle, node)
            closing.join(10)
            self.assertFalse(closing.is_alive(), 'close() hung')
            self.assertLess(time.time() - started, 5)
        finally:
            SERVER.resume()
        for thread in threads:
            thread.join(5)
            self.assertFalse(thread.is_alive())
        self.assertEqual(('closed', zookeeper.OK), outcomes[-1])
        self.assertEqual(3, len(outcomes[:-1]))
        for outcome in outcomes[:-1]:
            self.assertIsInstance(outcome, (
                zookeeper.OperationTimeoutException,
                zookeeper.ConnectionLossException))
        self.assertRaises(zookeeper.ZooKeeperException, zookeeper.state,
                          s.handle)

    def test_callback_exceptions_are_logged(self):
        records = []

        class Handler(logging.Handler):
            def emit(self, record):
                records.append(record)

        handler = Handler(logging.ERROR)
        logger = logging.getLogger('zookeeper')
        logger.addHandler(handler)
        try:
            h = self.zk.handle

            def bad_completion(handle, rc, data, stat):
                raise ValueError('boom in completion')

            zookeeper.aget(h, self.root, None, bad_completion)
            wait_until(lambda: records, 10, 'log record')
            self.assertIn('boom in completion',
                          logging.Formatter().format(records[0]))
            # The binding keeps working.
            self.assertEqual(b'', zookeeper.get(h, self.root)[0])
        finally:
            logger.removeHandler(handler)

    def test_sync_call_and_close_from_an_add_auth_completion_raise(self):
        # The C client runs add_auth completions on its I/O thread, the one
        # that handles the replies a synchronous call waits for.
        s = self.session()
        seen = []
        done = threading.Event()

        def completion(handle, rc):
            seen.append(rc)
            for call, args in ((zookeeper.get, (handle, '/')),
                               (zookeeper.close, (handle,))):
                try:
                    call(*args)
                except zookeeper.ZooKeeperException as exc:
                    seen.append((type(exc), 'I/O thread' in str(exc)))
            # Asynchronous calls are fine there.
            zookeeper.aexists(handle, '/', None,
                              lambda *a: (seen.append(a[1]), done.set()))

        zookeeper.add_auth(s.handle, 'digest', 'user:pw', completion)
        self.assertTrue(done.wait(10))
        self.assertEqual([zookeeper.OK,
                          (zookeeper.ZooKeeperException, True),
                          (zookeeper.ZooKeeperException, True),
                          zookeeper.OK], seen)
        self.assertEqual(zookeeper.CONNECTED_STATE, zookeeper.state(s.handle))
        self.assertEqual(b'', zookeeper.get(s.handle, self.root)[0])

    def test_set_watcher_replaces_the_session_watcher(self):
        relay = self.relay()
        s = self.session(address=relay.address)
        before = len(s.events)
        seen = []
        zookeeper.set_watcher(s.handle, lambda *args: seen.append(args))
        relay.block()
        wait_until(lambda: seen, 10, 'CONNECTING via the new watcher')
        relay.unblock()
        wait_until(lambda: seen[-1][2] == zookeeper.CONNECTED_STATE, 15,
                   'CONNECTED via the new watcher')
        self.assertEqual((s.handle, zookeeper.SESSION_EVENT,
                          zookeeper.CONNECTING_STATE, ''), seen[0])
        self.assertEqual(before, len(s.events))   # the old one is not called


def run_bounded(test, func, timeout=5.0, what='call'):
    """Run func in a daemon thread; fail (never hang) if it does not end."""
    outcome = []

    def target():
        try:
            outcome.append(('ok', func()))
        except BaseException as exc:
            outcome.append(('raised', exc))

    thread = threading.Thread(target=target, name='bounded-' + what)
    thread.daemon = True
    thread.start()
    thread.join(timeout)
    test.assertFalse(thread.is_alive(), '%s did not return within %.0f s '
                     '(deadlock?)' % (what, timeout))
    kind, value = outcome[0]
    if kind == 'raised':
        raise value
    return value


class TestSynchronousCalls(BindingTestCase):
    """The synchronous functions are the C client's (zkpython's way)."""

    def test_c_calls_release_the_gil(self):
        # cffi releases the GIL around every call into C, in ABI mode too:
        # this thread runs Python while another one sleeps inside libc.
        sleeper = threading.Thread(target=_ffi.libc.usleep, args=(1500000,))
        sleeper.daemon = True
        sleeper.start()
        time.sleep(0.05)
        started = time.time()
        sum(range(100000))
        self.assertLess(time.time() - started, 1.0)
        self.assertTrue(sleeper.is_alive())
        sleeper.join(5)

    def test_no_deadlock_when_a_watcher_waits_for_the_callers_lock(self):
        h = self.zk.handle
        node = zookeeper.create(h, self.root + '/cond', b'0', ACL)
        cond = threading.Condition()
        seen = []

        def watcher(handle, type_, state, path):
            # Bounded, so that a deadlocked caller fails the test below by
            # its timeout and the session can still be closed afterwards.
            if cond.acquire(timeout=8):
                try:
                    seen.append((type_, path))
                    cond.notify_all()
                finally:
                    cond.release()

        zookeeper.get(h, node, watcher)
        zookeeper.get_children(h, node, watcher)

        def caller():
            with cond:
                # Each call fires a watcher that needs cond, held here.
                results = [zookeeper.set(h, node, b'1'),
                           zookeeper.create(h, node + '/c', 'child', ACL)]
                cond.wait_for(lambda: len(seen) == 2, 5)
                return results

        self.assertEqual([zookeeper.OK, node + '/c'],
                         run_bounded(self, caller, 5, 'set() under a lock'))
        self.assertEqual([(zookeeper.CHANGED_EVENT, node),
                          (zookeeper.CHILD_EVENT, node)], seen)

    def test_sync_calls_return_while_the_watcher_they_fired_sleeps(self):
        h = self.zk.handle
        node = zookeeper.create(h, self.root + '/sleepy', b'', ACL)
        started, finished = threading.Event(), threading.Event()

        def sleepy(handle, type_, state, path):
            if type_ == zookeeper.CHANGED_EVENT:
                started.set()
                time.sleep(2)
                finished.set()

        zookeeper.get(h, node, sleepy)
        before = time.time()
        run_bounded(self, lambda: zookeeper.set(h, node, b'x'), 5, 'set()')
        self.assertLess(time.time() - before, 1.0)
        self.assertTrue(started.wait(5))
        # The completion thread is asleep in the watcher now.
        before = time.time()
        self.assertEqual((b'x', 1), run_bounded(
            self, lambda: (lambda d, st: (d, st['version']))(
                *zookeeper.get(h, node)), 5, 'get()'))
        zookeeper.create(h, node + '/c', b'', ACL)
        self.assertEqual(['c'], zookeeper.get_children(h, node))
        self.assertLess(time.time() - before, 1.0)
        self.assertFalse(finished.is_set())
        self.assertTrue(finished.wait(5))

    def _exercise(self, handle, base):
        """Every synchronous function once; returns what each gave."""
        watch = Watch()
        out = [zookeeper.create(handle, base, 'from a callback', ACL),
               zookeeper.get(handle, base, watch)[0],
               zookeeper.set(handle, base, b'again'),
               zookeeper.set2(handle, base, b'more')['version'],
               zookeeper.exists(handle, base)['version'],
               zookeeper.get_children(handle, base),
               zookeeper.get_acl(handle, base)[1],
               zookeeper.set_acl(handle, base, -1, ACL),
               zookeeper.delete(handle, base)]
        return out, watch

    def _expected(self, base):
        return [base, b'from a callback', zookeeper.OK, 2, 2, [], ACL,
                zookeeper.OK, zookeeper.OK]

    def test_sync_calls_from_a_completion(self):
        h = self.zk.handle
        base = self.root + '/from-completion'
        outcome = []
        done = threading.Event()

        def completion(handle, rc, stat):
            try:
                outcome.append(self._exercise(handle, base))
            except Exception as exc:
                outcome.append(exc)
            done.set()

        zookeeper.aexists(h, self.root, None, completion)
        self.assertTrue(done.wait(10), 'sync calls from a completion hung')
        out, watch = outcome[0]
        self.assertEqual(self._expected(base), out)
        # The watcher set from the callback was delivered afterwards.
        self.assertTrue(watch.event.wait(10))
        self.assertEqual([(h, zookeeper.CHANGED_EVENT,
                           zookeeper.CONNECTED_STATE, base)],
                         watch.node_events())

    def test_sync_calls_from_a_watcher(self):
        h = self.zk.handle
        trigger = zookeeper.create(h, self.root + '/trigger', b'', ACL)
        base = self.root + '/from-watcher'
        outcome = []
        done = threading.Event()

        def watcher(handle, type_, state, path):
            if type_ == zookeeper.SESSION_EVENT:
                return
            try:
                outcome.append(self._exercise(handle, base))
            except Exception as exc:
                outcome.append(exc)
            done.set()

        self.assertIsNotNone(zookeeper.exists(h, trigger, watcher))
        other = self.session()
        zookeeper.set(other.handle, trigger, b'go')
        self.assertTrue(done.wait(10), 'sync calls from a watcher hung')
        out, watch = outcome[0]
        self.assertEqual(self._expected(base), out)
        self.assertTrue(watch.event.wait(10))

    def test_close_from_a_completion(self):
        tasks = task_count()
        s = self.session()
        eph = zookeeper.create(s.handle, self.root + '/eph', b'', ACL,
                               zookeeper.EPHEMERAL)
        watch = Watch()
        zookeeper.get_children(s.handle, self.root, watch)
        outcome = []
        go, done = threading.Event(), threading.Event()

        def closer(handle, rc, stat):
            go.wait(5)
            try:
                outcome.append(zookeeper.close(handle))
            except Exception as exc:
                outcome.append(exc)
            done.set()

        zookeeper.aexists(s.handle, '/', None, closer)
        # Queued behind it: each is completed exactly once (OK or CLOSING).
        later = [Result() for _i in range(3)]
        for result in later:
            zookeeper.aget(s.handle, self.root, None, result)
        go.set()
        self.assertTrue(done.wait(10), 'close() from a completion hung')
        s.closed = True
        self.assertEqual([zookeeper.OK], outcome)
        self.assertRaises(zookeeper.ZooKeeperException, zookeeper.state,
                          s.handle)
        for result in later:
            result.wait()
            self.assertIn(result.calls[0][1], (zookeeper.OK,
                                               zookeeper.CLOSING))
        # The C client ends the session once the callback has returned:
        # the server deletes the ephemeral node, the threads go away.
        wait_until(lambda: zookeeper.exists(self.zk.handle, eph) is None,
                   10, 'the session to end')
        wait_until(lambda: task_count() == tasks, 10, 'the C threads to end')
        time.sleep(0.2)
        for result in later:
            self.assertEqual(1, len(result.calls))
        self.assertEqual([], watch.calls)
        self.assertEqual(0, _client._context_count(s.handle))

    def test_close_from_a_watcher(self):
        tasks = task_count()
        s = self.session()
        node = zookeeper.create(s.handle, self.root + '/w', b'', ACL)
        outcome = []
        done = threading.Event()
        children = Watch()

        def closer(handle, type_, state, path):
            if type_ != zookeeper.SESSION_EVENT:
                outcome.append(zookeeper.close(handle))
                done.set()

        zookeeper.get(s.handle, node, closer)
        zookeeper.get_children(s.handle, node, children)
        other = self.session()
        zookeeper.set(other.handle, node, b'changed')
        self.assertTrue(done.wait(10), 'close() from a watcher hung')
        s.closed = True
        self.assertEqual([zookeeper.OK], outcome)
        # Nothing reaches the closed handle's other watcher.
        zookeeper.create(other.handle, node + '/c', b'', ACL)
        wait_until(lambda: task_count() == tasks + 2, 10,
                   'the closed handle\'s threads to end')
        self.assertEqual([], children.calls)
        self.assertEqual(0, _client._context_count(s.handle))

    def test_get_returns_whole_nodes(self):
        h = self.zk.handle
        big = bytes(bytearray(range(256))) * 3900      # 998,400 bytes
        node = zookeeper.create(h, self.root + '/big', big, ACL)
        self.assertEqual(big, zookeeper.get(h, node)[0])
        # zkpython's bufferlen still truncates.
        self.assertEqual(big[:10], zookeeper.get(h, node, None, 10)[0])
        self.assertEqual(b'', zookeeper.get(h, node, None, 0)[0])

    def test_get_rereads_a_node_larger_than_its_first_buffer(self):
        # A server with a larger jute.maxbuffer holds nodes larger than
        # get's first buffer; a small first buffer plays that part here.
        h = self.zk.handle
        data = b'0123456789' * 10
        node = zookeeper.create(h, self.root + '/grown', data, ACL)
        watch = Watch()
        saved = _client._GET_BUFFER_SIZE
        _client._GET_BUFFER_SIZE = 16
        try:
            value, stat = zookeeper.get(h, node, watch)
            self.assertEqual(b'', zookeeper.get(h, self.root)[0])
        finally:
            _client._GET_BUFFER_SIZE = saved
        self.assertEqual((data, 100), (value, stat['dataLength']))
        # One watch, delivered once, though the node was read twice.
        zookeeper.set(h, node, b'changed')
        self.assertTrue(watch.event.wait(10))
        time.sleep(0.3)
        self.assertEqual([(h, zookeeper.CHANGED_EVENT,
                           zookeeper.CONNECTED_STATE, node)],
                         watch.node_events())
        self.assertEqual(1, _client._context_count(h))

    def test_watch_of_a_failed_sync_call_is_released(self):
        h = self.zk.handle
        missing = self.root + '/missing'
        for call in (zookeeper.get, zookeeper.get_children):
            self.assertRaises(zookeeper.NoNodeException, call, h, missing,
                              Watch())
        self.assertEqual(1, _client._context_count(h))
        # exists() sets its watch on a missing node too.
        watch = Watch()
        self.assertIsNone(zookeeper.exists(h, missing, watch))
        self.assertEqual(2, _client._context_count(h))
        zookeeper.create(h, missing, b'', ACL)
        self.assertTrue(watch.event.wait(10))
        self.assertEqual([(h, zookeeper.CREATED_EVENT,
                           zookeeper.CONNECTED_STATE, missing)],
                         watch.node_events())
        self.assertEqual(1, _client._context_count(h))


class TestTLS(unittest.TestCase):

    def test_init_ssl_is_absent_without_openssl(self):
        # Debian 12's libzookeeper_mt is built without OpenSSL: no
        # zookeeper_init_ssl, hence no zookeeper.init_ssl (as zkpython
        # built without OpenSSL), and the import still works.
        import ctypes
        self.assertFalse(hasattr(ctypes.CDLL(zookeeper.LIBRARY),
                                 'zookeeper_init_ssl'))
        self.assertIsNone(_ffi.zookeeper_init_ssl)
        self.assertFalse(hasattr(zookeeper, 'init_ssl'))
        self.assertNotIn('init_ssl', zookeeper.__all__)

    def test_init_ssl_opens_a_session_where_the_library_has_it(self):
        # A stand-in for zookeeper_init_ssl that records its certificate
        # argument and opens a plain session: the binding's side of
        # init_ssl (arguments, handle, session watcher) against a server.
        certs = []

        def fake_init_ssl(host, cert, fn, timeout, cid, ctx, flags):
            certs.append(cert)
            return _ffi.lib.zookeeper_init(host, fn, timeout, cid, ctx,
                                           flags)

        connected = threading.Event()

        def watcher(handle, type_, state, path):
            if state == zookeeper.CONNECTED_STATE:
                connected.set()

        saved = _ffi.zookeeper_init_ssl
        _ffi.zookeeper_init_ssl = fake_init_ssl
        try:
            handle = _client._init_ssl(SERVER.address, 'ca.pem,c.pem,k.pem',
                                       watcher, TIMEOUT)
        finally:
            _ffi.zookeeper_init_ssl = saved
        try:
            self.assertTrue(connected.wait(10))
            self.assertEqual([b'ca.pem,c.pem,k.pem'], certs)
            self.assertEqual(b'', zookeeper.get(handle, '/')[0])
        finally:
            zookeeper.close(handle)
        self.assertRaises(TypeError, _client._init_ssl, SERVER.address,
                          b'ca.pem')


class TestServerResolution(unittest.TestCase):
    """The C client looks its server names up at most once a second.

    Every look-up is a getaddrinfo() that opens a netlink socket (also for
    an IP address): counted by strace in a child process, over 200
    synchronous calls (each at least one turn of the C client's I/O loop).
    """

    SCRIPT = r"""
import sys, threading, zookeeper
zookeeper.set_debug_level(0)
up = threading.Event()
h = zookeeper.init(sys.argv[1], lambda hh, t, s, p:
                   s == zookeeper.CONNECTED_STATE and up.set(), 4000)
assert up.wait(10), 'not connected'
if sys.argv[2] != 'default':
    zookeeper.set_servers_resolution_delay(h, int(sys.argv[2]))
for _i in range(200):
    zookeeper.exists(h, '/')
zookeeper.close(h)
"""

    def lookups(self, delay):
        with tempfile.NamedTemporaryFile('r', suffix='.strace') as trace:
            subprocess.check_call(
                ['strace', '-f', '-qq', '-e', 'trace=socket', '-o',
                 trace.name, sys.executable, '-c', self.SCRIPT,
                 SERVER.address, delay], env=os.environ.copy())
            return sum('AF_NETLINK' in line for line in trace)

    def test_server_names_are_not_looked_up_per_request(self):
        self.assertEqual(1000, zookeeper.RESOLUTION_DELAY_MS)
        # The C client's own default (0), for contrast: one per turn.
        self.assertGreaterEqual(self.lookups('0'), 200)
        self.assertLess(self.lookups('default'), 20)

    def test_delay_is_checked(self):
        handle = zookeeper.init(SERVER.address, None, TIMEOUT)
        try:
            for delay in (-1, 0, 5000):
                self.assertIsNone(
                    zookeeper.set_servers_resolution_delay(handle, delay))
            self.assertRaises(zookeeper.BadArgumentsException,
                              zookeeper.set_servers_resolution_delay,
                              handle, -2)
            self.assertRaises(TypeError,
                              zookeeper.set_servers_resolution_delay,
                              handle, '5')
        finally:
            zookeeper.close(handle)


class TestProcesses(BindingTestCase):

    def test_handles_do_not_cross_fork(self):
        pid = os.fork()
        if pid == 0:    # child: the C client's threads are not here
            code = 1
            try:
                try:
                    zookeeper.state(self.zk.handle)
                except zookeeper.ZooKeeperException:
                    code = 0
            finally:
                os._exit(code)
        status = os.waitpid(pid, 0)[1]
        self.assertTrue(os.WIFEXITED(status))
        self.assertEqual(0, os.WEXITSTATUS(status))
        self.assertEqual(zookeeper.CONNECTED_STATE,
                         zookeeper.state(self.zk.handle))
        self.assertEqual(b'', zookeeper.get(self.zk.handle, self.root)[0])

    def test_works_under_eventlet_monkey_patching(self):
        # evzookeeper's pattern: the C thread's callback writes to a pipe,
        # a green thread reads it; the hub keeps running meanwhile.
        script = r"""
import eventlet
eventlet.monkey_patch()
import os, sys, types
import zookeeper
from zookeeper import _client
assert isinstance(_client._allocate_lock, types.BuiltinFunctionType)
zookeeper.set_log_stream(open(os.devnull, 'w'))
r, w = os.pipe()
queue = []
def post(*args):
    queue.append(args)
    os.write(w, b'x')
h = zookeeper.init(sys.argv[1], post, 4000)
ticks = []
def ticker():
    while True:
        ticks.append(1)
        eventlet.sleep(0.01)
eventlet.spawn(ticker)
def wait_one():
    os.read(r, 1)           # green: the hub runs while we wait
    return queue.pop(0)
assert wait_one()[2] == zookeeper.CONNECTED_STATE
path = sys.argv[2]
zookeeper.acreate(h, path, b'green', [zookeeper.ZOO_OPEN_ACL_UNSAFE], 0,
                  post)
assert wait_one()[1:] == (zookeeper.OK, path)
zookeeper.aget(h, path, None, post)
assert wait_one()[2] == b'green'
assert zookeeper.get(h, path)[0] == b'green'        # synchronous works too
zookeeper.delete(h, path)
assert len(ticks) > 0
zookeeper.close(h)
print('eventlet-ok')
"""
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [os.path.dirname(os.path.dirname(zookeeper.__file__))] +
            [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
        out = subprocess.run(
            [sys.executable, '-c', script, SERVER.address,
             self.root + '/green'],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
            timeout=60)
        self.assertEqual(0, out.returncode, out.stdout.decode())
        self.assertIn(b'eventlet-ok', out.stdout)


class TestLogStream(unittest.TestCase):

    def test_set_log_stream_captures_the_c_log(self):
        with tempfile.NamedTemporaryFile('w+', suffix='.log') as log:
            fds = fd_count()
            zookeeper.set_log_stream(log)
            zookeeper.set_debug_level(zookeeper.LOG_LEVEL_INFO)
            try:
                handle = zookeeper.init(SERVER.address, None, TIMEOUT)
                wait_until(lambda: zookeeper.state(handle) ==
                           zookeeper.CONNECTED_STATE)
                session_id = zookeeper.client_id(handle)[0]
                zookeeper.close(handle)
            finally:
                zookeeper.set_log_stream(DEVNULL)
            # Re-targeting reuses the binding's one descriptor.
            self.assertEqual(fds, fd_count())
            with open(log.name) as f:
                text = f.read()
        self.assertIn('Initiating client connection', text)
        self.assertIn(SERVER.address, text)
        self.assertIn('%x' % session_id, text)
        self.assertRaises(ValueError, zookeeper.set_log_stream, object())


class TestResources(unittest.TestCase):

    def _cycle(self, with_traffic):
        connected = threading.Event()

        def watcher(handle, type_, state, path):
            if state == zookeeper.CONNECTED_STATE:
                connected.set()

        handle = zookeeper.init(SERVER.address, watcher, TIMEOUT)
        self.assertTrue(connected.wait(10))
        if with_traffic:
            zookeeper.get_children(handle, '/', Watch())
            zookeeper.aexists(handle, '/zookeeper', Watch(), Result())
        self.assertEqual(zookeeper.OK, zookeeper.close(handle))

    def test_closed_handles_threads_leave_threading_enumerate(self):
        # A callback that asks for current_thread() (as logging does)
        # registers a dummy Thread for the C thread; it must go when the
        # handle's threads end, not linger (Python <= 3.12) or wait for a
        # callback from some other new thread (3.13, through cffi).
        seen = []

        def watcher(handle, type_, state, path):
            seen.append(threading.current_thread())

        handle = zookeeper.init(SERVER.address, watcher, TIMEOUT)
        wait_until(lambda: seen, 10, 'the session watcher')
        result = Result()
        zookeeper.aexists(handle, '/', None, result)
        result.wait()
        dummies = set([seen[0].ident, result.thread.ident])
        for thread in (seen[0], result.thread):
            self.assertIn(thread, threading.enumerate())
        zookeeper.close(handle)
        self.assertEqual(set(), dummies & set(
            t.ident for t in threading.enumerate()))

    def test_no_fd_or_thread_leak_over_50_sessions(self):
        self._cycle(True)      # warm up (lazy allocations, first callbacks)
        fds, tasks = fd_count(), task_count()
        threads = threading.active_count()
        during = []
        for i in range(50):
            self._cycle(i % 2 == 0)
            if i == 0:
                handle = zookeeper.init(SERVER.address, None, TIMEOUT)
                during.append((fd_count(), task_count()))
                zookeeper.close(handle)
        # An open handle costs descriptors and two C threads ...
        self.assertGreater(during[0][0], fds)
        self.assertEqual(tasks + 2, during[0][1])
        # ... which all come back.
        self.assertEqual(fds, fd_count())
        self.assertEqual(tasks, task_count())
        self.assertEqual(threads, threading.active_count())
        self.assertEqual(0, _client._context_count())
        self.assertEqual({}, _client._handles)

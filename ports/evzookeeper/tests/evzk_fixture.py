"""Shared pieces of the evzookeeper tests: real servers, waiting, counting.

The tests talk to real ZooKeeper servers (nova.tests.zkserver, the Debian
``zookeeper`` package) over TCP; nothing is mocked.  tickTime is 200 ms, so
the server grants session timeouts between 400 and 4000 ms.
"""

import atexit
import gc
import os
import sys
import time
import unittest
import uuid

import eventlet
import greenlet
import zookeeper

import evzookeeper
from nova.tests import zkserver

TICK_TIME = 200
#: A short session timeout for tests where the production value is not the
#: point (detection of a lost connection after 2/3 of it).
RECV_TIMEOUT = 1000

_shared = {'server': None}


def shared_server():
    """The module-wide server that no test stops or pauses."""
    server = _shared['server']
    if server is None or not server.running:
        server = zkserver.ZooKeeperServer(tick_time=TICK_TIME)
        server.start()
        _shared['server'] = server
        atexit.register(server.cleanup)
    return server


def own_server():
    """A server for one test class, which may stop or pause it."""
    server = zkserver.ZooKeeperServer(tick_time=TICK_TIME)
    server.start()
    return server


def unique_path(prefix='/evzk-test-'):
    return prefix + uuid.uuid4().hex[:12]


def wait_for(predicate, timeout=10.0, what='condition', interval=0.02):
    """Poll ``predicate`` (green sleeps: the hub runs) until it is true."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %.1f s waiting for %s'
                                 % (timeout, what))
        eventlet.sleep(interval)


class Ticker(object):
    """A green thread that ticks every ``interval`` s and records the
    longest gap between two ticks: the longest time the hub was blocked."""

    def __init__(self, interval=0.005):
        self.interval = interval
        self.ticks = 0
        self.max_gap = 0.0
        self._last = None
        self._running = True
        self._thread = eventlet.spawn(self._run)

    def _run(self):
        self._last = time.monotonic()
        while self._running:
            eventlet.sleep(self.interval)
            now = time.monotonic()
            self.max_gap = max(self.max_gap, now - self._last)
            self._last = now
            self.ticks += 1

    def reset(self):
        self.ticks = 0
        self.max_gap = 0.0
        self._last = time.monotonic()

    def stop(self):
        self._running = False
        self._thread.wait()


def expire_session(server, session):
    """End ``session`` on the server from a second handle (the classic
    ZooKeeper test trick): it learns EXPIRED when it reconnects.

    The second handle takes the session over, which drops the first one's
    connection; if the first reconnects before the second closes, the
    server refuses the close (session moved): try again.
    """
    old_sid = session.client_id()[0]
    for _attempt in range(20):
        thief = evzookeeper.ZKSession(server.address, timeout=10,
                                      recv_timeout=RECV_TIMEOUT,
                                      ident=session.client_id())
        thief.close()
        try:
            wait_for(lambda: session.client_id()[0] != old_sid, 1.5,
                     'expiry')
            return
        except AssertionError:
            pass
    raise AssertionError('could not expire session 0x%x' % old_sid)


def stat_or_none(session, path):
    try:
        return session.exists(path)
    except zookeeper.NoNodeException:
        return None


def open_fds():
    return sorted(int(fd) for fd in os.listdir('/proc/self/fd'))


def fd_targets():
    targets = {}
    for fd in os.listdir('/proc/self/fd'):
        try:
            targets[int(fd)] = os.readlink('/proc/self/fd/%s' % fd)
        except OSError:
            pass
    return targets


def os_threads():
    return len(os.listdir('/proc/self/task'))


def settled_os_threads():
    """The OS thread count once it stopped changing: a joined thread
    lingers in /proc a moment."""
    count = os_threads()
    for _i in range(40):
        eventlet.sleep(0.05)
        now = os_threads()
        if now == count:
            return now
        count = now
    return count


def live_greenlets():
    """Greenlets that are started and not finished (the hub's included)."""
    gc.collect()
    return [g for g in gc.get_objects()
            if isinstance(g, greenlet.greenlet) and g and not g.dead]


def describe_greenlets(greenlets):
    lines = []
    for g in greenlets:
        frame = g.gr_frame
        where = ''
        while frame is not None:
            where = '%s:%d %s' % (frame.f_code.co_filename, frame.f_lineno,
                                  frame.f_code.co_name)
            if 'evzookeeper' in frame.f_code.co_filename:
                break
            frame = frame.f_back
        lines.append('%r at %s' % (g, where))
    return '\n'.join(lines)


def python():
    return sys.executable


class SessionTestCase(unittest.TestCase):
    """A test with its own base path on the shared server (or on the
    class's ``server``); the sessions it opens with session() are closed
    after it."""

    server = None

    def setUp(self):
        if self.server is None:
            self.server = shared_server()
        self.base = unique_path()
        self.sessions = []

    def tearDown(self):
        for session in self.sessions:
            session.close()

    def session(self, **kwargs):
        kwargs.setdefault('timeout', 10)
        kwargs.setdefault('recv_timeout', RECV_TIMEOUT)
        session = evzookeeper.ZKSession(self.server.address, **kwargs)
        self.sessions.append(session)
        return session

"""The concurrency models the session and membership code run under.

Today's Nova runs a service either on native threads (its default since
2025.2; it then refuses any import of eventlet) or on eventlet green
threads.  The session and membership logic is written once, against the
small interface below, as kazoo keeps its threading, gevent and eventlet
handlers behind one interface.  What differs between the two models:

* the primitives (lock, event, spawn, sleep);
* ``blocking(func, *args)``: a call that blocks its OS thread (the
  binding's synchronous calls wait for the server) runs in the caller's
  thread under threading and on an OS thread of its own under eventlet, so
  that it never stalls the hub, not even while ZooKeeper is unreachable;
* ``dispatcher()``: the C client calls watchers on its own OS threads.
  Threading hands them to one worker thread (so that they may call the
  synchronous functions and never hold up the C client); eventlet hands
  them to the hub through a pipe (green primitives are not safe to touch
  from a foreign OS thread).

``get(name)`` returns one; eventlet is imported only by the eventlet model.
"""

import logging
import os
import queue
import threading
import time

LOG = logging.getLogger(__name__)

NAMES = ('threading', 'eventlet')


class UnknownConcurrency(ValueError):
    def __init__(self, name):
        ValueError.__init__(
            self, 'unknown concurrency model %r (known: %s)'
            % (name, ', '.join(NAMES)))


class Threading(object):
    """Native OS threads."""

    name = 'threading'

    def lock(self):
        return threading.Lock()

    def event(self):
        return threading.Event()

    def spawn(self, func, *args):
        thread = threading.Thread(target=func, args=args, daemon=True,
                                  name='zkgroup-%s' % getattr(
                                      func, '__name__', 'worker'))
        thread.start()
        return thread

    def sleep(self, seconds):
        time.sleep(seconds)

    def blocking(self, func, *args):
        return func(*args)

    def dispatcher(self, name):
        return _ThreadDispatcher(name)


class _ThreadDispatcher(object):
    """Runs posted calls in order on one worker thread."""

    def __init__(self, name):
        self.name = name
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='%s-dispatcher' % name)
        self._thread.start()

    def post(self, func, *args):
        """Safe from any OS thread."""
        self._queue.put((func, args))

    def stop(self):
        self._queue.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(10)

    def _run(self):
        while True:
            item = self._queue.get()
            if item is None:
                return
            func, args = item
            try:
                func(*args)
            except Exception:
                LOG.exception('%s: error in %r', self.name, func)
            del item, func, args


class Eventlet(object):
    """eventlet green threads, monkey-patched or not."""

    name = 'eventlet'

    def __init__(self):
        import eventlet
        from eventlet import event
        from eventlet import patcher
        from eventlet import semaphore
        from evzookeeper import utils
        self._eventlet = eventlet
        self._event = event
        self._semaphore = semaphore
        self._os_thread = patcher.original('threading').Thread
        self._bridge_class = utils.HubBridge
        self._bridge = None
        self._bridge_pid = None

    def lock(self):
        return self._semaphore.Semaphore(1)

    def event(self):
        return _GreenEvent(self._eventlet)

    def spawn(self, func, *args):
        return self._eventlet.spawn(func, *args)

    def sleep(self, seconds):
        self._eventlet.sleep(seconds)

    def blocking(self, func, *args):
        """``func(*args)`` on an OS thread of its own, the caller's green
        thread waiting on the hub.  Not eventlet's tpool: its threads do
        not cross a fork, yet it believes they are there (a forked worker
        would wait for ever), and its killall() waits for them too."""
        bridge = self._bridge_here()
        done = self._event.Event()

        def run():
            try:
                result = (True, func(*args))
            except BaseException as exc:
                result = (False, exc)
            bridge.post(done.send, result)
        self._os_thread(target=run, daemon=True, name='zkgroup-call').start()
        ok, value = done.wait()
        if ok:
            return value
        raise value

    def _bridge_here(self):
        if self._bridge is None or self._bridge_pid != os.getpid():
            # (a forked child: the parent's bridge is not for this hub)
            self._bridge = self._bridge_class('zkgroup-calls')
            self._bridge.start()
            self._bridge_pid = os.getpid()
        return self._bridge

    def dispatcher(self, name):
        bridge = self._bridge_class(name)
        bridge.start()
        return bridge


class _GreenEvent(object):
    """threading.Event's interface on the hub (eventlet's own Event is
    one-shot and has no timed wait)."""

    def __init__(self, eventlet):
        self._eventlet = eventlet
        self._flag = False
        self._waiters = set()

    def is_set(self):
        return self._flag

    def set(self):
        self._flag = True
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.ready():
                waiter.send(True)

    def clear(self):
        self._flag = False

    def wait(self, timeout=None):
        if self._flag:
            return True
        from eventlet import event as _event
        waiter = _event.Event()
        self._waiters.add(waiter)
        try:
            with self._eventlet.Timeout(timeout, False):
                waiter.wait()
        finally:
            self._waiters.discard(waiter)
        return self._flag


def get(name):
    """The model called ``name`` ('threading' or 'eventlet')."""
    if name == 'threading':
        return Threading()
    if name == 'eventlet':
        return Eventlet()
    raise UnknownConcurrency(name)

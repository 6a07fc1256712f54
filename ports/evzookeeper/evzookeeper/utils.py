# vim: tabstop=4 shiftwidth=4 softtabstop=4

#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""The bridge from the ZooKeeper C client's threads to the eventlet hub.

The C client (libzookeeper_mt) calls completions and watchers on its own
completion thread.  Nothing on that thread may touch an eventlet object: an
``Event.send`` or a green lock used from there does not wake the hub (or
corrupts it).  What crosses the border is data only:

* the foreign thread appends ``(callable, args)`` to a ``collections.deque``
  (thread-safe, never patched) and writes one byte to a non-blocking pipe
  with the *original* ``os.write`` (EAGAIN means a byte is already pending,
  which is all a wake-up needs);
* one green thread per bridge waits for the read end with
  ``eventlet.hubs.trampoline``, drains the pipe, then the queue, and runs
  each callable on the hub.

There is one pipe per bridge, and ZKSession keeps one bridge per session, so a
session costs two descriptors whatever the number of calls in flight.
Callables run in the dispatcher green thread and must not block: they resolve
an ``Event``, put to a queue or spawn a green thread.

This works the same with and without ``eventlet.monkey_patch()``: the pipe,
the writes, the short-lived helper threads of :func:`run_in_thread` all use
the original modules.
"""

import collections
import logging

import eventlet
from eventlet import event as _event
from eventlet import hubs
from eventlet import patcher
from eventlet import queue as _queue
from eventlet import timeout as _timeout

# The foreign-thread side uses the unpatched modules only.
_os = patcher.original('os')
_threading = patcher.original('threading')

LOG = logging.getLogger(__name__)

_READ_SIZE = 4096


class _Tick(Exception):
    """Thrown into the dispatcher when it waited ``tick`` seconds."""


class HubBridge(object):
    """One wake-up pipe and one dispatcher green thread.

    :meth:`post` may be called from any OS thread (the C client's threads,
    helper threads); everything else belongs to the hub's thread.
    """

    def __init__(self, name='evzookeeper', tick=None, on_tick=None):
        """
        @param name: used in log messages and thread names.
        @param tick: if not None, call ``on_tick()`` in the dispatcher after
            every ``tick`` seconds without a wake-up.
        @param on_tick: see tick; must not block.
        """
        self.name = name
        self._tick = tick
        self._on_tick = on_tick
        self._queue = collections.deque()
        self._rfd = None
        self._wfd = None
        self._thread = None
        self._stopping = False

    @property
    def running(self):
        return self._thread is not None and not self._thread.dead

    def start(self):
        """Create the pipe and spawn the dispatcher green thread."""
        if self._thread is not None:
            raise RuntimeError('bridge %s already started' % self.name)
        rfd, wfd = _os.pipe()  # non-inheritable (close-on-exec)
        _os.set_blocking(rfd, False)
        _os.set_blocking(wfd, False)
        self._rfd, self._wfd = rfd, wfd
        self._stopping = False
        self._thread = eventlet.spawn(self._run)

    def post(self, func, *args):
        """Run ``func(*args)`` on the hub soon.  Safe from any OS thread.

        Returns False when the bridge is not running (nothing was queued).
        """
        wfd = self._wfd
        if wfd is None:
            return False
        self._queue.append((func, args))
        try:
            _os.write(wfd, b'!')
        except BlockingIOError:
            pass  # the pipe is full: a wake-up is pending anyway
        except OSError:
            # Closed under our feet: only possible if a caller posts after
            # stop(), which ZKSession never does.  No logging here: this may
            # be a foreign thread and logging takes (possibly green) locks.
            return False
        return True

    def stop(self, wait=True):
        """Run what is queued, end the dispatcher, close the pipe.

        Call it from the hub's thread, after the last foreign poster is gone
        (for a session: after zookeeper.close() returned).
        """
        thread = self._thread
        if thread is None or self._stopping:
            return
        self._stopping = True
        self.post(_noop)
        if wait and eventlet.getcurrent() is not thread:
            thread.wait()

    # -- the dispatcher ----------------------------------------------------

    def _run(self):
        rfd = self._rfd
        try:
            while True:
                if not self._queue:
                    if self._stopping:
                        break
                    try:
                        hubs.trampoline(rfd, read=True, timeout=self._tick,
                                        timeout_exc=_Tick)
                    except _Tick:
                        self._call(self._on_tick)
                        continue
                self._drain_pipe(rfd)
                while self._queue:
                    func, args = self._queue.popleft()
                    self._call(func, *args)
        finally:
            self._close_pipe()

    def _drain_pipe(self, rfd):
        while True:
            try:
                if len(_os.read(rfd, _READ_SIZE)) < _READ_SIZE:
                    return
            except BlockingIOError:
                return

    def _call(self, func, *args):
        try:
            func(*args)
        except Exception:
            LOG.exception('%s: error in %r called from the bridge',
                          self.name, func)

    def _close_pipe(self):
        rfd, wfd = self._rfd, self._wfd
        self._wfd = None
        self._rfd = None
        self._queue.clear()
        for fd in (rfd, wfd):
            if fd is None:
                continue
            try:
                hubs.notify_close(fd)
            except Exception:
                LOG.debug('notify_close(%d) failed', fd, exc_info=True)
            try:
                _os.close(fd)
            except OSError as exc:
                LOG.warning('%s: closing pipe fd %d: %s', self.name, fd, exc)


def _noop():
    pass


def run_in_thread(bridge, func, *args):
    """Call a blocking function on a short-lived OS thread.

    The calling green thread waits (the hub keeps running); the result comes
    back through ``bridge``.  Used for the few blocking C calls
    (``zookeeper.init`` resolves host names, ``zookeeper.close`` waits for
    the server and joins the C client's threads).  Without a running bridge
    the function is called directly.
    """
    if bridge is None or not bridge.running or \
            eventlet.getcurrent() is bridge._thread:
        # (in the dispatcher nobody could deliver the result)
        return func(*args)
    done = _event.Event()

    def target():
        try:
            result = (True, func(*args))
        except BaseException as exc:  # handed to the waiting green thread
            result = (False, exc)
        bridge.post(done.send, result)

    thread = _threading.Thread(target=target, daemon=True,
                               name='%s-%s' % (bridge.name,
                                               getattr(func, '__name__',
                                                       'call')))
    thread.start()
    ok, value = done.wait()
    thread.join()
    if ok:
        return value
    raise value


class PipeConditionClosedError(Exception):
    """The condition was closed while (or before) waiting on it."""


_CLOSED = object()


class StatePipeCondition(object):
    """A green channel of states, with evzookeeper 0.4.0's interface.

    ZKSession delivers session events to connection callbacks of this type
    by calling ``set_and_notify((handle, type, state, path))`` on the hub;
    a green thread reads them with ``wait_and_get()``.  Unlike the original
    (one pipe per object, only the last state kept), nothing here is an OS
    resource and every notification keeps its own state, in order.

    Only green threads of the hub's OS thread may call it: from a foreign
    thread use :class:`HubBridge`.
    """

    def __init__(self):
        self._queue = _queue.LightQueue()
        self._closed = False

    @property
    def closed(self):
        return self._closed

    def set_and_notify(self, state, quiet=True):
        """Queue ``state`` for the waiter.  Ignored once closed."""
        if self._closed:
            return
        self._queue.put(state)

    def wait_and_get(self, timeout=None):
        """Return the next state.

        @param timeout: seconds; on expiry eventlet.timeout.Timeout is
            raised, as in 0.4.0.
        @raise PipeConditionClosedError: when closed.
        """
        if self._closed and self._queue.qsize() == 0:
            raise PipeConditionClosedError()
        with _timeout.Timeout(timeout):
            state = self._queue.get()
        if state is _CLOSED:
            self._queue.put(_CLOSED)  # wake any other waiter too
            raise PipeConditionClosedError()
        return state

    def drain(self):
        """Return (without waiting) every state queued so far."""
        states = []
        while True:
            try:
                state = self._queue.get_nowait()
            except _queue.Empty:
                return states
            if state is _CLOSED:
                self._queue.put(_CLOSED)
                return states
            states.append(state)

    def close(self):
        if not self._closed:
            self._closed = True
            self._queue.put(_CLOSED)

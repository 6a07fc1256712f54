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

evzookeeper 0.4.0's ``PipeCondition`` and ``StatePipeCondition`` (notify
from any OS thread, wait in a green thread) ride on one such bridge per OS
thread, shared by all of them (0.4.0 opened a pipe per object, so per
call).  ``TimeoutGreenPipe`` is 0.4.0's green pipe whose reads time out.

This works the same with and without ``eventlet.monkey_patch()``: the pipe,
the writes, the short-lived helper threads of :func:`run_in_thread` all use
the original modules.
"""

import collections
import io
import logging
import weakref

import eventlet
from eventlet import event as _event
from eventlet import hubs
from eventlet import patcher
from eventlet import queue as _queue
from eventlet import timeout as _timeout

# The foreign-thread side uses the unpatched modules only.
_os = patcher.original('os')
_thread = patcher.original('_thread')
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
                    # not kept while waiting: it may hold a session
                    del func, args
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


def weak_method(method):
    """A plain callable that calls the bound ``method`` while its object
    lives and does nothing afterwards.

    Callbacks that the C client or a bridge keep for an unknown time hold
    their object through this, so that an object the caller dropped can be
    collected (and its ``__del__`` release what it owns).
    """
    ref = weakref.WeakMethod(method)

    def call(*args):
        bound = ref()
        if bound is not None:
            return bound(*args)
        return None
    return call


# -- evzookeeper 0.4.0's conditions ----------------------------------------

class PipeConditionClosedError(Exception):
    """The condition was closed while (or before) waiting on it."""


# hub -> (pid, HubBridge): the one bridge of each OS thread's hub that the
# conditions of that thread share.
_thread_bridges = weakref.WeakKeyDictionary()


def _thread_bridge():
    hub = hubs.get_hub()
    entry = _thread_bridges.get(hub)
    if entry is not None and entry[0] == _os.getpid() and entry[1].running:
        return entry[1]
    # (a forked child must not write to its parent's pipe)
    bridge = HubBridge(name='evzookeeper-conditions')
    bridge.start()
    _thread_bridges[hub] = (_os.getpid(), bridge)
    return bridge


class PipeCondition(object):
    """evzookeeper 0.4.0's condition: notify() from any OS thread wakes a
    green thread blocked in wait().

    Create it, and wait(), on the OS thread whose hub runs the waiter;
    notify() may come from anywhere (a C client's thread, a helper thread,
    a green thread).  Each notify() lets one wait() return, as each byte
    written to 0.4.0's pipe did: notifications made while nobody waits are
    counted, not lost.

    0.4.0 opened a pipe per object.  Here every condition of an OS thread
    shares that thread's one HubBridge (two descriptors, opened once), so
    an object holds no OS resource and nothing leaks when it is dropped
    without close().
    """

    def __init__(self):
        self._owner = _thread.get_ident()
        self._bridge = _thread_bridge()
        self._pending = 0
        self._closed = False
        self._changed = _event.Event()

    @property
    def closed(self):
        return self._closed

    def notify(self, quiet=True):
        """Wake one wait(), now or when it comes.  Safe from any OS thread;
        does nothing once closed.

        @param quiet: if False, raise PipeConditionClosedError when the
            wake-up cannot be delivered (the owner's bridge is gone).
        """
        if self._closed:
            return
        if _thread.get_ident() == self._owner:
            self._wake()
        elif not self._bridge.post(self._wake) and not quiet:
            raise PipeConditionClosedError()

    def wait(self, timeout=None):
        """Return (None) after a notify(); consume it.

        @param timeout: seconds; eventlet.timeout.Timeout is raised when
            nothing came in time (0: do not block).
        @raise PipeConditionClosedError: when closed, before or meanwhile.
        """
        if _thread.get_ident() != self._owner:
            raise RuntimeError('PipeCondition.wait() outside the OS thread '
                               'that created it: nothing would wake it')
        with _timeout.Timeout(timeout):
            while True:
                if self._closed:
                    raise PipeConditionClosedError()
                if self._pending:
                    self._pending -= 1
                    return None
                self._changed.wait()

    def close(self):
        """Fail every present and later wait(); ignore later notify()."""
        if self._closed:
            return
        if _thread.get_ident() != self._owner:
            self._bridge.post(self.close)
            return
        self._closed = True
        self._signal()

    def _wake(self):
        if self._closed:
            return
        self._pending += 1
        self._signal()

    def _signal(self):
        changed, self._changed = self._changed, _event.Event()
        changed.send()

    def __del__(self):
        # Nobody waits (a waiter would hold us): nothing to wake, nothing
        # to release.  Only mark it, whatever thread the collector runs on.
        self._closed = True


class StatePipeCondition(PipeCondition):
    """A PipeCondition that carries the LAST state, as in 0.4.0.

    set_and_notify(state) stores ``state`` and notifies; wait_and_get()
    waits for a notification and returns the state stored last.  A waiter
    that wakes late gets the newest state, not the oldest: a connection
    callback reads the state the session is in now.  (Use EventQueue to
    see every state in order.)
    """

    def __init__(self):
        super(StatePipeCondition, self).__init__()
        self._state = None

    def set_and_notify(self, state, quiet=True):
        """Store ``state`` and notify.  Safe from any OS thread."""
        self._state = state
        return self.notify(quiet=quiet)

    def wait_and_get(self, timeout=None):
        """Wait as wait() does; return the state stored last."""
        self.wait(timeout)
        return self._state


_CLOSED = object()


class EventQueue(object):
    """Every state in order (not 0.4.0's: its recipes lost events).

    The recipes read their session events from one of these: a green
    queue with StatePipeCondition's interface (set_and_notify,
    wait_and_get, close) plus drain().  Only green threads of the hub's OS
    thread may use it: from a foreign thread go through HubBridge.
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

        @param timeout: seconds; on expiry eventlet.timeout.Timeout.
        @raise PipeConditionClosedError: when closed (after what was
            queued before close() has been read).
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


# -- evzookeeper 0.4.0's TimeoutGreenPipe -------------------------------------

class _TimeoutFileIO(io.RawIOBase):
    """A non-blocking descriptor whose reads and writes wait on the hub, at
    most ``timeout`` seconds each."""

    def __init__(self, fileno, mode, name):
        super(_TimeoutFileIO, self).__init__()
        self._fileno = fileno
        self._mode = mode
        self.name = name
        self.timeout = None
        _os.set_blocking(fileno, False)
        hubs.notify_opened(fileno)

    def fileno(self):
        self._checkClosed()
        return self._fileno

    def readable(self):
        return 'r' in self._mode or '+' in self._mode

    def writable(self):
        return any(c in self._mode for c in 'wax+')

    def readinto(self, buf):
        self._checkClosed()
        while True:
            try:
                data = _os.read(self._fileno, len(buf))
            except BlockingIOError:
                hubs.trampoline(self._fileno, read=True,
                                timeout=self.timeout)
                continue
            buf[:len(data)] = data
            return len(data)

    def write(self, data):
        self._checkClosed()
        while True:
            try:
                return _os.write(self._fileno, data)
            except BlockingIOError:
                hubs.trampoline(self._fileno, write=True,
                                timeout=self.timeout)

    def close(self):
        if self.closed:
            return
        try:
            super(_TimeoutFileIO, self).close()
        finally:
            try:
                hubs.notify_close(self._fileno)
            except Exception:  # e.g. at interpreter shutdown
                pass
            _os.close(self._fileno)


class TimeoutGreenPipe(object):
    """A green file on a pipe (or any descriptor) whose reads give up after
    set_timeout() seconds with eventlet.timeout.Timeout (0.4.0's class).

    @param f: a descriptor (int; it becomes the pipe's), a path (str) or a
        file object (its descriptor is duplicated, the object closed).
    @param mode: as for open(); with 'b' reads return bytes, else str.
    @param bufsize: 0 unbuffered (binary only), -1 default, 1 line
        buffered (text), n a buffer of n bytes.

    Today's eventlet.greenio.GreenPipe is a function (it cannot be
    subclassed, as 0.4.0 did), so this wraps the io stack of open() around
    a raw file that waits on the hub with a timeout.  Reads, writes and
    other attributes are the wrapped file's.
    """

    def __init__(self, f, mode='r', bufsize=-1):
        if isinstance(f, bool) or not (isinstance(f, (str, int)) or
                                       hasattr(f, 'fileno')):
            raise TypeError('f(ile) should be int, str or file, not %r'
                            % (f,))
        binary_mode = mode.replace('t', '')
        if 'b' not in binary_mode:
            binary_mode += 'b'
        if isinstance(f, str):
            name = f
            with open(f, binary_mode, buffering=0) as opened:
                fileno = _os.dup(opened.fileno())
        elif isinstance(f, int):
            fileno = f
            name = '<fd:%d>' % fileno
        else:
            f_mode = getattr(f, 'mode', mode)
            if not isinstance(f_mode, str) or \
                    f_mode.replace('b', '').replace('t', '') != \
                    mode.replace('b', '').replace('t', ''):
                raise ValueError('file.mode %r does not match mode '
                                 'parameter %r' % (f_mode, mode))
            name = getattr(f, 'name', None)
            fileno = _os.dup(f.fileno())
            f.close()
        if 'b' not in mode and bufsize == 0:
            _os.close(fileno)
            raise ValueError("can't have unbuffered text I/O")
        self._name = name
        self._raw = _TimeoutFileIO(fileno, binary_mode, name)
        self._file = _io_stack(self._raw, mode, bufsize)

    def set_timeout(self, timeout):
        """Seconds a read (or write) may wait; None: for ever."""
        self._raw.timeout = timeout

    @property
    def name(self):
        return self._name

    def close(self):
        self._file.close()

    @property
    def closed(self):
        return self._file.closed

    def fileno(self):
        return self._raw.fileno()

    def __getattr__(self, name):
        # only reached for what this class does not define
        if name.startswith('__') or name in ('_file', '_raw'):
            raise AttributeError(name)
        return getattr(self._file, name)

    def __iter__(self):
        return iter(self._file)

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    def __repr__(self):
        return '<TimeoutGreenPipe %s>' % (self._name,)


def _io_stack(raw, mode, bufsize):
    """What open() would put on top of ``raw`` for ``mode``/``bufsize``."""
    if 'b' in mode and bufsize == 0:
        return raw
    size = bufsize if bufsize > 1 else io.DEFAULT_BUFFER_SIZE
    if raw.readable() and raw.writable():
        buffered = io.BufferedRWPair(raw, raw, size)
    elif raw.readable():
        buffered = io.BufferedReader(raw, size)
    else:
        buffered = io.BufferedWriter(raw, size)
    if 'b' in mode:
        return buffered
    return io.TextIOWrapper(buffered, line_buffering=(bufsize == 1),
                            write_through=(bufsize == 1))

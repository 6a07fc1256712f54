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

"""ZooKeeper for eventlet green threads (the API of evzookeeper 0.4.0).

``ZKSession`` wraps one handle of the ``zookeeper`` module (the zkpython API
over the multi-threaded C client) and makes its asynchronous calls look
synchronous to green threads:

* only the asynchronous C calls are used (``acreate``, ``aget``, ...); the
  calling green thread waits on an ``eventlet.event.Event`` while the hub
  runs on;
* completions and watchers, which the C client calls on its own thread,
  reach the hub through the session's one wake-up pipe (see
  ``evzookeeper.utils.HubBridge``); watchers and connection callbacks then
  run in green threads of their own;
* the two blocking C calls, ``zookeeper.init`` (host name resolution) and
  ``zookeeper.close`` (waits for the server, joins the C threads), run on a
  short-lived helper thread;
* the C client's threads keep the session alive (pings) even while a green
  thread blocks the hub;
* when the session expires, ZKSession closes the dead handle and opens a new
  session by itself; connection callbacks see EXPIRED_SESSION_STATE, then
  CONNECTED_STATE of the new session, and the recipes in
  ``evzookeeper.membership`` rebuild their state from that.

A session belongs to the process (and the OS thread's hub) that created it:
it must not cross a fork.  Create it lazily in the process that uses it;
a call made in a forked child raises RuntimeError.  Nothing is created at
import time.

Session events are taken from the session watcher, which this project's
binding calls on every state change.  A connected session does no periodic
work of its own (only the C client pings); while it is not connected the
state is also polled once a second, to say now and then that it is still
away (the C client reports no new state while connections are refused).
The one exception: in a process that forked while it had sessions open,
those sessions poll for good (see _after_fork_in_parent).
This port runs only on Python 3 with that binding; on Python 2 the original
evzookeeper 0.4.0 and zkpython are used, whose watcher fires once.
"""

import functools
import itertools
import logging
import os
import sys
import time
import weakref

import eventlet
from eventlet import event as _event
from eventlet import hubs as _hubs
from eventlet import patcher
from eventlet import semaphore as _semaphore
from eventlet import timeout as _timeout
import zookeeper

from evzookeeper import utils


LOG = logging.getLogger(__name__)

# the helper threads of __del__ are real threads, monkey-patched or not
_threading = patcher.original('threading')

#: The world:anyone ACL entry; pass it in a list: [ZOO_OPEN_ACL_UNSAFE].
ZOO_OPEN_ACL_UNSAFE = {"perms": zookeeper.PERM_ALL, "scheme": "world",
                       "id": "anyone"}

#: Seconds between two polls of the handle's state by the dispatcher while
#: the session is not connected.
STATE_POLL_INTERVAL = 1.0

#: The longest pause between two attempts to open a new session after an
#: expiry when zookeeper.init() itself fails (e.g. a name does not resolve).
MAX_RECONNECT_DELAY = 30.0


def _name_table(names):
    table = {}
    for name in names:
        value = getattr(zookeeper, name, None)
        if value is not None:
            table[value] = name
    return table


_STATE_NAMES = _name_table(('CONNECTED_STATE', 'CONNECTING_STATE',
                            'ASSOCIATING_STATE', 'EXPIRED_SESSION_STATE',
                            'AUTH_FAILED_STATE', 'READONLY_STATE',
                            'NOTCONNECTED_STATE'))
_EVENT_NAMES = _name_table(('CREATED_EVENT', 'DELETED_EVENT',
                            'CHANGED_EVENT', 'CHILD_EVENT', 'SESSION_EVENT',
                            'NOTWATCHING_EVENT'))


def state_name(state):
    """A readable name for a session state (for log messages)."""
    if state is None:
        return 'NEW'
    if state == 0:
        return 'CLOSED_STATE'
    return _STATE_NAMES.get(state, str(state))


def event_name(event_type):
    """A readable name for a watch event type (for log messages)."""
    return _EVENT_NAMES.get(event_type, str(event_type))


# Return code -> exception class, built from zkpython's names so that it
# works with any module of that API.
_RC_EXCEPTIONS = (
    ('APIERROR', 'ApiErrorException'),
    ('AUTHFAILED', 'AuthFailedException'),
    ('BADARGUMENTS', 'BadArgumentsException'),
    ('BADVERSION', 'BadVersionException'),
    ('CLOSING', 'ClosingException'),
    ('CONNECTIONLOSS', 'ConnectionLossException'),
    ('DATAINCONSISTENCY', 'DataInconsistencyException'),
    ('INVALIDACL', 'InvalidACLException'),
    ('INVALIDCALLBACK', 'InvalidCallbackException'),
    ('INVALIDSTATE', 'InvalidStateException'),
    ('MARSHALLINGERROR', 'MarshallingErrorException'),
    ('NONODE', 'NoNodeException'),
    ('NOAUTH', 'NoAuthException'),
    ('NODEEXISTS', 'NodeExistsException'),
    ('NOCHILDRENFOREPHEMERALS', 'NoChildrenForEphemeralsException'),
    ('NOTEMPTY', 'NotEmptyException'),
    ('NOTHING', 'NothingException'),
    ('OPERATIONTIMEOUT', 'OperationTimeoutException'),
    ('RUNTIMEINCONSISTENCY', 'RuntimeInconsistencyException'),
    ('SESSIONEXPIRED', 'SessionExpiredException'),
    ('SESSIONMOVED', 'SessionMovedException'),
    ('SYSTEMERROR', 'SystemErrorException'),
    ('UNIMPLEMENTED', 'UnimplementedException'),
)


def _rc_table():
    table = {}
    for rc_name, exc_name in _RC_EXCEPTIONS:
        rc = getattr(zookeeper, rc_name, None)
        exc = getattr(zookeeper, exc_name, None)
        if rc is not None and exc is not None:
            table[rc] = exc
    return table


def _zerror(rc):
    try:
        return zookeeper.zerror(rc)
    except Exception:  # an odd rc: still raise something readable
        LOG.debug('zookeeper.zerror(%r) failed', rc, exc_info=True)
        return 'zookeeper error %r' % (rc,)


def _exception(exc_name, message):
    cls = getattr(zookeeper, exc_name, zookeeper.ZooKeeperException)
    return cls(message)


# -- what the C client's threads run ---------------------------------------
# These run on a foreign OS thread: they only hand their arguments to the
# session's bridge (a deque append and a one-byte write).

def _post_completion(bridge, func, call_id, *args):
    bridge.post(func, call_id, args)


def _post_event(bridge, func, *args):
    bridge.post(func, *args)


_NO_WATCHER = object()


def _no_op():
    pass


def _data(value):
    """Node data for the binding: bytes (str is sent as UTF-8)."""
    if isinstance(value, str):
        return value.encode('utf-8')
    return value


class ZKSession(object):
    """A ZooKeeper session whose calls block only the calling green thread."""

    def __init__(self, host, timeout=None, recv_timeout=10000,
                 ident=(-1, ""), zklog_fd=None, init_cbs=None, ssl=None):
        """
        @param host: comma separated host:port pairs, each corresponding to
            a zk server, e.g. '127.0.0.1:3000,127.0.0.1:3001'.

        (subsequent parameters are optional)

        @param timeout: None (the default) returns at once and lets the
            session be established in the background (calls made meanwhile
            wait for it); otherwise the seconds to wait for CONNECTED_STATE,
            after which the handle is closed and eventlet.timeout.Timeout
            is raised.

        @param recv_timeout: the session timeout asked of the server, in ms.
            The server grants a value within [2, 20] x its tickTime.  The C
            client pings after a third of it and gives up a connection after
            two thirds.

        @param ident: (clientid, passwd) of an established session to take
            over; (-1, "") for a new session.  If it has expired, the
            session reports EXPIRED_SESSION_STATE and opens a new one.  It
            is used once: a later connect() opens a new session.

        @param zklog_fd: a file the C client logs to (``set_log_stream``;
            process-wide).  By default the log goes to /dev/null (one
            descriptor opened once per process).

        @param init_cbs: connection callbacks registered before the session
            starts (see add_connection_callback).

        @param ssl: None for a plain connection, or the C client's
            certificate string "ca.pem,cert.pem,key.pem[,passwd]" to
            connect over TLS with zookeeper.init_ssl (this port only;
            needs a C client built with OpenSSL).  Sessions opened after
            an expiry use it too.
        """
        LOG.debug("Create a new ZKSession: host=%s timeout=%s "
                  "recv_timeout=%s", host, timeout, recv_timeout)
        self._host = host
        self._recv_timeout = recv_timeout
        self._ident = ident
        self._zklog_fd = zklog_fd
        if ssl is not None and not hasattr(zookeeper, 'init_ssl'):
            raise _exception(
                'ZooKeeperException', 'TLS asked for, but the ZooKeeper C '
                'client %s was built without OpenSSL (no zookeeper_init_ssl)'
                % getattr(zookeeper, 'LIBRARY', ''))
        self._ssl = ssl
        self._pid = os.getpid()
        self._zhandle = None
        self._state = None
        self._closed = False
        self._reconnecting = False
        self._bridge = None
        self._pending = {}
        self._call_ids = itertools.count(1)
        self._conn_cbs = []
        # weak: the session must not keep a recipe whose green thread is
        # gone from being collected (and its __del__ from running)
        self._services = weakref.WeakSet()
        self._auths = []
        self._handle_lock = _semaphore.Semaphore()
        self._handle_changed = _event.Event()
        self._state_changed = _event.Event()
        self._disconnected_since = time.monotonic()
        self._next_warning = None
        self._forked = False
        self._hub_thread = None
        _sessions.add(self)
        for cb in init_cbs or ():
            self.add_connection_callback(cb)
        _set_log_stream(zklog_fd)
        try:
            self.connect(timeout=timeout)
        except BaseException:
            # The caller gets no object to close: do not leave a handle
            # retrying in the background (0.4.0 did).
            self.close()
            raise

    def __repr__(self):
        return '<ZKSession %s %s>' % (self._host, state_name(self._state))

    # -- connection -------------------------------------------------------

    def connect(self, timeout=None):
        """(Re)establish the session.

        Closes the current handle, if any (its session ends: its ephemeral
        nodes go), and opens a new one.  A closed session may be connected
        again.

        @param timeout: None returns at once; otherwise the seconds to wait
            for CONNECTED_STATE before eventlet.timeout.Timeout is raised.
        """
        self._check_pid()
        self._closed = False
        if self._bridge is None or not self._bridge.running:
            self._hub_thread = _threading.get_ident()
            self._bridge = utils.HubBridge(
                name='evzookeeper-%s' % self._host,
                tick=STATE_POLL_INTERVAL,
                on_tick=utils.weak_method(self._on_tick))
            self._bridge.start()
        self._replace_handle(self._ident)
        if timeout is not None:
            self._wait_connected(timeout)

    def _wait_connected(self, timeout):
        started = time.monotonic()
        try:
            with _timeout.Timeout(timeout):
                while True:
                    # Decide on self._state, which only _check_state()
                    # changes (and signals): a look at the live state could
                    # see a blip that no event reports, and wait for ever.
                    self._check_state()
                    if self._connected():
                        return
                    if self._closed:
                        raise _exception('ClosingException',
                                         'session closed')
                    if self._state == zookeeper.AUTH_FAILED_STATE:
                        raise _exception('AuthFailedException',
                                         'authentication failed')
                    with _timeout.Timeout(STATE_POLL_INTERVAL, False):
                        self._state_changed.wait()
        except _timeout.Timeout:
            LOG.warning("ZooKeeper %s: not connected within %.1f s (state "
                        "%s); the client keeps trying in the background",
                        self._host, time.monotonic() - started,
                        state_name(self._state))
            raise

    def _replace_handle(self, ident, only_if=None):
        """Close the current handle (if any) and open a new one.

        @param only_if: do nothing unless the current handle is this one
            (or there is none): someone else replaced it meanwhile.
        """
        with self._handle_lock:
            old = self._zhandle
            if only_if is not None and old not in (only_if, None):
                return
            if old is not None:
                self._zhandle = None
                self._state = None
                self._close_handle(old)
            handle = self._open_handle(ident)
            self._ident = (-1, "")  # taken over (or found expired) once
            if self._closed:
                # close() ran while zookeeper.init() did
                self._close_handle(handle)
                return
            self._zhandle = handle
            self._state = None
            self._disconnected_since = time.monotonic()
            self._next_warning = None
            for scheme, cert in self._auths:
                self._readd_auth(handle, scheme, cert)
            changed, self._handle_changed = (self._handle_changed,
                                             _event.Event())
            changed.send()
        # Session events that came before zookeeper.init() returned were
        # dropped (unknown handle): pick up the state now.
        self._check_state()

    def _open_handle(self, ident):
        # The binding keeps the watcher as long as the handle: it must not
        # keep the session alive.
        watcher = functools.partial(_post_event, self._bridge,
                                    utils.weak_method(self._session_event))
        args = [self._host, watcher, self._recv_timeout]
        init = zookeeper.init
        if self._ssl is not None:
            args.insert(1, self._ssl)
            init = zookeeper.init_ssl
        if ident and ident[0] not in (-1, 0, None):
            args.append(tuple(ident))
        handle = utils.run_in_thread(self._bridge, init, *args)
        LOG.debug("ZooKeeper %s: opened handle %s", self._host, handle)
        return handle

    def _close_handle(self, handle):
        try:
            utils.run_in_thread(self._bridge, zookeeper.close, handle)
        except zookeeper.ZooKeeperException as exc:
            LOG.warning("ZooKeeper %s: closing handle %s: %s", self._host,
                        handle, exc)
        else:
            LOG.debug("ZooKeeper %s: closed handle %s", self._host, handle)
        # The C client may drop completions of a closed handle: fail what
        # still waits for one.
        for call_id, (done, call_handle) in list(self._pending.items()):
            if call_handle == handle:
                del self._pending[call_id]
                done.send((handle, zookeeper.CLOSING))

    def close(self, quiet=True):
        """End the session (its ephemeral nodes go at once).

        Recipes built on the session (Membership, MembershipMonitor) stop;
        calls still waiting fail with ClosingException.  The wake-up pipe
        and the dispatcher green thread go too.  connect() may be called
        again afterwards.
        """
        if self._closed:
            return
        self._check_pid()
        self._closed = True
        for service in list(self._services):
            try:
                service._session_closed()
            except Exception:
                LOG.exception("ZooKeeper %s: stopping %r", self._host,
                              service)
        try:
            with self._handle_lock:
                handle, self._zhandle = self._zhandle, None
                self._state = None
                if handle is not None:
                    try:
                        self._close_handle(handle)
                    except Exception:
                        LOG.exception("ZooKeeper %s: error closing handle %s",
                                      self._host, handle)
                        if not quiet:
                            raise
        finally:
            for done, _handle in list(self._pending.values()):
                done.send((None, zookeeper.CLOSING))
            self._pending.clear()
            changed, self._handle_changed = (self._handle_changed,
                                             _event.Event())
            changed.send()
            self._signal_state_changed()
            if self._bridge is not None:
                self._bridge.stop()
                self._bridge = None
            LOG.info("ZooKeeper %s: session closed", self._host)

    def is_connected(self):
        """True when the handle is in CONNECTED_STATE."""
        handle = self._zhandle
        if handle is None or self._closed:
            return False
        try:
            return zookeeper.state(handle) == zookeeper.CONNECTED_STATE
        except zookeeper.ZooKeeperException:
            LOG.debug("zookeeper.state(%s) failed", handle, exc_info=True)
            return False

    def _connected(self):
        """True when the last state reported to the connection callbacks
        is CONNECTED_STATE.  Recipes decide on this, not on the live state
        (is_connected()), so that every decision to wait for CONNECTED_STATE
        is followed by its event."""
        return (self._zhandle is not None and not self._closed and
                self._state == zookeeper.CONNECTED_STATE)

    def state(self):
        """The handle's state (0 when there is no handle)."""
        handle = self._zhandle
        if handle is None:
            return 0
        return zookeeper.state(handle)

    def client_id(self):
        """(session id, password) of the current session."""
        return zookeeper.client_id(self._get_handle())

    def session_timeout(self):
        """The session timeout the server granted, in ms."""
        return zookeeper.recv_timeout(self._get_handle())

    def add_connection_callback(self, callback):
        """Call ``callback`` on every change of the session's state.

        @param callback: an object with ``set_and_notify(args)`` (e.g.
            utils.StatePipeCondition; called on the hub, must not block) or
            a callable, run in a green thread of its own.  Either gets
            ``(handle, SESSION_EVENT, state, '')``.
        """
        if callback not in self._conn_cbs:
            self._conn_cbs.append(callback)

    def remove_connection_callback(self, callback):
        """@raise KeyError: if the callback is not registered."""
        try:
            self._conn_cbs.remove(callback)
        except ValueError:
            raise KeyError(callback)

    # -- session events (on the hub, in the dispatcher) -----------------------

    def _session_event(self, handle, event_type, state, path):
        if handle != self._zhandle:
            LOG.debug("ZooKeeper %s: ignoring %s %s of old handle %s",
                      self._host, event_name(event_type), state_name(state),
                      handle)
            return
        self._check_state(state)

    def _on_tick(self):
        self._check_state()
        if self._closed or self._zhandle is None or \
                self._state == zookeeper.CONNECTED_STATE:
            return
        # Not connected: say so now and then (the C client keeps trying).
        now = time.monotonic()
        down = now - self._disconnected_since
        if self._next_warning is None:
            self._next_warning = max(2.0, 2 * self._recv_timeout / 1000.0)
        if down >= self._next_warning:
            LOG.warning("ZooKeeper %s: not connected for %.0f s (state %s); "
                        "still trying", self._host, down,
                        state_name(self._state))
            self._next_warning = min(down * 2, down + 300)

    def _check_state(self, reported=None):
        """Compare the handle's state with the last one seen; act on news.

        ``reported`` is the state of a session event, and it wins: the C
        client queues one event per transition, in order, and queues it
        before it updates the live state (3.8 queues CONNECTING_STATE,
        fails the requests in flight, and only then leaves
        CONNECTED_STATE; between two attempts it reads 0).  Read while
        that event is handled, the live state still says CONNECTED_STATE,
        and a lost connection would go unnoticed for good.

        Without an event (a poll) the live state is taken, but it may only
        bring CONNECTED_STATE back where the event of it can be missing:
        the first look at a new handle (events that came before
        zookeeper.init() returned were dropped) and after a fork (the child
        may take bytes from the pipe).  Anywhere else a poll inside that
        window would undo the CONNECTING_STATE just reported; the
        CONNECTED_STATE event always comes.
        """
        handle = self._zhandle
        if handle is None or self._closed:
            return
        if reported is not None:
            state = reported
        else:
            try:
                state = zookeeper.state(handle)
            except zookeeper.ZooKeeperException:
                LOG.exception("ZooKeeper %s: reading the state of handle %s",
                              self._host, handle)
                return
            if state == zookeeper.CONNECTED_STATE and \
                    self._state is not None and not self._forked:
                return
        if state == self._state or state == 0:
            return
        old, self._state = self._state, state
        if state == zookeeper.CONNECTED_STATE:
            self._disconnected_since = None
            self._next_warning = None
            try:
                session_id = zookeeper.client_id(handle)[0]
                timeout = zookeeper.recv_timeout(handle)
            except Exception:
                LOG.debug("client_id/recv_timeout failed", exc_info=True)
                session_id, timeout = 0, -1
            LOG.info("ZooKeeper %s: %s -> CONNECTED_STATE, session 0x%x, "
                     "timeout %s ms", self._host, state_name(old),
                     session_id, timeout)
        else:
            if self._disconnected_since is None:
                self._disconnected_since = time.monotonic()
            log = LOG.warning if old == zookeeper.CONNECTED_STATE or \
                state in (zookeeper.EXPIRED_SESSION_STATE,
                          zookeeper.AUTH_FAILED_STATE) else LOG.info
            log("ZooKeeper %s: %s -> %s", self._host, state_name(old),
                state_name(state))
        self._poll_while_away(state != zookeeper.CONNECTED_STATE)
        self._signal_state_changed()
        self._notify(handle, zookeeper.SESSION_EVENT, state, '')
        if state == zookeeper.EXPIRED_SESSION_STATE:
            eventlet.spawn_n(self._recover_from_expiry, handle)
        elif state == zookeeper.AUTH_FAILED_STATE:
            LOG.error("ZooKeeper %s: authentication failed; the handle is "
                      "dead, call connect() to start over", self._host)

    def _poll_while_away(self, away):
        """Tick the dispatcher once a second only while not connected: an
        idle connected session then costs nothing but the C client's pings
        (every state change comes as a session event)."""
        bridge = self._bridge
        if bridge is None:
            return
        tick = STATE_POLL_INTERVAL if away or self._forked else None
        if bridge._tick == tick:
            return
        bridge._tick = tick
        if tick is not None:
            # the dispatcher may be parked without a timeout: wake it up
            # so that it waits with the new one
            bridge.post(_no_op)

    def _forked_a_child(self):
        """This process forked: poll for good, and tell the dispatcher now,
        through a hub timer (the child may take a byte from the pipe)."""
        self._forked = True
        bridge = self._bridge
        if bridge is None or self._closed or bridge._tick is not None:
            return
        bridge._tick = STATE_POLL_INTERVAL
        thread = bridge._thread
        if thread is None or thread.dead or thread is eventlet.getcurrent():
            return
        if _threading.get_ident() == self._hub_thread:
            # what trampoline's own timeout does to its waiter
            _hubs.get_hub().schedule_call_global(0, thread.throw,
                                                 utils._Tick)
        else:
            # forked from another OS thread: its hub is not the
            # dispatcher's; the pipe is all that reaches it
            bridge.post(_no_op)

    def _signal_state_changed(self):
        changed, self._state_changed = self._state_changed, _event.Event()
        changed.send()

    def _notify(self, handle, event_type, state, path):
        args = (handle, event_type, state, path)
        for cb in list(self._conn_cbs):
            setter = getattr(cb, 'set_and_notify', None)
            if setter is not None:
                try:
                    setter(args)
                except Exception:
                    LOG.exception("ZooKeeper %s: connection callback %r",
                                  self._host, cb)
            else:
                eventlet.spawn_n(self._run_callback, cb, args)

    def _run_callback(self, callback, args):
        try:
            callback(*args)
        except Exception:
            LOG.exception("ZooKeeper %s: error in callback %r", self._host,
                          callback)

    def _recover_from_expiry(self, expired_handle):
        """Open a new session in place of an expired one (a green thread)."""
        if self._reconnecting:
            return
        self._reconnecting = True
        delay = 0.1
        try:
            while not self._closed and \
                    self._zhandle in (expired_handle, None):
                LOG.warning("ZooKeeper %s: session expired; opening a new "
                            "session", self._host)
                try:
                    self._replace_handle(None, only_if=expired_handle)
                    return
                except Exception:
                    LOG.exception("ZooKeeper %s: could not open a new "
                                  "session; retrying in %.1f s", self._host,
                                  delay)
                    eventlet.sleep(delay)
                    delay = min(delay * 2, MAX_RECONNECT_DELAY)
        finally:
            self._reconnecting = False
            changed, self._handle_changed = (self._handle_changed,
                                             _event.Event())
            changed.send()

    # -- calls ------------------------------------------------------------

    def _check_pid(self):
        if os.getpid() != self._pid:
            raise RuntimeError("ZKSession created in process %d used in "
                               "process %d: a ZooKeeper session must not "
                               "cross a fork" % (self._pid, os.getpid()))

    def _get_handle(self):
        self._check_pid()
        while True:
            if self._closed:
                raise _exception('ClosingException', 'session closed')
            handle = self._zhandle
            if handle is not None:
                return handle
            if not (self._reconnecting or self._handle_lock.locked()):
                raise _exception('InvalidStateException',
                                 'no ZooKeeper handle: call connect()')
            self._handle_changed.wait()

    def _wrap_watcher(self, watcher):
        if watcher is None:
            return None
        return functools.partial(_post_event, self._bridge,
                                 utils.weak_method(self._dispatch_watcher),
                                 watcher)

    def _dispatch_watcher(self, watcher, handle, event_type, state, path):
        # on the hub: the watcher may block, so it gets a green thread
        eventlet.spawn_n(self._run_callback, watcher,
                         (handle, event_type, state, path))

    def _complete(self, call_id, args):
        entry = self._pending.pop(call_id, None)
        if entry is not None:
            entry[0].send(args)

    def _call(self, afunc, *args, **kwargs):
        """Issue ``afunc(handle, *args, [watcher,] completion)`` and wait.

        Returns the completion's arguments after the handle and rc; raises
        the exception for a failed rc.
        """
        watcher = kwargs.pop('watcher', _NO_WATCHER)
        handle = self._get_handle()
        call_id = next(self._call_ids)
        done = _event.Event()
        self._pending[call_id] = (done, handle)
        cargs = [handle]
        cargs.extend(args)
        if watcher is not _NO_WATCHER:
            cargs.append(self._wrap_watcher(watcher))
        cargs.append(functools.partial(_post_completion, self._bridge,
                                       self._complete, call_id))
        try:
            rc = afunc(*cargs)
        except BaseException:
            self._pending.pop(call_id, None)
            raise
        if rc is not None and rc != zookeeper.OK:
            self._pending.pop(call_id, None)
            self._raise_exception(rc)
        result = done.wait()
        rc = result[1]
        if rc != zookeeper.OK:
            self._raise_exception(rc)
        return result[2:]

    def _raise_exception(self, rc):
        cls = self._rc2exception.get(rc)
        if cls is None:
            # codes newer than zkpython's table, if the module knows them
            finder = getattr(zookeeper, 'err_to_exception', None)
            cls = (finder(rc) if finder else None) or \
                zookeeper.ZooKeeperException
        raise cls(_zerror(rc))

    _rc2exception = _rc_table()

    def add_auth(self, scheme, cert):
        """Specify the application's credentials (e.g. 'digest',
        'user:password').

        The credentials are remembered and given again to the new session
        that replaces an expired one.

        RETURNS None.
        EXCEPTIONS: AuthFailedException, InvalidStateException, ...
        """
        self._call(zookeeper.add_auth, scheme, cert)
        if (scheme, cert) not in self._auths:
            self._auths.append((scheme, cert))

    def _readd_auth(self, handle, scheme, cert):
        # The C client sends it right after the handshake, before any
        # queued request; failure is seen as AUTH_FAILED_STATE.
        def completion(*args):
            _post_event(self._bridge, self._auth_result, scheme, args)
        try:
            zookeeper.add_auth(handle, scheme, cert, completion)
        except zookeeper.ZooKeeperException:
            LOG.exception("ZooKeeper %s: add_auth(%s) on the new session",
                          self._host, scheme)

    def _auth_result(self, scheme, args):
        if args[1] != zookeeper.OK:
            LOG.error("ZooKeeper %s: auth %s on the new session failed: %s",
                      self._host, scheme, _zerror(args[1]))

    def create(self, path, value, acl=None, flags=0):
        """Create a node.

        @param value: bytes (a str is encoded as UTF-8; None: no data).
        @param acl: a list of ACL dicts; None means [ZOO_OPEN_ACL_UNSAFE]
            (ZooKeeper has no inherited ACLs; 0.4.0's docstring said "the
            parent's" but passed None, which zkpython rejects).
        @param flags: 0 or an OR of zookeeper.EPHEMERAL, zookeeper.SEQUENCE.
        RETURNS the path created (differs from ``path`` with SEQUENCE).
        EXCEPTIONS: NoNodeException (no parent), NodeExistsException,
            NoAuthException, NoChildrenForEphemeralsException, ...
        """
        if acl is None:
            acl = [ZOO_OPEN_ACL_UNSAFE]
        return self._call(zookeeper.acreate, path, _data(value), acl,
                          flags)[0]

    def delete(self, path, version=-1):
        """Delete a node (version -1: any version).

        RETURNS zookeeper.OK.
        EXCEPTIONS: NoNodeException, BadVersionException,
            NotEmptyException, NoAuthException, ...
        """
        self._call(zookeeper.adelete, path, version)
        return zookeeper.OK

    def exists(self, path, watcher=None, watch=None):
        """The stat dict of a node.

        @param watcher: if not None, ``watcher(handle, type, state, path)``
            is called once (in a green thread) when the node is created,
            changed or deleted; it is set even when the node does not exist.
            ``watch`` is 0.4.0's name for it.
        EXCEPTIONS: NoNodeException when the node does not exist (as 0.4.0).
        """
        if watcher is None:
            watcher = watch
        return self._call(zookeeper.aexists, path, watcher=watcher)[0]

    def get(self, path, watcher=None):
        """RETURNS (data, stat) of a node (data is bytes).  ``watcher`` as
        for exists()."""
        data, stat = self._call(zookeeper.aget, path, watcher=watcher)
        return (data, stat)

    def exists_many(self, paths):
        """The stat dicts of many nodes (None for a missing one), in order.

        One burst (the binding's aexists_many): every request is sent
        before the first reply is handled, and the hub is woken once, for
        the last one: a thousand stats cost a few round trips, not a
        thousand, and no green thread, event or wake-up per node.
        EXCEPTIONS: the first error other than NoNodeException,
            ClosingException.
        """
        paths = list(paths)
        if not paths:
            return []
        handle = self._get_handle()
        call_id = next(self._call_ids)
        done = _event.Event()
        self._pending[call_id] = (done, handle)
        gathered = []

        def finished():
            # on the hub
            self._pending.pop(call_id, None)
            if not done.ready():
                done.send((handle, zookeeper.OK))

        def collected(_handle, replies):
            # on the completion thread, once: wake the hub
            gathered.append(replies)
            _post_event(self._bridge, finished)

        try:
            zookeeper.aexists_many(handle, paths, collected)
        except BaseException:
            # the replies of what was sent still come: not waited for
            self._pending.pop(call_id, None)
            raise
        rc = done.wait()[1]
        if rc != zookeeper.OK:
            self._raise_exception(rc)  # closed meanwhile
        results = []
        for rc, stat in gathered[0]:
            if rc == zookeeper.OK:
                results.append(stat)
            elif rc == zookeeper.NONODE:
                results.append(None)
            else:
                self._raise_exception(rc)
        return results

    def get_children(self, path, watcher=None):
        """RETURNS the list of the names of the children of a node.

        ``watcher`` fires once when a child is added or removed or the node
        is deleted.
        """
        return self._call(zookeeper.aget_children, path, watcher=watcher)[0]

    def set2(self, path, data, version=-1):
        """Set the data of a node; RETURNS the new stat."""
        return self._call(zookeeper.aset, path, _data(data), version)[0]

    def set(self, path, data, version=-1):
        """Set the data of a node; RETURNS zookeeper.OK."""
        self.set2(path, data, version)
        return zookeeper.OK

    def get_acl(self, path):
        """RETURNS (acl, stat) of a node."""
        acl, stat = self._call(zookeeper.aget_acl, path)
        return (acl, stat)

    def set_acl(self, path, version, acl):
        """Set the ACL of a node; RETURNS zookeeper.OK."""
        self._call(zookeeper.aset_acl, path, version, acl)
        return zookeeper.OK

    def sync(self, path):
        """Flush the leader channel; RETURNS zookeeper.OK."""
        async_sync = getattr(zookeeper, 'async', None) or \
            getattr(zookeeper, 'async_')
        self._call(async_sync, path)
        return zookeeper.OK

    def __del__(self):
        # A session nobody closed: release its handle (the server deletes
        # its ephemeral nodes at once) and its wake-up pipe.  This may run
        # on any OS thread (the collector's), during interpreter shutdown
        # or after a failed constructor, so it neither blocks nor raises.
        try:
            if getattr(self, '_closed', True) or \
                    getattr(self, '_pid', None) != os.getpid():
                return  # closed already, or the parent's (after a fork)
            self._closed = True
            handle, self._zhandle = getattr(self, '_zhandle', None), None
            bridge, self._bridge = getattr(self, '_bridge', None), None
            if handle is not None or bridge is not None:
                _release_in_background(handle, bridge)
        except Exception:  # nowhere to report it from here
            pass

    # -- recipes built on the session --------------------------------------

    def _register_service(self, service):
        self._services.add(service)

    def _unregister_service(self, service):
        self._services.discard(service)


# The sessions of this process, for _after_fork_in_parent.
_sessions = weakref.WeakSet()


def _after_fork_in_parent():
    """A child forked while sessions are open shares the parent's wake-up
    pipes and its hub's epoll instance: the child's hub may be the one
    woken for a session's pipe (and eat the byte), or unregister the pipe
    from the shared instance.  The completions still wait in the parent's
    queue; the dispatcher finds them on its next timeout.  So from then on
    the parent's sessions poll once a second, connected or not.  A process
    that creates its sessions after forking, as it should, never polls
    while connected."""
    for session in list(_sessions):
        try:
            session._forked_a_child()
        except Exception:  # right after fork(): nothing may raise here
            pass


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_parent=_after_fork_in_parent)


_log_stream = {'default': None}


def _set_log_stream(stream):
    """Point the C client's (process-wide) log at ``stream`` or /dev/null."""
    if stream is None:
        stream = _log_stream['default']
        if stream is None:
            stream = open(os.devnull, 'w')
            _log_stream['default'] = stream
    try:
        zookeeper.set_log_stream(stream)
    except Exception:
        LOG.exception("zookeeper.set_log_stream(%r) failed", stream)


def _release_in_background(handle, bridge):
    """Close ``handle``, then stop ``bridge`` (in that order: the bridge's
    pipe must outlive the last callback of the handle), off the caller's
    thread when a thread can still be started."""
    def release():
        if handle is not None:
            try:
                zookeeper.close(handle)
            except Exception:  # no logging: any thread, maybe at shutdown
                pass
        if bridge is not None:
            bridge.stop(wait=False)

    if not sys.is_finalizing():
        try:
            _threading.Thread(target=release, daemon=True,
                              name='evzookeeper-release').start()
            return
        except RuntimeError:  # threads can no longer be started
            pass
    # The C client's close is bounded (it gives the server a few seconds).
    release()


def ensure_path(session, path, data, acl=None):
    """Create ``path`` (with ``data``) and any missing parent (with empty
    data) unless it exists."""
    if not path or path == '/':
        return
    try:
        session.create(path, data, acl)
        LOG.debug("created %s", path)
    except zookeeper.NodeExistsException:
        pass
    except zookeeper.NoNodeException:
        ensure_path(session, path.rsplit('/', 1)[0], "", acl)
        try:
            session.create(path, data, acl)
            LOG.debug("created %s", path)
        except zookeeper.NodeExistsException:
            pass


#: Returned by ZKServiceBase._on_session_events: end the green thread.
STOP = object()


class ZKServiceBase(object):
    """A recipe on a session: a base path, an ACL and a green thread that
    reacts to session events.

    Subclasses override ``_on_session_events(events)``: called in the
    recipe's green thread first with no events, then with the session
    events (``(handle, SESSION_EVENT, state, path)``, in order) that came
    since, or none after a timeout; it returns how long to wait for more
    (seconds, None: until one comes) or STOP.  A subclass written for 0.4.0
    may override ``_session_callback``, the body of the green thread,
    instead (it reads ``self._session_spc`` until
    PipeConditionClosedError).

    As in 0.4.0 the green thread holds the recipe: a recipe works on when
    the caller drops it (0.4.0's own tests dropped their monitors), until
    ``stop()`` (``leave()``) or until its session closes.
    """

    def __init__(self, session, basepath, acl=None):
        """
        @param session: a ZKSession object
        @param basepath: the default parent dir for zknodes.
        @param acl: access control list, by default [ZOO_OPEN_ACL_UNSAFE]
        """
        if session._closed:
            raise _exception('ClosingException', 'session closed')
        self._session = session
        if basepath != '/':
            basepath = basepath.rstrip('/')
        self._basepath = basepath
        self.acl = acl if acl else [ZOO_OPEN_ACL_UNSAFE]
        self._stopped = False
        # every event, in order: 0.4.0's last-state condition lost some
        self._session_spc = utils.EventQueue()
        self._session.add_connection_callback(self._session_spc)
        self._session._register_service(self)
        self._thread = eventlet.spawn(self._session_callback)

    def _session_callback(self):
        """The body of the green thread (0.4.0's hook, see the class)."""
        spc = self._session_spc
        events = []
        while not self._stopped:
            try:
                timeout = self._on_session_events(events)
            except Exception:
                LOG.exception("%r: error handling session events", self)
                timeout = None
            if timeout is STOP:
                return
            try:
                events = [spc.wait_and_get(timeout)]
            except utils.PipeConditionClosedError:
                return
            except _timeout.Timeout:
                events = []
            events.extend(spc.drain())

    def _on_session_events(self, events):
        for _handle, event, state, _path in events:
            LOG.debug("Default session callback handler on basepath=%s, "
                      "event=%s, state=%s", self._basepath,
                      event_name(event), state_name(state))
        return None

    def _session_closed(self):
        """The session is closing: stop."""
        self.stop()

    def stop(self):
        """End the green thread and forget the session's events."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self._session.remove_connection_callback(self._session_spc)
        except KeyError:
            pass
        self._session._unregister_service(self)
        self._session_spc.close()

    def _ensure_path(self, path, data):
        ensure_path(self._session, path, data, self.acl)

    def __del__(self):
        # Collected without stop() (its green thread is gone: killed, or at
        # interpreter shutdown): unhook it from the session.  Any thread
        # may run this, so the queue is closed on the hub, through the
        # session's bridge.
        try:
            if getattr(self, '_stopped', True):
                return
            self._stopped = True
            session, spc = self._session, self._session_spc
            try:
                session.remove_connection_callback(spc)
            except KeyError:
                pass
            bridge = session._bridge
            if bridge is not None:
                bridge.post(spc.close)
        except Exception:  # nowhere to report it from here
            pass

"""One ZooKeeper session that heals itself, under either concurrency model.

The C client reconnects on its own within a session; what it does not do
is start over.  This class does: an expired session (or one the servers
refused to authenticate) is replaced by a new one, and so is a session the
client keeps offering without success for ``give_up_after`` seconds (a
server that lost its data refuses a client that saw a higher zxid: without
giving up, the client would try the old session for ever).  Listeners hear
'connected' (with the session id), 'disconnected', 'expired' and 'closed',
in order, on the model's dispatcher; they must not block.

No work is done while the session is healthy: no polling, only the C
client's own pings.
"""

import base64
import hashlib
import logging
import os
import time

import zookeeper

from zkgroup import address as zkaddress

LOG = logging.getLogger(__name__)

#: Seconds without a connection after which the session is given up, at
#: least (see give_up_after): long enough for an election and a server
#: restart, short enough that workers come back in about a minute after a
#: server lost its data.
GIVE_UP_MIN = 60.0
#: ... and at least this many session timeouts.
GIVE_UP_TIMEOUTS = 10

#: Bounds (s) of the pause before trying again to open a new session when
#: zookeeper.init() raised (no server name resolves, say, in the outage
#: that expired the session).  A session is never left without a handle.
REOPEN_MIN = 0.5
REOPEN_MAX = 30.0

_AWAY_STATES = frozenset([zookeeper.CONNECTING_STATE,
                          zookeeper.ASSOCIATING_STATE,
                          zookeeper.NOTCONNECTED_STATE])
_FINAL_STATES = frozenset([zookeeper.EXPIRED_SESSION_STATE,
                           zookeeper.AUTH_FAILED_STATE])


def digest_acl(credentials, world_read):
    """The ACL giving all rights to the digest identity of ``user:password``
    (and read to anyone when ``world_read``)."""
    user = credentials.split(':', 1)[0]
    digest = base64.b64encode(hashlib.sha1(
        credentials.encode('utf-8')).digest()).decode('ascii')
    acl = [{'perms': zookeeper.PERM_ALL, 'scheme': 'digest',
            'id': '%s:%s' % (user, digest)}]
    if world_read:
        acl.append({'perms': zookeeper.PERM_READ, 'scheme': 'world',
                    'id': 'anyone'})
    return acl


_LOG_STREAM = []


def quiet_c_client():
    """Send the C client's own log (every connection attempt, on stderr)
    to /dev/null: the sessions log what matters themselves.  The stream
    stays open: the C threads write to it until the process ends."""
    if not _LOG_STREAM:
        _LOG_STREAM.append(open(os.devnull, 'w'))
        zookeeper.set_log_stream(_LOG_STREAM[0])


def give_up_after(session_timeout_s):
    return max(GIVE_UP_MIN, GIVE_UP_TIMEOUTS * session_timeout_s)


class Session(object):
    """A ZooKeeper session for ``address`` ("h1:p1,h2:p2[/chroot]").

    ``ssl``: the C client's certificate string "ca,cert,key" to open every
    handle over TLS (``zookeeper.init_ssl``, a C client built with OpenSSL).
    """

    def __init__(self, address, concurrency, recv_timeout_ms=4000,
                 auth_digest=None, world_read=True, name='zkgroup',
                 ssl=None):
        self.address = address
        self.ssl = ssl
        self.concurrency = concurrency
        self.recv_timeout_ms = recv_timeout_ms
        self._auth = auth_digest
        self._world_read = world_read
        self.acl = (digest_acl(auth_digest, world_read) if auth_digest
                    else [zookeeper.ZOO_OPEN_ACL_UNSAFE])
        servers, slash, chroot = address.partition('/')
        self._servers = servers
        self._chroot = slash + chroot
        self._name = name
        self._listeners = []
        self._connected = concurrency.event()
        self._handle = None
        self._session_id = None
        self._away_since = None
        self._granted = None
        self._closed = False
        # held by _open() until the new handle is stored (see _on_state)
        self._open_lock = concurrency.lock()
        self._outage_logged = False
        self._dispatcher = concurrency.dispatcher(name)
        try:
            self._open()
        except zookeeper.ZooKeeperException as exc:
            # (a name server down at start): the session keeps trying
            self._cannot_open(exc, 1)
            concurrency.spawn(self._reopen, 1)

    # -- state ------------------------------------------------------------

    @property
    def session_id(self):
        """The id of the current session while connected, else None."""
        return self._session_id if self._connected.is_set() else None

    @property
    def closed(self):
        return self._closed

    @property
    def auth_user(self):
        """The digest user this session authenticates as, or None (the
        password is never shown)."""
        return self._auth.split(':', 1)[0] if self._auth else None

    def is_connected(self):
        return self._connected.is_set()

    def wait_connected(self, timeout=None):
        return self._connected.wait(timeout)

    def session_timeout(self):
        """The negotiated session timeout (s), or the requested one."""
        handle = self._handle
        if handle is not None and self.is_connected():
            try:
                return zookeeper.recv_timeout(handle) / 1000.0
            except zookeeper.ZooKeeperException:
                pass
        return self.recv_timeout_ms / 1000.0

    def add_listener(self, listener):
        self._listeners.append(listener)

    def remove_listener(self, listener):
        try:
            self._listeners.remove(listener)
        except ValueError:
            pass

    # -- calls ------------------------------------------------------------

    def call(self, func, *args):
        """``func(handle, *args)``, a synchronous binding call, run so that
        it blocks no one else (see concurrency.blocking)."""
        handle = self._handle
        if handle is None:
            raise zookeeper.ClosingException('session closed')
        return self.concurrency.blocking(func, handle, *args)

    def exists_many(self, paths, timeout=None):
        """The stats of many nodes (None for a missing one), in order.

        One burst (the binding's aexists_many): all requests go out before
        the first reply is handled, a thousand stats cost a few round trips,
        not a thousand.  ``timeout`` (s) bounds the wait (default: twice
        the session timeout).
        """
        paths = list(paths)
        if not paths:
            return []
        handle = self._handle
        if handle is None:
            raise zookeeper.ClosingException('session closed')
        done = self.concurrency.event()
        gathered = []

        def collected(_handle, replies):
            # on the completion thread, once
            gathered.append(replies)
            self._dispatcher.post(done.set)

        zookeeper.aexists_many(handle, paths, collected)
        if not done.wait(timeout or 2 * self.session_timeout()):
            raise zookeeper.OperationTimeoutException(
                'no reply to %d exists requests' % len(paths))
        stats = []
        for rc, stat in gathered[0]:
            if rc == zookeeper.OK:
                stats.append(stat)
            elif rc == zookeeper.NONODE:
                stats.append(None)
            else:
                raise zookeeper.err_to_exception(rc)(zookeeper.zerror(rc))
        return stats

    def watcher(self, func):
        """Wrap ``func(handle, type, state, path)`` as a node watcher run on
        the dispatcher rather than on the C client's thread."""
        post = self._dispatcher.post

        def watch(handle, type_, state, path):
            post(func, handle, type_, state, path)
        return watch

    @property
    def handle(self):
        return self._handle

    def ensure_path(self, path):
        """Create ``path`` and its parents (persistent, with the session's
        ACL) where missing, and the chroot of the address too."""
        parts = [p for p in path.split('/') if p]
        current = ''
        for part in parts:
            current += '/' + part
            try:
                self._create_node(current)
            except zookeeper.NoNodeException:
                if not self._chroot or current.count('/') > 1:
                    raise
                self._ensure_chroot()
                self._create_node(current)

    def _create_node(self, path):
        try:
            self.call(zookeeper.create, path, '', self.acl, 0)
        except zookeeper.NodeExistsException:
            pass

    def _ensure_chroot(self):
        """The C client does not create the chroot of its address, and
        inside it nothing can: create it over a session of its own to the
        servers alone (same credentials, same ACL)."""
        LOG.info('%s: creating the chroot %s', self._name, self._chroot)
        outside = Session(self._servers, self.concurrency,
                          self.recv_timeout_ms, auth_digest=self._auth,
                          world_read=self._world_read,
                          name='%s-chroot' % self._name, ssl=self.ssl)
        try:
            if not outside.wait_connected(2 * self.session_timeout()):
                raise zookeeper.ConnectionLossException(
                    'no connection to %s to create the chroot %s'
                    % (self._servers, self._chroot))
            outside.ensure_path(self._chroot)
        finally:
            outside.close()

    # -- life -------------------------------------------------------------

    def _open(self):
        with self._open_lock:
            # init() resolves the server names: off the hub under eventlet
            if self.ssl:
                handle = self.concurrency.blocking(
                    zookeeper.init_ssl, self.address, self.ssl,
                    self._session_watcher, self.recv_timeout_ms)
            else:
                handle = self.concurrency.blocking(
                    zookeeper.init, self.address, self._session_watcher,
                    self.recv_timeout_ms)
            if self._closed:  # close() came while init() ran
                self.concurrency.spawn(self._close_handle, handle)
                return
            if self._auth:
                zookeeper.add_auth(handle, 'digest', self._auth, None)
            self._handle = handle
            self._away_since = None
        LOG.debug('%s: opened handle %d to %s', self._name, handle,
                  self.address)

    def _session_watcher(self, handle, type_, state, path):
        self._dispatcher.post(self._on_state, handle, state)

    def _on_state(self, handle, state):
        # The C client can report on a handle before init() has returned it
        # to _open() (under threading, on another thread): wait until it is
        # stored, or the event is dropped and the session never reads
        # connected.
        with self._open_lock:
            current = self._handle
        if handle != current or self._closed:
            return
        if state == zookeeper.CONNECTED_STATE:
            session_id = zookeeper.client_id(handle)[0]
            new = session_id != self._session_id
            self._session_id = session_id
            self._away_since = None
            self._connected.set()
            if self._outage_logged or new:
                LOG.warning('%s: connected to ZooKeeper (%s), session 0x%x%s',
                            self._name, self.address, session_id,
                            ' (new)' if new else '')
            self._outage_logged = False
            if new:
                self._check_granted(handle)
            self._notify('connected')
        elif state in _FINAL_STATES:
            self._connected.clear()
            LOG.warning('%s: ZooKeeper session 0x%x %s; opening a new one',
                        self._name, self._session_id or 0,
                        'expired' if state == zookeeper.EXPIRED_SESSION_STATE
                        else 'refused our credentials')
            self._outage_logged = True
            self._notify('expired')
            self._replace()
        elif state in _AWAY_STATES and self._away_since is None:
            was_connected = self._connected.is_set()
            self._connected.clear()
            self._away_since = _now()
            if was_connected:
                LOG.warning('%s: lost the connection to ZooKeeper (%s); '
                            'the C client is reconnecting', self._name,
                            self.address)
                self._outage_logged = True
                self._notify('disconnected')
            self.concurrency.spawn(self._give_up_later, handle)

    def _check_granted(self, handle):
        # The server clamps the timeout to 2..20 ticks: detection times
        # are then not what the operator configured.
        try:
            granted = zookeeper.recv_timeout(handle)
        except zookeeper.ZooKeeperException:
            return
        if granted != self.recv_timeout_ms and granted != self._granted:
            LOG.warning('%s: asked for a session timeout of %d ms, ZooKeeper '
                        'granted %d ms (it allows 2 to 20 times its '
                        'tickTime)', self._name, self.recv_timeout_ms,
                        granted)
        self._granted = granted

    def _give_up_later(self, handle):
        """Replace ``handle``'s session if it stays away too long."""
        limit = give_up_after(self.recv_timeout_ms / 1000.0)
        while True:
            since = self._away_since
            if self._closed or handle != self._handle or since is None:
                return
            left = since + limit - _now()
            if left <= 0:
                break
            self.concurrency.sleep(min(left, limit))
        self._dispatcher.post(self._give_up, handle, limit)

    def _give_up(self, handle, limit):
        if self._closed or handle != self._handle or self._away_since is None:
            return
        LOG.warning('%s: no ZooKeeper connection for %.0f s with session '
                    '0x%x (a server that lost its data refuses it); giving it '
                    'up for a new one', self._name, limit,
                    self._session_id or 0)
        self._notify('expired')
        self._replace()

    def _replace(self):
        old = self._handle
        self._handle = None
        self.concurrency.spawn(self._close_handle, old)
        if not self._closed:
            # off the dispatcher: init() may block, and a pause must not
            # hold up the events of the members' watches
            self.concurrency.spawn(self._reopen)

    def _reopen(self, failures=0):
        """Open a new handle; while init() raises, try again after a
        pause that grows with each failure."""
        while not self._closed:
            if failures:
                self.concurrency.sleep(_pause(failures))
                if self._closed:
                    return
            try:
                self._open()
                return
            except zookeeper.ZooKeeperException as exc:
                failures += 1
                self._cannot_open(exc, failures)

    def _cannot_open(self, exc, failures):
        # (resolving blocks: off the hub under eventlet)
        unresolved = self.concurrency.blocking(zkaddress.unresolvable,
                                               self.address)
        LOG.warning('%s: cannot open a ZooKeeper session to %s (%s); trying '
                    'again in %.1f s', self._name, self.address,
                    'cannot resolve host %s' % ', '.join(unresolved)
                    if unresolved else exc, _pause(failures))

    def _close_handle(self, handle):
        try:
            self.concurrency.blocking(zookeeper.close, handle)
        except zookeeper.ZooKeeperException as exc:
            LOG.debug('%s: closing handle %d: %s', self._name, handle, exc)

    def _notify(self, event):
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                LOG.exception('%s: session listener %r failed', self._name,
                              listener)

    def close(self):
        """End the session: its ephemeral nodes go at once."""
        if self._closed:
            return
        self._closed = True
        self._connected.clear()
        with self._open_lock:  # a handle being opened is seen, or sees us
            handle, self._handle = self._handle, None
        if handle is not None:
            self._close_handle(handle)
        self._notify('closed')
        self._dispatcher.stop()


def _pause(failures):
    return min(REOPEN_MIN * 2 ** (failures - 1), REOPEN_MAX)


def _now():
    return time.monotonic()

"""Group membership on ephemeral nodes: members that heal, watched groups.

A member is an ephemeral node ``<group>/<name>`` owned by a live session;
anything else under a group (a persistent node, say) is not a member.

Both classes are one loop that brings ZooKeeper in line with what should
be ("reconcile"), woken by a watch, by the session ('connected',
'disconnected', 'expired') or, after a failure, by ``retry_interval``.
A healthy member or group does no work at all between events.
"""

import logging
import os
import time

import zookeeper

LOG = logging.getLogger(__name__)

#: Errors after which the loop tries again later.
RETRIABLE = (zookeeper.ConnectionLossException,
             zookeeper.OperationTimeoutException,
             zookeeper.SessionExpiredException,
             zookeeper.SessionMovedException,
             zookeeper.InvalidStateException,
             zookeeper.ClosingException)


#: Refusals that mean "these credentials will not do" (the class exists
#: in bindings that know the code, ZooKeeper 3.5 and later).
_AUTH_REFUSALS = tuple(
    getattr(zookeeper, name) for name in (
        'AuthFailedException', 'NoAuthException',
        'SessionClosedRequireSaslAuthException')
    if hasattr(zookeeper, name))


def _reason(exc, session):
    """One line on why ZooKeeper refused, naming what to change."""
    if isinstance(exc, _AUTH_REFUSALS):
        if session.auth_user is None:
            what = ('ZooKeeper (%s) refuses this client without credentials '
                    '(set auth_digest)' % session.address)
        else:
            what = ('ZooKeeper (%s) refuses the digest identity %r (check '
                    'auth_digest and the ACLs of the nodes)'
                    % (session.address, session.auth_user))
        return '%s: %s' % (what, exc)
    return '%s: %s' % (type(exc).__name__, exc)


def _now():
    return time.monotonic()


class _Reconciler(object):
    """One loop per object, on the session's concurrency model."""

    def __init__(self, session, path, retry_interval):
        self.session = session
        self.path = path
        self.retry_interval = retry_interval
        model = session.concurrency
        self._wake = model.event()
        self._lock = model.lock()
        self._done = model.event()
        self._stopped = False
        #: Why ZooKeeper refused the last try (None after a success).
        self.last_error = None
        self._watch_handle = None
        self._watch = session.watcher(self._watched)
        session.add_listener(self._on_session)
        model.spawn(self._loop)

    def _on_session(self, event):
        self._wake.set()

    def _watched(self, handle, type_, state, path):
        if (type_ == zookeeper.SESSION_EVENT and
                state not in (zookeeper.EXPIRED_SESSION_STATE,
                              zookeeper.AUTH_FAILED_STATE)):
            return  # the watch is still pending
        if handle == self._watch_handle:
            self._watch_handle = None
        self._wake.set()

    def _watcher(self):
        """The watcher to pass, or None while one is pending on the current
        handle (a second would pile up on the node)."""
        handle = self.session.handle
        if handle is not None and handle == self._watch_handle:
            return None
        return self._watch

    def _watch_set(self, handle):
        self._watch_handle = handle

    def _loop(self):
        timeout = 0
        # After a refusal (not a lost connection) the next try waits for
        # retry_interval even when the session wakes us: a server that
        # closes the connection at each request (it enforces an auth
        # scheme we lack) would otherwise be asked again at each reconnect,
        # dozens of times a second.
        hold_until = None
        try:
            while True:
                self._wake.wait(timeout)
                self._wake.clear()
                if hold_until is not None and not self._stopped:
                    left = hold_until - _now()
                    if left > 0:
                        timeout = left
                        continue
                hold_until = None
                with self._lock:
                    if self._stopped or self.session.closed:
                        return
                    timeout = None
                    if not self.session.is_connected():
                        self._disconnected()
                        continue
                    try:
                        self._reconcile()
                    except RETRIABLE as exc:
                        LOG.debug('%s: %s; trying again', self.path, exc)
                        timeout = self.retry_interval
                    except zookeeper.ZooKeeperException as exc:
                        self._refused(exc)
                        timeout = self.retry_interval
                        hold_until = _now() + timeout
                    except Exception:
                        # a bug must not end the loop in silence: the
                        # member would stay as it is for good
                        LOG.exception('%s: unexpected error; trying again '
                                      'in %s s', self.path,
                                      self.retry_interval)
                        timeout = self.retry_interval
                    else:
                        if self.last_error is not None:
                            LOG.warning('%s: accepted again', self.path)
                        self.last_error = None
        finally:
            self.session.remove_listener(self._on_session)
            self._done.set()

    def _refused(self, exc):
        """Say why, once per reason rather than at every try."""
        reason = _reason(exc, self.session)
        if reason != self.last_error:
            LOG.error('%s: %s; trying again every %s s', self.path, reason,
                      self.retry_interval)
        else:
            LOG.debug('%s: %s', self.path, reason)
        self.last_error = reason

    def _disconnected(self):
        pass

    def stop(self):
        self._stopped = True
        self._wake.set()


class Member(_Reconciler):
    """``name`` in ``group``: an ephemeral node kept there, re-created after
    a session expiry and after someone else deleted it."""

    def __init__(self, session, group, name, retry_interval=5.0, data=None):
        self.group = group
        self.name = name
        self.data = data if data is not None else 'pid=%d' % os.getpid()
        self.joined = session.concurrency.event()
        self._owner = None  # session id of the node we created
        self._leaving = False
        _Reconciler.__init__(self, session, '%s/%s' % (group, name),
                             retry_interval)

    def _on_session(self, event):
        if event != 'connected':
            self.joined.clear()
        _Reconciler._on_session(self, event)

    def _reconcile(self):
        if self._leaving:
            self._delete()
            self._stopped = True
            return
        session_id = self.session.session_id
        if session_id is None:
            return  # away again: the session's 'connected' wakes us
        handle = self.session.handle
        watcher = self._watcher()
        stat = self.session.call(zookeeper.exists, self.path, watcher)
        if watcher is not None:
            self._watch_set(handle)
        if stat is None:
            if self._owner == session_id:
                LOG.warning('member %s: its node was deleted by someone '
                            'else; re-created it', self.path)
            self._create()
            self._owner = session_id
            self._wake.set()  # once more, to watch the new node
            return
        if stat['ephemeralOwner'] != session_id:
            # The name is this process's own: the node is left from one of
            # our expired sessions, or a squatter.  Either way it is not us.
            LOG.info('member %s: replacing a node of session 0x%x',
                     self.path, stat['ephemeralOwner'])
            try:
                self.session.call(zookeeper.delete, self.path,
                                  stat['version'])
            except zookeeper.NoNodeException:
                pass
            self._wake.set()
            return
        self._owner = session_id
        self.joined.set()

    def _create(self):
        try:
            try:
                self.session.call(zookeeper.create, self.path, self.data,
                                  self.session.acl, zookeeper.EPHEMERAL)
            except zookeeper.NoNodeException:
                self.session.ensure_path(self.group)
                self.session.call(zookeeper.create, self.path, self.data,
                                  self.session.acl, zookeeper.EPHEMERAL)
        except zookeeper.NodeExistsException:
            # a create whose reply the connection lost: the next look
            # tells whose node it is
            pass

    def leave(self):
        """Delete the node now; True when it is gone.

        When that fails (the connection is away), the loop keeps trying
        while the session lives: a session that reconnects would otherwise
        keep the node, and the member would read as up after it left.
        """
        self._leaving = True
        self.joined.clear()
        with self._lock:
            if self._stopped or self.session.closed:
                return True  # a closed session took the node with it
            try:
                if self.session.is_connected():
                    self._delete()
                    self._stopped = True
                    return True
            except zookeeper.ZooKeeperException as exc:
                LOG.warning('member %s: could not leave now (%s); trying '
                            'again while the session lives', self.path, exc)
        self._wake.set()
        return False

    def _delete(self):
        try:
            self.session.call(zookeeper.delete, self.path)
        except zookeeper.NoNodeException:
            pass


class Group(_Reconciler):
    """The live members of ``path``, read from a watch, never polled.

    ``members()`` is a dict key(name) -> newest ctime (ms) of the ephemeral
    children (several members may share a key: the processes of one
    service on one host), or None while it is unknown: the session is
    away, or the group was not read since it came back.  Readers must not
    take None for "empty".  Replaced whole on each change, never mutated:
    a reader's lookup is one dict access.
    """

    def __init__(self, session, path, retry_interval=5.0, key=None):
        self._key = key or _same
        self._members = None
        self._known = {}
        self._generation = 0
        self.ready = session.concurrency.event()
        _Reconciler.__init__(self, session, path, retry_interval)

    def members(self):
        return self._members

    def _on_session(self, event):
        if event != 'connected':
            self._unknown()
        _Reconciler._on_session(self, event)

    def _unknown(self):
        self._generation += 1
        self._members = None
        self.ready.clear()

    def _disconnected(self):
        self._unknown()

    def _reconcile(self):
        generation = self._generation
        handle = self.session.handle
        watcher = self._watcher()
        try:
            children = self.session.call(zookeeper.get_children, self.path,
                                         watcher)
        except zookeeper.NoNodeException:
            self.session.ensure_path(self.path)
            self._wake.set()
            return
        if watcher is not None:
            self._watch_set(handle)
        known = self._known
        members = {}
        ask = []
        for name in children:
            if name in known:
                members[name] = known[name]
            else:
                ask.append(name)
        stats = self.session.exists_many(
            '%s/%s' % (self.path, name) for name in ask)
        for name, stat in zip(ask, stats):
            if stat is not None and stat['ephemeralOwner']:
                members[name] = stat['ctime']
        self._known = members
        index = {}
        for name, ctime in members.items():
            key = self._key(name)
            if ctime > index.get(key, -1):
                index[key] = ctime
        if generation == self._generation and self.session.is_connected():
            self._members = index
            self.ready.set()
        else:
            self._wake.set()


def _same(name):
    return name

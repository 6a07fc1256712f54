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

"""Failure-aware group membership on ephemeral znodes.

ZooKeeper data::

    /basepath = "ZKMembers"
    /basepath/member1 = token1     (ephemeral, owned by member1's session)
    /basepath/member2 = token2

``Membership`` owns one member node and keeps it there across session
expiries; ``MembershipMonitor`` keeps a watched set of the names of the
live members: the children that a session owns (``ephemeralOwner`` != 0).
A persistent child (a leftover, or a fake member anyone could write under
the open ACL) is not a member.
"""

import logging
import time
import uuid

import eventlet
from eventlet import event as _event
from eventlet import timeout as _timeout
import zookeeper

import evzookeeper
from evzookeeper import utils


LOG = logging.getLogger(__name__)

#: Seconds between attempts to delete a leaving member's node after a
#: connection loss.
_DELETE_RETRY_INTERVAL = 0.2

#: The data of a membership base node.
MEMBERS_DATA = "ZKMembers"

#: Bounds of the pause before retrying a failed (re)read or (re)join while
#: the session is connected.
RETRY_MIN_DELAY = 0.2
RETRY_MAX_DELAY = 10.0

#: Failures of the connection: the session's CONNECTED_STATE is the time to
#: try again.  Any other failure is a refusal (NoAuth, a server that
#: enforces an auth scheme and closes the connection at each request), and
#: the next try waits for the pause even when the session reconnects:
#: otherwise such a server is asked again at each reconnect, dozens of
#: times a second.
_CONNECTION_ERRORS = tuple(
    getattr(zookeeper, name) for name in (
        'ConnectionLossException', 'OperationTimeoutException',
        'SessionExpiredException', 'SessionMovedException',
        'InvalidStateException', 'ClosingException')
    if hasattr(zookeeper, name))


class _Pause(object):
    """When a refused recipe may try again."""

    def __init__(self):
        self._until = None

    def refused(self, exc, delay):
        if not isinstance(exc, _CONNECTION_ERRORS):
            self._until = time.monotonic() + delay

    def left(self):
        """Seconds still to wait (None: none)."""
        if self._until is None:
            return None
        left = self._until - time.monotonic()
        if left > 0:
            return left
        self._until = None
        return None


def _text(data):
    if isinstance(data, bytes):
        return data.decode('utf-8', 'replace')
    return data


def _join_path(basepath, name):
    if basepath == '/':
        return '/' + name
    return basepath + '/' + name


class MembershipMonitor(evzookeeper.ZKServiceBase):
    """Monitor membership changes as an outside observer."""

    def __init__(self, session, basepath, acl=None, cb_func=None,
                 known=None):
        """
        @param session: a ZKSession object
        @param basepath: the parent dir of the member nodes; created (with
            its parents) if missing.
        @param acl: ACL of a created basepath; [ZOO_OPEN_ACL_UNSAFE] by
            default.
        @param cb_func: ``cb_func(members)`` is called in the monitor's green
            thread whenever the membership changes.  ``None`` means that the
            membership is unknown (the session is not connected); it does
            NOT mean that the members have all left.
        @param known: None, or a snapshot() of an earlier monitor of the same
            group (this port only; any process): when the group's children
            have not changed since (see _children_version), its members are
            taken without asking about each child, so a new process reads a
            group of N members in three requests instead of N + 1.  The
            monitor then keeps a snapshot() of its first read.
        """
        self._cb_func = cb_func
        self._known = known
        self._track = known is not None
        self._snapshot = None
        self._members = None
        self._members_handle = None
        # name -> ephemeralOwner of every child seen by the last read (0: a
        # persistent node, not a member), so that a child is asked about
        # once, when it appears, not on every read
        self._owners = {}
        self._watch_handle = None
        self._ready = _event.Event()
        self._retry_delay = RETRY_MIN_DELAY
        self._pause = _Pause()
        self._failure = None
        # The binding keeps a child watcher until it fires: that must not
        # keep a monitor whose green thread is gone from being collected.
        self._weak_child_watcher = utils.weak_method(self._child_watcher)
        super(MembershipMonitor, self).__init__(session, basepath, acl=acl)

    #: get_all() holds only children owned by a session (ephemeralOwner
    #: != 0); evzookeeper 0.4.0's holds every child.  Callers that must
    #: also work with 0.4.0 look for this flag.
    live_members_only = True

    def get_all(self):
        """The set of the live members' names from the local cache.

        The same set object until the membership changes, so ``name in
        monitor.get_all()`` is a lookup, not a copy: do not modify it.
        None while the membership is unknown: before the first read, while
        the session is not connected, after stop().
        """
        members = self._members
        if members is None or self._stopped:
            return None
        session = self._session
        # The state the session last reported, not a call into the C
        # client (which costs more than the rest of a scheduler's is_up):
        # the set itself only changes on events, so it is as fresh as that.
        if self._members_handle != session._zhandle or \
                not session._connected():
            return None
        return members

    def snapshot(self):
        """{'version': [czxid, ctime, pzxid] of the group, 'owners': {name:
        ephemeralOwner}} of the first read, if no change of the children
        interrupted it; else None (not tracked: no ``known`` given; not
        read yet; the first read interrupted)."""
        return self._snapshot

    def get_member_details(self, name):
        """Return the member node's (value, stat) (asks the server).
        Raise appropriate exceptions in the case of failures."""
        value, stat = self._session.get(_join_path(self._basepath, name))
        return value, stat

    def wait_until_ready(self, timeout=None):
        """Wait (at most ``timeout`` seconds) for the first read of the
        members; return get_all()."""
        with _timeout.Timeout(timeout, False):
            self._ready.wait()
        return self.get_all()

    def stop(self):
        """Stop watching; get_all() returns None from now on."""
        super(MembershipMonitor, self).stop()
        self._members = None
        self._owners = {}

    def _on_session_events(self, events):
        """In the monitor's green thread: (re)read after every event."""
        for handle, event_type, state, path in events:
            LOG.debug("MembershipMonitor %s: %s %s %s", self._basepath,
                      evzookeeper.event_name(event_type),
                      evzookeeper.state_name(state), path)
            if event_type == zookeeper.SESSION_EVENT:
                if state != zookeeper.CONNECTED_STATE:
                    self._set_members(None, None)
                    # No watch fires while we are away: a member's node may
                    # have been replaced meanwhile.  Ask again about every
                    # child once connected.
                    self._owners = {}
            elif handle == self._watch_handle:
                # our child watch fired: it is used up
                self._watch_handle = None
        if self._stopped:
            return evzookeeper.STOP
        if not self._session._connected():
            # unknown until CONNECTED_STATE comes
            self._set_members(None, None)
            return None
        left = self._pause.left()
        if left is not None:
            return left
        self._failure = None
        if self._refresh():
            self._retry_delay = RETRY_MIN_DELAY
            return None
        delay = self._retry_delay
        self._retry_delay = min(delay * 2, RETRY_MAX_DELAY)
        self._pause.refused(self._failure, delay)
        return delay

    def _child_watcher(self, handle, event_type, state, path):
        if event_type == zookeeper.SESSION_EVENT:
            return  # the connection callback reports those
        self._session_spc.set_and_notify((handle, event_type, state, path))

    def _refresh(self):
        """Read the children (arming a watch unless one is armed).

        Returns False when it should be tried again.
        """
        session = self._session
        handle = session._zhandle
        watcher = None if handle == self._watch_handle else \
            self._weak_child_watcher
        try:
            before = self._children_version()
            try:
                children = session.get_children(self._basepath, watcher)
            except zookeeper.NoNodeException:
                self._ensure_path(self._basepath, MEMBERS_DATA)
                children = session.get_children(self._basepath, watcher)
            owners = self._known_owners(children)
        except zookeeper.ZooKeeperException as exc:
            self._read_failed(exc)
            # what we have may be stale now: report "unknown" until a read
            # succeeds
            self._set_members(None, None)
            return False
        if watcher is not None:
            self._watch_handle = handle
        if owners is None:
            owners = self._stat_children(children)
            if owners is None:
                self._set_members(None, None)
                return False
            self._take_snapshot(before, owners)
        self._owners = owners
        # The snapshot is of the first read (the driver saves that one):
        # tracking later reads would cost two exists per change, for the
        # life of every long-lived reader.
        self._track = False
        self._set_members(set(name for name, owner in owners.items()
                              if owner), handle)
        return True

    def _read_failed(self, exc):
        self._failure = exc
        log = LOG.debug if self._stopped else LOG.warning
        log("MembershipMonitor %s: reading the members failed: %s: %s",
            self._basepath, type(exc).__name__, exc)

    def _children_version(self):
        """What identifies the group's children: the group node's czxid and
        ctime (a group deleted and created again, or a server that lost its
        data, starts over) and its pzxid, the zxid of the last child
        created or deleted.  None when not tracked or the group is
        missing."""
        if not self._track:
            return None
        try:
            stat = self._session.exists(self._basepath)
        except zookeeper.NoNodeException:
            return None
        return [stat['czxid'], stat['ctime'], stat['pzxid']]

    def _known_owners(self, children):
        """The snapshot's owners if the children are still those it saw.

        Exact: a child created or deleted (a session ending deletes its
        nodes) moves the group's pzxid, and a node's ephemeralOwner never
        changes while it exists.  The version is read after the children,
        so a change in between is seen too.  Used once, for the first read.
        """
        known, self._known = self._known, None
        if not known:
            return None
        try:
            version, owners = list(known['version']), dict(known['owners'])
        except (KeyError, TypeError, ValueError):
            return None
        if set(owners) != set(children) or \
                self._children_version() != version:
            return None
        self._snapshot = {'version': version, 'owners': owners}
        return owners

    def _take_snapshot(self, before, owners):
        """Keep what was read if no child changed while it was (the same
        version before the children and after their stats)."""
        if not self._track or before is None:
            return
        try:
            after = self._children_version()
        except zookeeper.ZooKeeperException:
            return
        if after == before:
            self._snapshot = {'version': before, 'owners': dict(owners)}

    def _stat_children(self, children):
        """name -> ephemeralOwner for ``children``; None if a stat failed.

        Asks only about the children it has not seen, and again about the
        persistent ones: a persistent node that is deleted and re-created
        as a worker's ephemeral node between two reads (an operator removes
        a leftover, the worker that waited for the name takes it at once)
        keeps its name in both child lists, and must become a member.  A
        child that was seen ephemeral stays a member while its name stays:
        an ephemeral node is only replaced by a persistent one when
        somebody deletes a live worker's node and forges it within one
        watch round trip.
        """
        known = self._owners
        owners = {}
        ask = []
        for name in children:
            owner = known.get(name)
            if owner:
                owners[name] = owner
            else:
                ask.append(name)
        if not ask:
            return owners
        try:
            stats = self._session.exists_many(
                [_join_path(self._basepath, name) for name in ask])
        except zookeeper.ZooKeeperException as exc:
            self._read_failed(exc)
            return None
        for name, stat in zip(ask, stats):
            if stat is not None:  # None: gone meanwhile
                owners[name] = stat.get('ephemeralOwner', 0)
        return owners

    def _set_members(self, members, handle):
        if members == self._members and handle == self._members_handle:
            return
        changed = members != self._members
        self._members = members
        self._members_handle = handle
        if members is not None and not self._ready.ready():
            self._ready.send()
        if not changed:
            return
        if members is None:
            LOG.info("MembershipMonitor %s: membership unknown (session not "
                     "connected)", self._basepath)
        else:
            LOG.debug("MembershipMonitor %s: members %s", self._basepath,
                      sorted(members))
        if self._cb_func is not None:
            try:
                self._cb_func(members)
            except Exception:
                LOG.exception("MembershipMonitor %s: ignoring an exception "
                              "from the callback function", self._basepath)


class Membership(evzookeeper.ZKServiceBase):
    """Use ephemeral zknodes to maintain a failure-aware node membership list.

    The member joins in the constructor (with ``async_mode``: in its green
    thread, right after) and can leave later; after leave() it does not
    join again.  While joined, the node is re-created whenever the session
    is replaced after an expiry; refresh() re-creates it on demand (e.g.
    after someone deleted it).  As in 0.4.0, a member the caller drops
    stays joined (its green thread holds it) until leave() or the end of
    its session.

    A name can be held by only one session.  The constructor raises
    RuntimeError when another session holds it.  A restarted worker finds
    the node of its previous, not yet expired session: pass ``wait`` (at
    least the old session's timeout plus one server tick) and the
    constructor watches the old node and joins as soon as ZooKeeper deletes
    it, raising RuntimeError only if the name is still held when ``wait``
    runs out (then another live session holds it).
    """

    def __init__(self, session, basepath, name, acl=None, async_mode=False,
                 wait=0):
        """Initialize and join the membership

        @param session: a ZKSession object
        @param basepath: the parent dir for membership zknodes; created (with
            data "ZKMembers"; missing parents with empty data) if missing.
        @param name: name of this member
        @param acl: access control list, by default [ZOO_OPEN_ACL_UNSAFE] is
            used
        @param async_mode: if True, return at once and join in the
            member's green thread (0.4.0: "the zknode will be created
            asynchronously"); failures are logged, not raised: a name held
            by another session is given up (tried again after the next
            CONNECTED_STATE), other errors are retried once connected.
        @param wait: seconds to wait for another session's node of the same
            name to go away before giving up with RuntimeError (0: give up
            at once, as evzookeeper 0.4.0; None: wait for ever).
        @raise RuntimeError: another session holds the name (this session
            too, through another Membership object: no waiting then).
        @raise zookeeper.ZooKeeperException: the join failed otherwise.
        """
        if not name or '/' in name:
            raise ValueError("invalid member name %r" % (name,))
        self._name = name
        self._path = _join_path(basepath.rstrip('/') or '/', name)
        self._session_token = uuid.uuid4().hex
        self._joined = False
        self._has_joined = False
        self._async_mode = async_mode
        self._wait = wait
        self._first_join_pending = async_mode
        self._rejoin_needed = False
        self._retry_delay = RETRY_MIN_DELAY
        self._pause = _Pause()
        self._failure = None
        self._wake = None
        self._started = _event.Event()
        super(Membership, self).__init__(session, basepath, acl=acl)
        if async_mode:
            self._started.send()
            return
        try:
            self._join(wait)
        except BaseException:
            self._name = None
            self.stop()
            raise
        finally:
            self._started.send()

    @property
    def name(self):
        """The member's name (None after leave())."""
        return self._name

    @property
    def path(self):
        return self._path

    @property
    def joined(self):
        """True while this member's node is known to exist."""
        return self._joined and self._session.is_connected()

    def refresh(self, quiet=True):
        """Make sure the member node is there (0.4.0): create it if it is
        missing, e.g. deleted by someone else.  Assumes a connected session.

        @param quiet: if False, raise what the join raised (RuntimeError
            when another session holds the name, ZooKeeperException);
            if True, log it.
        @return: True if the node was created, False if it was there, None
            after leave() (or when a quiet refresh failed).
        """
        try:
            return self._join(0)
        except Exception as exc:
            if not quiet:
                raise
            LOG.warning("Membership %s: refresh failed: %s: %s", self._path,
                        type(exc).__name__, exc)
            return None

    def leave(self):
        """Delete the member node and stop re-creating it.

        Returns False if already left.  Errors are logged, not raised.
        """
        if self._name is None:
            return False
        LOG.debug("Membership leave on %s", self._path)
        self._name = None
        self._joined = False
        self._interrupt_wait()
        self.stop()
        _delete_member_node(self._session, self._path, self._session_token)
        return True

    def _session_closed(self):
        # the server deletes the node with the session
        self._name = None
        self._joined = False
        self._interrupt_wait()
        self.stop()

    def _interrupt_wait(self):
        wake = self._wake
        if wake is not None and not wake.ready():
            wake.send(None)

    def _on_session_events(self, events):
        """In the member's green thread: join (async_mode), re-join after
        the session changed."""
        self._started.wait()  # the constructor's join comes first
        if self._first_join_pending:
            self._first_join_pending = False
            self._join_in_background()
        for _handle, _event_type, state, _path in events:
            if state == zookeeper.EXPIRED_SESSION_STATE:
                LOG.warning("Membership %s: session expired, the node is "
                            "gone; it is re-created in the new session",
                            self._path)
                self._joined = False
            elif state == zookeeper.CONNECTED_STATE:
                self._rejoin_needed = True
        timeout = None
        if self._name is not None and self._rejoin_needed and \
                self._session._connected():
            # refused before: not again until the pause is over
            timeout = self._pause.left()
            if timeout is None:
                if self._rejoin():
                    self._rejoin_needed = False
                    self._retry_delay = RETRY_MIN_DELAY
                else:
                    timeout = self._retry_delay
                    self._retry_delay = min(timeout * 2, RETRY_MAX_DELAY)
                    self._pause.refused(self._failure, timeout)
        if self._name is None:
            LOG.debug("Membership %s: green thread ends", self._path)
            return evzookeeper.STOP
        return timeout

    def _join_in_background(self):
        """async_mode's join."""
        try:
            self._join(self._wait)
        except RuntimeError as exc:
            LOG.error("Membership %s: %s; not joined", self._path, exc)
        except zookeeper.ZooKeeperException as exc:
            LOG.warning("Membership %s: joining failed: %s: %s; trying "
                        "again when connected", self._path,
                        type(exc).__name__, exc)
            self._pause.refused(exc, self._retry_delay)
            self._rejoin_needed = True

    def _rejoin(self):
        """Make sure the node is there (session connected).  Returns False
        when it should be tried again."""
        # Once joined, the name is ours: wait as long as another session
        # holds it.  (An async member that never got it gives up again.)
        wait = None if self._has_joined else self._wait
        try:
            self._join(wait)
            return True
        except zookeeper.ZooKeeperException as exc:
            LOG.warning("Membership %s: re-joining failed: %s: %s",
                        self._path, type(exc).__name__, exc)
            self._failure = exc
            return False
        except RuntimeError as exc:
            LOG.error("Membership %s: %s", self._path, exc)
            return True

    def _join(self, wait):
        """Make sure the ephemeral node is in ZooKeeper.

        @return: True if the node was created; False if it was there
            already (our token, our session); None if leave() came first.
        @raise RuntimeError: see __init__.
        """
        deadline = None if wait is None else time.monotonic() + max(wait, 0)
        announced = False
        while True:
            if self._name is None:
                return None
            LOG.debug("Membership._join on %s", self._path)
            self._ensure_path(self._basepath, MEMBERS_DATA)
            try:
                self._session.create(self._path, self._session_token,
                                     self.acl, zookeeper.EPHEMERAL)
            except zookeeper.NodeExistsException:
                pass
            else:
                if self._name is None:
                    # leave() ran while the node was being created
                    _delete_member_node(self._session, self._path,
                                        self._session_token)
                    return None
                self._joined = self._has_joined = True
                LOG.info("Membership: joined as %s", self._path)
                return True
            try:
                data, stat = self._session.get(self._path)
            except zookeeper.NoNodeException:
                continue  # gone meanwhile: create it
            owner = stat.get('ephemeralOwner', 0)
            mine = self._session.client_id()[0]
            ours = _text(data) == self._session_token
            if owner == mine:
                if ours:
                    self._joined = self._has_joined = True
                    return False
                LOG.critical("Duplicated membership name %s in this session",
                             self._path)
                raise RuntimeError("Duplicated membership name %s (held by "
                                   "this session)" % self._path)
            remaining = None
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    # The caller decides how bad this is: a restarted worker
                    # waits for its old session to expire and tries again.
                    LOG.warning("Duplicated membership name %s: held by "
                                "session 0x%x", self._path, owner)
                    raise RuntimeError("Duplicated membership name %s"
                                       % self._path)
            if not announced:
                announced = True
                what = ('our node of an expired session' if ours else
                        'a node of session 0x%x' % owner if owner else
                        'a persistent node')
                LOG.warning("Membership %s: %s is in the way; waiting %s for "
                            "it to go", self._path, what,
                            'as long as it takes' if remaining is None else
                            'up to %.1f s' % remaining)
            self._wait_node_gone(remaining)

    def _wait_node_gone(self, timeout):
        """Return when the node changed or went, a session event came,
        leave() was called or ``timeout`` seconds passed."""
        wake = _event.Event()

        def watcher(handle, event_type, state, path):
            if not wake.ready():
                wake.send(event_type)

        self._wake = wake
        try:
            try:
                self._session.exists(self._path, watcher)
            except zookeeper.NoNodeException:
                return
            with _timeout.Timeout(timeout, False):
                wake.wait()
        finally:
            self._wake = None

    def __del__(self):
        # Collected without leave() (its green thread is gone): leave.
        # Deleting the node blocks, and this may run on any thread: the
        # delete goes to a green thread, through the session's bridge.  (A
        # closed session took the node with it.)
        try:
            name = getattr(self, '_name', None)
            session = getattr(self, '_session', None)
            if name is not None and session is not None:
                self._name = None
                self._joined = False
                bridge = session._bridge
                if bridge is not None and not session._closed:
                    bridge.post(eventlet.spawn_n, _delete_member_node,
                                session, self._path, self._session_token)
        except Exception:  # nowhere to report it from here
            pass
        super(Membership, self).__del__()


def _delete_member_node(session, path, token):
    """Delete a member's node; after a connection loss, keep trying.

    A delete that fails with a connection loss may leave the node behind
    while the session lives on (it moves to another server): the member
    would then read as up for as long as the process runs.  Until the
    delete succeeds, or the session that holds the node ends (its
    ephemeral nodes go with it), a green thread tries again.
    """
    try:
        holder = session.client_id()[0]
    except Exception:
        holder = None
    if _try_delete(session, path, token) is None:
        LOG.warning("Membership %s: the delete was interrupted; trying again "
                    "while session 0x%x lives", path, holder or 0)
        eventlet.spawn_n(_retry_delete, session, path, token, holder)


def _try_delete(session, path, token):
    """True: gone; False: not ours or failed for good; None: retry."""
    try:
        data, _stat = session.get(path)
        if _text(data) != token:
            LOG.warning("Membership %s: the node is not ours (any more): "
                        "left as it is", path)
            return False
        session.delete(path)
        LOG.debug("Membership %s: deleted", path)
        return True
    except zookeeper.NoNodeException:
        LOG.debug("Membership %s: no node to delete", path)
        return True
    except (zookeeper.ConnectionLossException,
            zookeeper.OperationTimeoutException):
        return None
    except zookeeper.ZooKeeperException:
        LOG.exception("Membership %s: error when deleting the membership "
                      "node; ignored", path)
        return False


def _retry_delete(session, path, token, holder):
    while True:
        eventlet.sleep(_DELETE_RETRY_INTERVAL)
        if session._closed:
            return
        if not session.is_connected():
            continue
        try:
            if session.client_id()[0] != holder:
                return  # that session ended: its node went with it
        except Exception:
            return
        if _try_delete(session, path, token) is not None:
            LOG.info("Membership %s: deleted after the interruption", path)
            return

"""The zookeeper module's functions, over libzookeeper_mt through cffi.

See the package docstring (``zookeeper/__init__.py``) for the API.  This
module holds the machinery:

Handles
    ``init`` returns a small integer naming a ``_Handle`` in ``_handles``.
    Integers are never reused, so a stale handle cannot reach a newer
    session.  Every C call on a handle is bracketed by ``_using``: it counts
    the call as in flight, and ``close`` waits for in-flight calls to return
    before ``zookeeper_close`` frees the C handle (the C client does not
    guard its handle against a call running in another thread).  The
    asynchronous calls return in microseconds; a synchronous call returns
    with its reply, or with OPERATIONTIMEOUT or CONNECTIONLOSS once the C
    client gives up on the server (after 2/3 of the session timeout).

Contexts
    A Python callable handed to the C library is stored in ``_contexts``
    under an integer key, and the key travels as the C ``void *`` context.
    The C library may call back on its completion thread, on its I/O thread
    or (while ``zookeeper_close`` runs) on the closing thread; every
    dispatcher looks the key up under ``_lock`` and calls nothing for a
    key that is gone.  Hence nothing is called twice or after it was freed:

    * a completion is removed when it fires (the C client calls each
      completion at most once: with the reply, or with CONNECTIONLOSS,
      SESSIONEXPIRED or CLOSING; ``close`` calls those the C client
      dropped with CLOSING);
    * a node watcher is removed when it fires for a node event, when it
      receives a SESSION_EVENT with a final state (EXPIRED_SESSION_STATE,
      AUTH_FAILED_STATE), or when the completion of the call that set it
      shows the server did not set the watch (e.g. aget on a missing node);
    * the session watcher lives as long as the handle;
    * ``close`` drops every context left for the handle after
      ``zookeeper_close`` returned: the C client destroys the remaining
      watches without calling them.

    Like the C client (and zkpython), node watchers also receive the
    SESSION_EVENTs (connecting, connected, expired) of their session while
    they are pending.

Callbacks
    cffi acquires the GIL for each callback.  Exceptions raised by user
    callbacks are logged on the "zookeeper" logger and never reach C.
    Watchers and completions run on the completion thread.  They may call
    the synchronous functions, whose replies the I/O thread handles, and
    ``close``: ``zookeeper_close`` on the completion thread detaches that
    thread instead of joining it, and the C client frees the handle once
    the callback has returned.  The exception is the completion of
    ``add_auth``, which the C client runs on its I/O thread: a synchronous
    call there would wait for the thread it blocks, and ``close`` would
    wait for such calls, so both raise ZooKeeperException there.

Threads
    A callback that asks for ``threading.current_thread()`` (logging does)
    registers a dummy Thread for the C thread.  Python 3.13 unregisters it
    when the thread's state is freed, which cffi defers until a callback
    comes from some new thread; Python <= 3.12 never does.  ``close``
    unregisters the dummies of the threads it joined, so that
    ``threading.enumerate()`` lists no thread that has ended.

Locks
    Internal locks are the interpreter's real OS locks even after eventlet's
    monkey patching, because the C threads take them too.
"""

import atexit
import builtins
import contextlib
import fcntl
import functools
import io
import itertools
import logging
import os
import sys
import threading
import types

import _thread

from zookeeper import _ffi
from zookeeper import constants as C
from zookeeper import exceptions as E

ffi = _ffi.ffi
lib = _ffi.lib
libc = _ffi.libc
NULL = ffi.NULL

LOG = logging.getLogger('zookeeper')


def _find_lock_allocator():
    """The real ``_thread.allocate_lock``, even under eventlet."""
    alloc = _thread.allocate_lock
    if isinstance(alloc, types.BuiltinFunctionType):
        return alloc
    patcher = sys.modules.get('eventlet.patcher')
    if patcher is not None:
        try:
            original = patcher.original('_thread').allocate_lock
        except Exception:  # pragma: no cover - defensive
            original = None
        if isinstance(original, types.BuiltinFunctionType):
            return original
    LOG.warning('zookeeper: _thread.allocate_lock is patched (%r) and the '
                'original could not be found; callbacks from C threads may '
                'misbehave', alloc)
    return alloc


_allocate_lock = _find_lock_allocator()

# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------

_lock = _allocate_lock()      # guards _handles, _contexts and _Handle fields
_handles = {}                 # handle id -> _Handle
_contexts = {}                # context key -> _Context
_handle_ids = itertools.count(0)
_context_keys = itertools.count(1)   # 0 is NULL: "no context"
_tls = threading.local()      # .io_depth: > 0 in a callback on an I/O thread

_SESSION, _WATCH, _COMPLETION = 'session', 'watch', 'completion'

# Session states after which the C client delivers nothing more to a watch.
_FINAL_STATES = frozenset([C.EXPIRED_SESSION_STATE, C.AUTH_FAILED_STATE])

# Return codes with which a watch-setting call leaves its watch registered.
_WATCH_KEPT_DATA = frozenset([C.OK])              # aget, aget_children
_WATCH_KEPT_EXISTS = frozenset([C.OK, C.NONODE])  # aexists


class _Handle(object):
    __slots__ = ('id', 'zh', 'closing', 'inflight', 'session_key', 'ready',
                 'threads')

    def __init__(self, hid):
        self.id = hid
        self.zh = None            # zhandle_t *, once zookeeper_init returned
        self.closing = False
        self.inflight = 0
        self.session_key = 0
        self.ready = _allocate_lock()   # held while zookeeper_init runs
        # Idents of the threads that called back ("set" is zookeeper.set).
        self.threads = builtins.set()


class _Context(object):
    __slots__ = ('handle', 'kind', 'func', 'watch_key', 'watch_kept',
                 'closing_args', 'io_thread')

    def __init__(self, handle, kind, func, watch_key=0, watch_kept=(),
                 closing_args=(), io_thread=False):
        self.handle = handle
        self.kind = kind
        self.func = func
        self.watch_key = watch_key
        self.watch_kept = watch_kept
        # What follows (handle, CLOSING) when close() completes it.
        self.closing_args = closing_args
        # True for add_auth: the C client completes it on its I/O thread.
        self.io_thread = io_thread


def _new_context(handle, kind, func, watch_key=0, watch_kept=(),
                 closing_args=(), io_thread=False):
    """Register a context; the caller holds _lock."""
    key = next(_context_keys)
    _contexts[key] = _Context(handle, kind, func, watch_key, watch_kept,
                              closing_args, io_thread)
    return key


def _drop_contexts(handle):
    """Forget every context of a handle; the caller holds _lock."""
    for key in [k for k, c in _contexts.items() if c.handle == handle]:
        del _contexts[key]


def _discard(*keys):
    with _lock:
        for key in keys:
            if key:
                _contexts.pop(key, None)


def _ptr(key):
    return ffi.cast('void *', key) if key else NULL


def _key(ptr):
    return int(ffi.cast('uintptr_t', ptr)) if ptr != NULL else 0


def _context_count(handle=None):
    """Number of live callback contexts (of one handle, or all); for tests."""
    with _lock:
        if handle is None:
            return len(_contexts)
        return sum(1 for c in _contexts.values() if c.handle == handle)


def _refuse_on_io_thread(what):
    if getattr(_tls, 'io_depth', 0) > 0:
        raise E.ZooKeeperException(
            '%s cannot be called from an add_auth completion: the C client '
            'runs it on its I/O thread, which has to handle the replies '
            'this call would wait for; call it from another thread' % what)


def _note_thread(handle):
    """Remember that the current thread called back for a handle.

    The caller holds _lock.
    """
    h = _handles.get(handle)
    if h is not None:
        h.threads.add(_thread.get_ident())


def _forget_dummy_threads(idents):
    """Unregister the dummy Thread objects of C threads that have ended."""
    active = getattr(threading, '_active', None)
    guard = getattr(threading, '_active_limbo_lock', None)
    dummy = getattr(threading, '_DummyThread', None)
    if active is None or guard is None or dummy is None:  # pragma: no cover
        return
    with guard:
        for ident in idents:
            if isinstance(active.get(ident), dummy):
                del active[ident]


# --------------------------------------------------------------------------
# Dispatch from C
# --------------------------------------------------------------------------

def _onerror(exc_type, exc_value, tb):
    # Last resort: an error in the dispatch code itself.
    try:
        LOG.error('zookeeper: error in a callback dispatcher',
                  exc_info=(exc_type, exc_value, tb))
    except Exception:  # pragma: no cover - interpreter shutting down
        pass


def _call(what, func, *args, io_thread=False):
    """Call a user callback; log what it raises, never let it reach C."""
    if io_thread:
        _tls.io_depth = getattr(_tls, 'io_depth', 0) + 1
    try:
        func(*args)
    except BaseException:
        try:
            LOG.exception('zookeeper: exception in %s %r%r', what, func, args)
        except Exception:  # pragma: no cover - interpreter shutting down
            pass
    finally:
        if io_thread:
            _tls.io_depth -= 1


def _text(cstr):
    if cstr == NULL:
        return None
    return ffi.string(cstr).decode('utf-8', 'replace')


def _stat(st):
    if st == NULL:
        return None
    return {
        'czxid': st.czxid,
        'mzxid': st.mzxid,
        'ctime': st.ctime,
        'mtime': st.mtime,
        'version': st.version,
        'cversion': st.cversion,
        'aversion': st.aversion,
        'ephemeralOwner': st.ephemeralOwner,
        'dataLength': st.dataLength,
        'numChildren': st.numChildren,
        'pzxid': st.pzxid,
    }


def _acl_list(vec):
    if vec == NULL:
        return []
    return [{'perms': vec.data[i].perms,
             'scheme': _text(vec.data[i].id.scheme),
             'id': _text(vec.data[i].id.id)}
            for i in range(vec.count)]


def _take_completion(data, rc):
    """Pop a completion context, and its watch if the server did not set it."""
    key = _key(data)
    if not key:
        return None
    with _lock:
        ctx = _contexts.pop(key, None)
        if ctx is None:
            return None
        _note_thread(ctx.handle)
        if ctx.watch_key and rc not in ctx.watch_kept:
            _contexts.pop(ctx.watch_key, None)
    return ctx


@ffi.callback('watcher_fn', onerror=_onerror)
def _watcher_dispatch(zh, type_, state, path, watcher_ctx):
    key = _key(watcher_ctx)
    if not key:
        return
    with _lock:
        ctx = _contexts.get(key)
        if ctx is None:
            return
        _note_thread(ctx.handle)
        if ctx.kind == _WATCH and (type_ != C.SESSION_EVENT or
                                   state in _FINAL_STATES):
            del _contexts[key]          # one-shot
        func = ctx.func
    if func is not None:
        _call('watcher', func, ctx.handle, type_, state, _text(path) or '')


@ffi.callback('void_completion_t', onerror=_onerror)
def _void_dispatch(rc, data):
    ctx = _take_completion(data, rc)
    if ctx is not None and ctx.func is not None:
        _call('completion', ctx.func, ctx.handle, rc,
              io_thread=ctx.io_thread)


@ffi.callback('stat_completion_t', onerror=_onerror)
def _stat_dispatch(rc, stat, data):
    ctx = _take_completion(data, rc)
    if ctx is not None and ctx.func is not None:
        _call('completion', ctx.func, ctx.handle, rc, _stat(stat))


@ffi.callback('data_completion_t', onerror=_onerror)
def _data_dispatch(rc, value, value_len, stat, data):
    ctx = _take_completion(data, rc)
    if ctx is None or ctx.func is None:
        return
    if rc != C.OK:
        payload = None
    elif value == NULL or value_len <= 0:
        payload = b''
    else:
        payload = ffi.unpack(value, value_len)
    _call('completion', ctx.func, ctx.handle, rc, payload, _stat(stat))


@ffi.callback('strings_completion_t', onerror=_onerror)
def _strings_dispatch(rc, strings, data):
    ctx = _take_completion(data, rc)
    if ctx is None or ctx.func is None:
        return
    children = []
    if strings != NULL:
        children = [_text(strings.data[i]) for i in range(strings.count)]
    _call('completion', ctx.func, ctx.handle, rc, children)


@ffi.callback('string_completion_t', onerror=_onerror)
def _string_dispatch(rc, value, data):
    ctx = _take_completion(data, rc)
    if ctx is not None and ctx.func is not None:
        _call('completion', ctx.func, ctx.handle, rc, _text(value))


@ffi.callback('acl_completion_t', onerror=_onerror)
def _acl_dispatch(rc, acl, stat, data):
    ctx = _take_completion(data, rc)
    if ctx is not None and ctx.func is not None:
        _call('completion', ctx.func, ctx.handle, rc, _acl_list(acl),
              _stat(stat))


# --------------------------------------------------------------------------
# Argument conversion
# --------------------------------------------------------------------------

def _error(rc):
    return E.exception_for(rc, zerror(rc))


def _cpath(path, what='path'):
    if not isinstance(path, str):
        raise TypeError('%s must be str, not %s' % (what, type(path).__name__))
    if '\0' in path:
        raise E.BadArgumentsException('%s contains a NUL character' % what,
                                      code=C.BADARGUMENTS)
    return path.encode('utf-8')


def _cdata(value):
    """(pointer-compatible bytes or NULL, length) for node data."""
    if value is None:
        return NULL, -1
    if isinstance(value, bytes):
        return value, len(value)
    if isinstance(value, (bytearray, memoryview)):
        value = bytes(value)
        return value, len(value)
    if isinstance(value, str):
        # zkpython on Python 3 takes str data as UTF-8.
        value = value.encode('utf-8')
        return value, len(value)
    raise TypeError('node data must be bytes or str, not %s'
                    % type(value).__name__)


def _int(value, what):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError('%s must be an int, not %s'
                        % (what, type(value).__name__))
    return value


def _callable(func, what):
    if func is not None and not callable(func):
        raise TypeError('%s must be callable or None' % what)


def _acl_vector(acl):
    """struct ACL_vector * for a list of ACL dicts, and what keeps it alive."""
    if not isinstance(acl, (list, tuple)):
        raise E.InvalidACLException(
            'ACL must be a list of dicts with keys perms, scheme, id; got %r'
            % (acl,), code=C.INVALIDACL)
    keep = []
    entries = ffi.new('struct ACL[]', len(acl)) if acl else NULL
    keep.append(entries)
    for i, entry in enumerate(acl):
        try:
            perms, scheme, ident = entry['perms'], entry['scheme'], entry['id']
        except (TypeError, KeyError):
            raise E.InvalidACLException(
                'ACL entry %r lacks perms, scheme or id' % (entry,),
                code=C.INVALIDACL)
        if (not isinstance(perms, int) or isinstance(perms, bool) or
                not isinstance(scheme, str) or not isinstance(ident, str)):
            raise E.InvalidACLException(
                'ACL entry %r: perms must be int, scheme and id str'
                % (entry,), code=C.INVALIDACL)
        cscheme = ffi.new('char[]', scheme.encode('utf-8'))
        cident = ffi.new('char[]', ident.encode('utf-8'))
        keep.extend((cscheme, cident))
        entries[i].perms = perms
        entries[i].id.scheme = cscheme
        entries[i].id.id = cident
    vec = ffi.new('struct ACL_vector *')
    vec.count = len(acl)
    vec.data = entries
    keep.append(vec)
    return vec, keep


# --------------------------------------------------------------------------
# Handles
# --------------------------------------------------------------------------

def _closed_error(handle):
    return E.ZooKeeperException('zhandle %r is closed (or was never opened)'
                                % (handle,))


@contextlib.contextmanager
def _using(handle):
    """Bracket a C call on a handle (close waits for it): yields the _Handle.
    """
    _int(handle, 'handle')
    while True:
        with _lock:
            h = _handles.get(handle)
            if h is None:
                raise _closed_error(handle)
            if h.closing:
                raise E.ClosingException('zhandle %d is being closed' % handle,
                                         code=C.CLOSING)
            if h.zh is not None:
                h.inflight += 1
                break
            ready = h.ready
        # A callback that fired while zookeeper_init had not returned yet.
        ready.acquire()
        ready.release()
    try:
        yield h
    finally:
        with _lock:
            h.inflight -= 1


def _prepare(h, completion, watcher, watch_kept, closing_args, io_thread):
    """Register the contexts of one asynchronous call: (watch key, key)."""
    with _lock:
        wkey = _new_context(h.id, _WATCH, watcher) if watcher is not None \
            else 0
        if completion is None and not wkey:
            return 0, 0
        ckey = _new_context(h.id, _COMPLETION, completion, wkey, watch_kept,
                            closing_args, io_thread)
    return wkey, ckey


def _submit(handle, completion, closing_args, invoke, watcher=None,
            watch_kept=(), io_thread=False):
    """Run ``invoke(zh, watcher_fn, watcher_ctx, completion_ctx) -> rc``.

    ``closing_args``: the completion's arguments after (handle, rc) when
    close() has to complete it with CLOSING.  Raises the mapped exception
    when the C call refuses the request (then no callback will come);
    returns OK otherwise.
    """
    _callable(completion, 'completion')
    _callable(watcher, 'watcher')
    with _using(handle) as h:
        wkey, ckey = _prepare(h, completion, watcher, watch_kept,
                              closing_args, io_thread)
        try:
            rc = invoke(h.zh, _watcher_dispatch if wkey else NULL,
                        _ptr(wkey), _ptr(ckey))
        except BaseException:
            _discard(wkey, ckey)
            raise
    if rc != C.OK:
        _discard(wkey, ckey)
        raise _error(rc)
    return rc


def init(host, watcher=None, recv_timeout=10000, client_id=None):
    """Open a session to ``host`` ("h1:p1,h2:p2[/chroot]"); return a handle.

    ``watcher(handle, type, state, path)`` is the session watcher: it is
    called for every state change (CONNECTING, CONNECTED, EXPIRED, AUTH
    FAILED...) for the whole life of the handle, with type SESSION_EVENT.
    ``recv_timeout`` is the requested session timeout in ms (the server
    bounds it to [2, 20] tickTime; see ``recv_timeout(handle)``).
    ``client_id=(session_id, passwd)`` resumes a session; session_id -1 (or
    ``client_id=None``) asks for a new one.  passwd is the 16-byte password
    from ``client_id(handle)`` (bytes; a str is taken as latin-1).
    """
    return _open('zookeeper_init', host, watcher, recv_timeout, client_id,
                 lambda chost, fn, timeout, cid, ctx:
                 lib.zookeeper_init(chost, fn, timeout, cid, ctx, 0))


def _init_ssl(host, cert_str, watcher=None, recv_timeout=10000,
              client_id=None):
    """``init`` over TLS; ``cert_str`` names the certificate files.

    The C client's format: "ca,cert,key[,passwd]", comma-separated PEM
    file paths (the CA that signed the servers' certificates, the client's
    certificate and key) and the key's password.  Only where the library
    was built with OpenSSL: ``zookeeper.init_ssl`` exists then, as in
    zkpython.
    """
    ccert = _cpath(cert_str, 'cert_str')

    def start(chost, fn, timeout, cid, ctx):
        # zookeeper_init_ssl splits cert_str with strtok(), which keeps its
        # state in a global: one call at a time.
        with _init_ssl_lock:
            return _ffi.zookeeper_init_ssl(chost, ccert, fn, timeout, cid,
                                           ctx, 0)
    return _open('zookeeper_init_ssl', host, watcher, recv_timeout,
                 client_id, start)


_init_ssl_lock = _allocate_lock()


if _ffi.zookeeper_init_ssl is not None:
    init_ssl = _init_ssl


def _open(what, host, watcher, recv_timeout, client_id, start):
    """Register a handle and run ``start(host, watcher_fn, timeout,
    clientid, context) -> zhandle_t *`` for it."""
    if not isinstance(host, str):
        raise TypeError('host must be str, not %s' % type(host).__name__)
    if '\0' in host:
        raise E.BadArgumentsException('host contains a NUL character',
                                      code=C.BADARGUMENTS)
    _callable(watcher, 'watcher')
    _int(recv_timeout, 'recv_timeout')
    cid = NULL
    if client_id is not None:
        try:
            session_id, passwd = client_id
        except (TypeError, ValueError):
            raise TypeError('client_id must be a (session_id, passwd) tuple')
        _int(session_id, 'session id')
        if session_id != -1:
            if isinstance(passwd, str):
                passwd = passwd.encode('latin-1')
            if not isinstance(passwd, (bytes, bytearray)):
                raise TypeError('session password must be bytes')
            if len(passwd) > 16:
                raise ValueError('session password longer than 16 bytes')
            cid = ffi.new('clientid_t *')
            cid.client_id = session_id
            ffi.memmove(cid.passwd, bytes(passwd), len(passwd))

    h = None
    with _lock:
        h = _Handle(next(_handle_ids))
        h.ready.acquire()
        _handles[h.id] = h
        h.session_key = _new_context(h.id, _SESSION, watcher)
    try:
        zh = start(host.encode('utf-8'), _watcher_dispatch, recv_timeout, cid,
                   _ptr(h.session_key))
        errno = ffi.errno
        with _lock:
            if zh == NULL:
                del _handles[h.id]
                _drop_contexts(h.id)
            else:
                h.zh = zh
        if zh != NULL and _ffi.zoo_set_servers_resolution_delay is not None:
            _ffi.zoo_set_servers_resolution_delay(zh, RESOLUTION_DELAY_MS)
    finally:
        h.ready.release()
    if zh == NULL:
        raise E.ZooKeeperException('%s(%r) failed: %s' % (
            what, host,
            os.strerror(errno) if errno else 'no usable server address'))
    return h.id


#: How often at most (ms) a session's C client looks the server names up
#: again while it is connected; on a connection loss it always does.  The
#: 3.6+ C client's own default is at every turn of its I/O loop: a
#: getaddrinfo() (a netlink socket and five system calls, even for an IP
#: address) per request sent or reply read, half the client's CPU in a
#: burst of stats.  zkpython's C client (3.4) looked them up once.
RESOLUTION_DELAY_MS = 1000


def set_servers_resolution_delay(handle, delay_ms):
    """Set the C client's ``zoo_set_servers_resolution_delay`` of a handle.

    ``delay_ms``: the least time between two look-ups of the server names
    while connected (0: at every turn of the I/O loop, -1: only after a
    connection loss).  ``init`` sets RESOLUTION_DELAY_MS.  Not in zkpython;
    absent where the C library is older than 3.6.
    """
    _int(delay_ms, 'delay_ms')
    with _using(handle) as h:
        rc = _ffi.zoo_set_servers_resolution_delay(h.zh, delay_ms)
    if rc != C.OK:
        raise _error(rc)


def close(handle):
    """Close the session and free the handle; returns the C return code.

    Pending completions are called with CLOSING before close returns (by
    the C client, or by close itself on this thread for those the C client
    drops); pending watches are dropped without being called.  Nothing is
    called for this handle afterwards.  Synchronous calls in flight in
    other threads are waited for (they return with their reply, or with
    OPERATIONTIMEOUT or CONNECTIONLOSS once the C client gives up on the
    server); new calls raise ClosingException meanwhile.
    A second close, or any call on the closed handle, raises
    ZooKeeperException.  May be called from a watcher or a completion (not
    from an add_auth completion, see ``_refuse_on_io_thread``): the C client
    then finishes closing after the callback returned.
    """
    _int(handle, 'handle')
    _refuse_on_io_thread('zookeeper.close()')
    while True:
        with _lock:
            h = _handles.get(handle)
            if h is None:
                raise _closed_error(handle)
            if h.closing:
                raise E.ClosingException('zhandle %d is already being closed'
                                         % handle, code=C.CLOSING)
            if h.zh is not None:
                h.closing = True
                break
            ready = h.ready
        ready.acquire()
        ready.release()
    # zookeeper_close frees the C handle under any call still using it.
    while True:
        with _lock:
            if h.inflight == 0:
                break
        # libc's sleep: time.sleep may be eventlet's after monkey_patch(),
        # and this thread need not be the hub's.
        _ffi.libc.usleep(1000)
    try:
        rc = lib.zookeeper_close(h.zh)
    finally:
        with _lock:
            _handles.pop(h.id, None)
            left = sorted((k, c) for k, c in _contexts.items()
                          if c.handle == h.id)
            _drop_contexts(h.id)
            h.zh = None
        # zookeeper_close joined the handle's threads, except the one it
        # was called on (a callback's), which ends after the callback.
        _forget_dummy_threads(h.threads - {_thread.get_ident()})
        # The multi-threaded C client drops the completions it had queued
        # but not yet run when it is closed: complete them here, so that
        # every completion is called exactly once.  Watches are dropped
        # silently, as the C client does.
        for _key_, ctx in left:
            if ctx.kind == _COMPLETION and ctx.func is not None:
                _call('completion', ctx.func, ctx.handle, C.CLOSING,
                      *ctx.closing_args)
    return rc


def state(handle):
    """The session state (CONNECTED_STATE, CONNECTING_STATE, ...)."""
    with _using(handle) as h:
        return lib.zoo_state(h.zh)


def client_id(handle):
    """(session_id, passwd): the session's id and its 16-byte password."""
    with _using(handle) as h:
        cid = lib.zoo_client_id(h.zh)
        return cid.client_id, ffi.unpack(cid.passwd, 16)


def recv_timeout(handle):
    """The session timeout in ms (the negotiated one once connected)."""
    with _using(handle) as h:
        return lib.zoo_recv_timeout(h.zh)


def is_unrecoverable(handle):
    """True once the session is expired or its authentication failed."""
    with _using(handle) as h:
        return lib.is_unrecoverable(h.zh) == C.INVALIDSTATE


def set_watcher(handle, watcher):
    """Replace the session watcher of a handle (None: no session watcher)."""
    _callable(watcher, 'watcher')
    with _using(handle) as h:
        with _lock:
            ctx = _contexts.get(h.session_key)
            if ctx is not None:
                ctx.func = watcher


def zerror(rc):
    """The C client's text for a return code."""
    return ffi.string(lib.zerror(_int(rc, 'rc'))).decode('utf-8', 'replace')


# --------------------------------------------------------------------------
# Asynchronous API
# --------------------------------------------------------------------------

def acreate(handle, path, data, acl, flags=0, completion=None):
    """Create a node; ``completion(handle, rc, created_path_or_None)``."""
    cpath = _cpath(path)
    value, length = _cdata(data)
    vec, keep = _acl_vector(acl)
    _int(flags, 'flags')

    def invoke(zh, wfn, wctx, ctx):
        return lib.zoo_acreate(zh, cpath, value, length, vec, flags,
                               _string_dispatch, ctx)
    rc = _submit(handle, completion, (None,), invoke)
    del keep
    return rc


def adelete(handle, path, version=-1, completion=None):
    """Delete a node; ``completion(handle, rc)``."""
    cpath = _cpath(path)
    _int(version, 'version')
    return _submit(handle, completion, (), lambda zh, wfn, wctx, ctx:
                   lib.zoo_adelete(zh, cpath, version, _void_dispatch, ctx))


def aexists(handle, path, watcher=None, completion=None):
    """Stat a node; ``completion(handle, rc, stat_or_None)``.

    The watcher is set whether or not the node exists (rc OK or NONODE).
    """
    cpath = _cpath(path)
    return _submit(handle, completion, (None,), lambda zh, wfn, wctx, ctx:
                   lib.zoo_awexists(zh, cpath, wfn, wctx, _stat_dispatch, ctx),
                   watcher, _WATCH_KEPT_EXISTS)


def aexists_many(handle, paths, completion):
    """Stat many nodes in one burst; ``completion(handle, replies)`` once.

    ``replies``: one ``(rc, stat_or_None)`` per path, in order; called on
    the completion thread after the last reply (or with CLOSING ones when
    the handle is closed meanwhile); at once for no paths.  Every request
    is sent before the first reply is handled: a thousand stats cost a few
    round trips.  Not in zkpython.  Raises like ``aexists`` when a request
    cannot be sent; the replies of those already sent are then dropped.
    """
    if not callable(completion):
        raise TypeError('completion must be callable')
    paths = list(paths)
    replies = [None] * len(paths)
    left = [len(paths)]
    failed = []
    # The replies wait until every request is out: each C call releases
    # the GIL, and a completion taking it between two sends costs both
    # threads a switch per reply.
    gate = _allocate_lock()

    def collect(index, _handle, rc, stat=None):
        # one completion thread per handle: the count needs no lock
        gate.acquire()
        gate.release()
        replies[index] = (rc, stat)
        left[0] -= 1
        if left[0] == 0 and not failed:
            completion(handle, replies)

    if not paths:
        completion(handle, replies)
        return C.OK
    with gate:
        try:
            for index, path in enumerate(paths):
                aexists(handle, path, None, functools.partial(collect, index))
        except BaseException:
            failed.append(True)
            raise
    return C.OK


def aget(handle, path, watcher=None, completion=None):
    """Read a node; ``completion(handle, rc, data_bytes_or_None, stat)``.

    data is bytes (b'' for a node without data) when rc is OK, else None.
    """
    cpath = _cpath(path)
    return _submit(handle, completion, (None, None),
                   lambda zh, wfn, wctx, ctx:
                   lib.zoo_awget(zh, cpath, wfn, wctx, _data_dispatch, ctx),
                   watcher, _WATCH_KEPT_DATA)


def aset(handle, path, data, version=-1, completion=None):
    """Write a node's data; ``completion(handle, rc, stat_or_None)``."""
    cpath = _cpath(path)
    value, length = _cdata(data)
    _int(version, 'version')
    return _submit(handle, completion, (None,), lambda zh, wfn, wctx, ctx:
                   lib.zoo_aset(zh, cpath, value, length, version,
                                _stat_dispatch, ctx))


def aget_children(handle, path, watcher=None, completion=None):
    """List children; ``completion(handle, rc, list_of_str)`` ([] on error)."""
    cpath = _cpath(path)
    return _submit(handle, completion, ([],), lambda zh, wfn, wctx, ctx:
                   lib.zoo_awget_children(zh, cpath, wfn, wctx,
                                          _strings_dispatch, ctx),
                   watcher, _WATCH_KEPT_DATA)


def async_(handle, path, completion=None):
    """zkpython's ``async``: sync the server; ``completion(h, rc, path)``.

    Also reachable as ``getattr(zookeeper, 'async')``.
    """
    cpath = _cpath(path)
    return _submit(handle, completion, (None,), lambda zh, wfn, wctx, ctx:
                   lib.zoo_async(zh, cpath, _string_dispatch, ctx))


def aget_acl(handle, path, completion=None):
    """Read a node's ACL; ``completion(handle, rc, acl_list, stat)``."""
    cpath = _cpath(path)
    return _submit(handle, completion, ([], None),
                   lambda zh, wfn, wctx, ctx:
                   lib.zoo_aget_acl(zh, cpath, _acl_dispatch, ctx))


def aset_acl(handle, path, version, acl, completion=None):
    """Replace a node's ACL; ``completion(handle, rc)``."""
    cpath = _cpath(path)
    _int(version, 'version')
    vec, keep = _acl_vector(acl)
    rc = _submit(handle, completion, (), lambda zh, wfn, wctx, ctx:
                 lib.zoo_aset_acl(zh, cpath, version, vec, _void_dispatch,
                                  ctx))
    del keep
    return rc


def add_auth(handle, scheme, cert, completion=None):
    """Add credentials (e.g. "digest", "user:password"); ``completion(h, rc)``.

    cert is str (sent as UTF-8) or bytes.  The C client resends the
    credentials after every reconnection.
    """
    cscheme = _cpath(scheme, 'scheme')
    if isinstance(cert, str):
        cert = cert.encode('utf-8')
    value, length = _cdata(cert)
    if value is NULL:
        length = 0
    return _submit(handle, completion, (), lambda zh, wfn, wctx, ctx:
                   lib.zoo_add_auth(zh, cscheme, value, length,
                                    _void_dispatch, ctx),
                   io_thread=True)


# --------------------------------------------------------------------------
# Synchronous API: the C client's own synchronous calls.  cffi releases the
# GIL for the duration of every C call, and the C client handles their
# replies on its I/O thread: a watcher that blocks or sleeps on the
# completion thread cannot hold them up, and callbacks may make them.
# --------------------------------------------------------------------------

#: What zoo_wget's first buffer holds: jute.maxbuffer's default (1 MiB - 1),
#: so that any node a default server accepts comes in one round trip.
_GET_BUFFER_SIZE = 0xfffff

#: Room the created path needs beyond the requested one: a sequence suffix
#: (10 digits, or 11 with the sign once the counter has wrapped) and NUL.
_CREATED_PATH_EXTRA = 12

# zoo_wget's buffer is overwritten by the C client: no need to zero it.
_new_buffer = ffi.new_allocator(should_clear_after_alloc=False)


def _sync(handle, invoke, watcher=None, watch_kept=()):
    """Run ``invoke(zh, watcher_fn, watcher_ctx) -> rc``, a synchronous C
    call; return its rc.  A watcher's context is kept only when rc says the
    C client registered the watch."""
    _refuse_on_io_thread('synchronous zookeeper functions')
    _callable(watcher, 'watcher')
    with _using(handle) as h:
        wkey = 0
        if watcher is not None:
            with _lock:
                wkey = _new_context(h.id, _WATCH, watcher)
        try:
            rc = invoke(h.zh, _watcher_dispatch if wkey else NULL,
                        _ptr(wkey))
        except BaseException:
            _discard(wkey)
            raise
    if wkey and rc not in watch_kept:
        _discard(wkey)
    return rc


def _check(rc):
    if rc != C.OK:
        raise _error(rc)
    return rc


def create(handle, path, data, acl, flags=0):
    """Create a node; returns its path (with the sequence suffix, if any)."""
    cpath = _cpath(path)
    value, length = _cdata(data)
    vec, keep = _acl_vector(acl)
    _int(flags, 'flags')
    size = len(cpath) + _CREATED_PATH_EXTRA
    created = ffi.new('char[]', size)
    _check(_sync(handle, lambda zh, wfn, wctx:
                 lib.zoo_create(zh, cpath, value, length, vec, flags,
                                created, size)))
    del keep
    return _text(created)


def delete(handle, path, version=-1):
    """Delete a node; returns OK."""
    cpath = _cpath(path)
    _int(version, 'version')
    return _check(_sync(handle, lambda zh, wfn, wctx:
                        lib.zoo_delete(zh, cpath, version)))


def exists(handle, path, watcher=None):
    """A node's stat dict, or None when the node does not exist.

    The watcher is set whether or not the node exists.
    """
    cpath = _cpath(path)
    stat = ffi.new('struct Stat *')
    rc = _sync(handle, lambda zh, wfn, wctx:
               lib.zoo_wexists(zh, cpath, wfn, wctx, stat),
               watcher, _WATCH_KEPT_EXISTS)
    if rc == C.NONODE:
        return None
    _check(rc)
    return _stat(stat)


def get(handle, path, watcher=None, bufferlen=None):
    """(data, stat) of a node: all of its data (bytes), unless zkpython's
    ``bufferlen`` asks for at most that many bytes."""
    cpath = _cpath(path)
    if bufferlen is None:
        size = _GET_BUFFER_SIZE
    else:
        size = max(0, _int(bufferlen, 'bufferlen'))
    stat = ffi.new('struct Stat *')
    length = ffi.new('int *')
    while True:
        buf = _new_buffer('char[]', max(1, size))
        length[0] = size
        _check(_sync(handle, lambda zh, wfn, wctx:
                     lib.zoo_wget(zh, cpath, wfn, wctx, buf, length, stat),
                     watcher, _WATCH_KEPT_DATA))
        if bufferlen is not None or stat.dataLength <= size:
            break
        # The node outgrew the buffer (a server with a larger
        # jute.maxbuffer): read it again into a buffer of its size.  The
        # watch is set already; it also reports a change between the reads.
        size, watcher = stat.dataLength, None
    data = ffi.unpack(buf, length[0]) if length[0] > 0 else b''
    return data, _stat(stat)


def _set2(handle, path, data, version):
    cpath = _cpath(path)
    value, length = _cdata(data)
    _int(version, 'version')
    stat = ffi.new('struct Stat *')
    _check(_sync(handle, lambda zh, wfn, wctx:
                 lib.zoo_set2(zh, cpath, value, length, version, stat)))
    return _stat(stat)


def set(handle, path, data, version=-1):
    """Write a node's data; returns OK (see set2 for the stat)."""
    _set2(handle, path, data, version)
    return C.OK


def set2(handle, path, data, version=-1):
    """Write a node's data; returns its new stat dict."""
    return _set2(handle, path, data, version)


def get_children(handle, path, watcher=None):
    """The names (str) of a node's children."""
    cpath = _cpath(path)
    strings = ffi.new('struct String_vector *')
    _check(_sync(handle, lambda zh, wfn, wctx:
                 lib.zoo_wget_children(zh, cpath, wfn, wctx, strings),
                 watcher, _WATCH_KEPT_DATA))
    try:
        return [_text(strings.data[i]) for i in range(strings.count)]
    finally:
        lib.deallocate_String_vector(strings)


def get_acl(handle, path):
    """(stat, acl_list) of a node, as zkpython returns them."""
    cpath = _cpath(path)
    vec = ffi.new('struct ACL_vector *')
    stat = ffi.new('struct Stat *')
    _check(_sync(handle, lambda zh, wfn, wctx:
                 lib.zoo_get_acl(zh, cpath, vec, stat)))
    try:
        return _stat(stat), _acl_list(vec)
    finally:
        lib.deallocate_ACL_vector(vec)


def set_acl(handle, path, version, acl):
    """Replace a node's ACL; returns OK."""
    cpath = _cpath(path)
    _int(version, 'version')
    vec, keep = _acl_vector(acl)
    rc = _check(_sync(handle, lambda zh, wfn, wctx:
                      lib.zoo_set_acl(zh, cpath, version, vec)))
    del keep
    return rc


# --------------------------------------------------------------------------
# Logging of the C library
# --------------------------------------------------------------------------

_log_lock = _allocate_lock()
_log_fp = None      # our FILE *, never fclose()d: C threads may be using it
_log_fd = None      # its descriptor; re-targeted with dup2()


def set_log_stream(stream):
    """Send the C library's log to a file object (None: back to stderr).

    The file's descriptor is duplicated and wrapped in a C stdio stream; a
    later call re-targets that same descriptor (dup2), so no stream is ever
    closed under the C threads and at most one descriptor is used.
    """
    global _log_fp, _log_fd
    if stream is None:
        lib.zoo_set_log_stream(NULL)
        return
    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        raise ValueError('set_log_stream needs a file object with a '
                         'file descriptor, got %r' % (stream,))
    if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
        raise ValueError('set_log_stream: %r is not open for writing'
                         % (stream,))
    try:
        stream.flush()
    except Exception:
        pass
    with _log_lock:
        if _log_fp is None:
            newfd = os.dup(fd)
            fp = libc.fdopen(newfd, b'w')
            if fp == NULL:
                err = ffi.errno
                os.close(newfd)
                raise OSError(err, 'fdopen: %s' % os.strerror(err))
            libc.setvbuf(fp, NULL, _ffi.IOLBF, 0)
            _log_fp, _log_fd = fp, newfd
        else:
            libc.fflush(_log_fp)
            os.dup2(fd, _log_fd, inheritable=False)
        lib.zoo_set_log_stream(_log_fp)


def set_debug_level(level):
    """LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO or LOG_LEVEL_DEBUG."""
    lib.zoo_set_debug_level(_int(level, 'level'))


def deterministic_conn_order(yes_or_no):
    """Connect to the servers in the order given instead of at random."""
    lib.zoo_deterministic_conn_order(1 if yes_or_no else 0)


# --------------------------------------------------------------------------
# Process life cycle
# --------------------------------------------------------------------------

def _close_all():
    """Close the handles still open at interpreter exit.

    Otherwise the C threads could call into a finalizing interpreter.
    """
    with _lock:
        ids = [hid for hid, h in _handles.items()
               if not h.closing and h.zh is not None]
    for hid in ids:
        try:
            close(hid)
        except Exception:
            pass


atexit.register(_close_all)


def _after_fork_in_child():
    # The C client's threads do not exist in the child: its handles are
    # unusable there (and zookeeper_close would wait for those threads).
    # Forget them without freeing; calls on them raise ZooKeeperException.
    global _lock
    _lock = _allocate_lock()
    _handles.clear()
    _contexts.clear()


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_after_fork_in_child)

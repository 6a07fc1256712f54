"""zookeeper: the ZooKeeper C client for Python 3, with zkpython's API.

A cffi (ABI mode) binding of ``libzookeeper_mt.so.2`` (Debian/Ubuntu package
``libzookeeper-mt2``, C client 3.8).  Importing raises ImportError when the
library cannot be loaded.  Functions are module level and take the integer
handle returned by ``init``, like zkpython (``import zookeeper``).

Sessions
    ``init(host, watcher=None, recv_timeout=10000, client_id=None)`` -> handle
    ``init_ssl(host, cert_str, watcher=None, recv_timeout=10000,
    client_id=None)`` -> handle, only where the C library was built with
    OpenSSL (as in zkpython; Debian 12's is not): test
    ``hasattr(zookeeper, 'init_ssl')``.
    ``close(handle)``, ``state(handle)``, ``client_id(handle)`` ->
    (session_id, passwd_bytes), ``recv_timeout(handle)`` (negotiated, in ms),
    ``is_unrecoverable(handle)``, ``set_watcher(handle, watcher)``,
    ``add_auth(handle, scheme, cert, completion=None)``, ``zerror(rc)``.

    The session watcher ``watcher(handle, type, state, path)`` is called for
    every state change of the session for as long as the handle is open.

Asynchronous calls (return OK, or raise when the C client refuses the call)
    ``acreate(handle, path, data, acl, flags=0, completion=None)``
        completion(handle, rc, created_path)
    ``adelete(handle, path, version=-1, completion=None)``
        completion(handle, rc)
    ``aexists(handle, path, watcher=None, completion=None)``
        completion(handle, rc, stat_or_None)
    ``aget(handle, path, watcher=None, completion=None)``
        completion(handle, rc, data_or_None, stat_or_None)
    ``aset(handle, path, data, version=-1, completion=None)``
        completion(handle, rc, stat_or_None)
    ``aget_children(handle, path, watcher=None, completion=None)``
        completion(handle, rc, list_of_str)
    ``aget_acl(handle, path, completion=None)``
        completion(handle, rc, acl_list, stat)
    ``aset_acl(handle, path, version, acl, completion=None)``
        completion(handle, rc)
    ``async_(handle, path, completion=None)`` (zkpython's ``async``)
        completion(handle, rc, path)

Synchronous calls (raise the mapped exception on error)
    ``create(handle, path, data, acl, flags=0)`` -> created path,
    ``delete(handle, path, version=-1)`` -> OK,
    ``exists(handle, path, watcher=None)`` -> stat or None,
    ``get(handle, path, watcher=None, bufferlen=None)`` -> (data, stat),
    ``set(handle, path, data, version=-1)`` -> OK, ``set2(...)`` -> stat,
    ``get_children(handle, path, watcher=None)`` -> [str],
    ``get_acl(handle, path)`` -> (stat, acl),
    ``set_acl(handle, path, version, acl)`` -> OK.
    They are the C client's synchronous calls (zoo_create, zoo_wget, ...),
    made with the GIL released; their replies never wait for a callback.
    They block the calling OS thread (under eventlet: the whole hub); green
    code should use the a* calls.

Logging of the C library
    ``set_log_stream(fileobj)`` (None: stderr), ``set_debug_level(level)``
    with LOG_LEVEL_ERROR/WARN/INFO/DEBUG, ``deterministic_conn_order(bool)``.

Values
    Paths and ACL fields are str.  Node data is given as bytes or str (sent
    as UTF-8) and always read back as bytes; None creates a node without
    data, read back as b''.  An ACL is a list of dicts {"perms": int,
    "scheme": str, "id": str}; ``ZOO_OPEN_ACL_UNSAFE`` is the world:anyone
    entry.  A stat is a
    dict with keys czxid, mzxid, ctime, mtime, version, cversion, aversion,
    ephemeralOwner, dataLength, numChildren, pzxid.

Watchers and callbacks
    Node watchers ``watcher(handle, type, state, path)`` fire once for their
    node event; while pending they also see the session's SESSION_EVENTs
    (as with the C client and zkpython).  Callbacks run on the C client's
    completion thread (while ``close`` runs: on the closing thread; the
    completion of ``add_auth``: on its I/O thread).  What a callback raises
    is logged on the "zookeeper" logger.  Callbacks may call the
    synchronous functions and ``close``, except an add_auth completion
    (ZooKeeperException there: its thread handles the replies).
    ``close`` calls pending completions with CLOSING and nothing afterwards;
    it first waits for synchronous calls in flight in other threads; it can
    take a few seconds when the server does not answer (the C client waits
    for its close request to be sent and acknowledged).
    A handle must not cross a fork(): open sessions in the process that uses
    them (in a child, inherited handles are forgotten).

Errors
    ``ZooKeeperException`` and one subclass per return code
    (``NoNodeException``, ``NodeExistsException``, ``BadVersionException``,
    ...; see ``zookeeper.exceptions.ERROR_CLASSES``); each has ``code``.
"""

from zookeeper import _ffi  # noqa: F401  (raises ImportError without the lib)
from zookeeper.constants import *  # noqa: F401,F403
from zookeeper.constants import ZOO_OPEN_ACL_UNSAFE  # noqa: F401
from zookeeper.exceptions import *  # noqa: F401,F403
from zookeeper.exceptions import (  # noqa: F401
    ZooKeeperException, ERROR_CLASSES, EXCEPTION_NAMES, err_to_exception)
from zookeeper import exceptions as _exceptions
from zookeeper import _client
from zookeeper._client import (  # noqa: F401
    init, close, state, client_id, recv_timeout, is_unrecoverable,
    set_watcher, zerror, add_auth,
    acreate, adelete, aexists, aget, aset, aget_children, async_,
    aget_acl, aset_acl, aexists_many,
    create, delete, exists, get, set, set2, get_children, get_acl, set_acl,
    set_log_stream, set_debug_level, deterministic_conn_order)

if hasattr(_client, 'init_ssl'):
    init_ssl = _client.init_ssl
if _ffi.zoo_set_servers_resolution_delay is not None:
    set_servers_resolution_delay = _client.set_servers_resolution_delay
    #: What init sets (a per-handle setting: change it with the function).
    RESOLUTION_DELAY_MS = _client.RESOLUTION_DELAY_MS

__version__ = '0.1.0'

#: The shared library that was loaded.
LIBRARY = _ffi.LIBRARY_NAME

# zkpython's name for async_ ("async" is a keyword since Python 3.7).
globals()['async'] = async_

# Every exception class by its zkpython name (the star import above only
# brings the names listed in exceptions.__all__, if any).
for _name in EXCEPTION_NAMES:
    globals()[_name] = getattr(_exceptions, _name)
del _name

# "from zookeeper import *" brings everything public except the submodules
# and ``set``, which would shadow the builtin (use zookeeper.set).
__all__ = sorted(_n for _n in globals()
                 if not _n.startswith('_') and
                 _n not in ('constants', 'exceptions', 'set', 'async'))

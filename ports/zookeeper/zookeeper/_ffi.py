"""cffi declarations for the ZooKeeper C client (libzookeeper_mt, 3.8 ABI).

ABI mode: nothing is compiled.  The declarations (_cdef.py) are written
from the 3.8 headers (zookeeper.h, zookeeper.jute.h, recordio.h) and list
only what the binding uses.  Struct layouts must match those headers byte
for byte:

* ``clientid_t``         int64_t client_id; char passwd[16]
* ``struct Id``          char *scheme; char *id
* ``struct ACL``         int32_t perms; struct Id id
* ``struct ACL_vector``  int32_t count; struct ACL *data
* ``struct String_vector`` int32_t count; char **data
* ``struct Stat``        the 11 fields, in header order

The library is the multi-threaded client (``_mt``): it runs its own I/O and
completion threads, which is what lets callbacks arrive while Python code
is busy.  The single-threaded ``libzookeeper_st`` would not work here.

Set ``ZOOKEEPER_C_LIBRARY`` to a path to load another build of the library.
"""

import importlib
import os

try:
    import cffi
except ImportError as exc:  # pragma: no cover - cffi is install_requires
    raise ImportError('the zookeeper binding needs cffi (pip install cffi): '
                      '%s' % exc)

from zookeeper import _cdef
from zookeeper._cdef import CDEF, LIBC_CDEF  # noqa: F401

#: Names tried in order; the first is the soname of Debian's libzookeeper-mt2.
LIBRARY_NAMES = ('libzookeeper_mt.so.2', 'libzookeeper_mt.so')

#: Functions that must be present (checked at import time).
REQUIRED_SYMBOLS = (
    'zookeeper_init', 'zookeeper_close', 'zoo_client_id', 'zoo_recv_timeout',
    'zoo_state', 'is_unrecoverable', 'zerror', 'zoo_acreate', 'zoo_adelete',
    'zoo_awexists', 'zoo_awget', 'zoo_aset', 'zoo_awget_children',
    'zoo_async', 'zoo_aget_acl', 'zoo_aset_acl', 'zoo_add_auth',
    'zoo_set_debug_level', 'zoo_set_log_stream',
    'zoo_deterministic_conn_order', 'zoo_get_current_server',
    'zoo_create', 'zoo_delete', 'zoo_wexists', 'zoo_wget', 'zoo_set2',
    'zoo_wget_children', 'zoo_get_acl', 'zoo_set_acl',
    'deallocate_String_vector', 'deallocate_ACL_vector',
)

#: Functions that only some builds export; None here when absent.
OPTIONAL_SYMBOLS = ('zookeeper_init_ssl',
                    'zoo_set_servers_resolution_delay')

INSTALL_HINT = ('install the ZooKeeper C client library: on Debian/Ubuntu '
                '"apt-get install libzookeeper-mt2" (package libzookeeper-mt2 '
                'provides libzookeeper_mt.so.2)')


def _declarations():
    """The declarations compiled at install time (see _cdef.py), or parsed
    now where they were not (an editable checkout, a changed cdef)."""
    try:
        return importlib.import_module('zookeeper.' + _cdef.MODULE).ffi, True
    except Exception:  # absent, or written by an incompatible cffi
        parsed = cffi.FFI()
        parsed.cdef(CDEF)
        parsed.cdef(LIBC_CDEF)
        return parsed, False


#: COMPILED: whether the install-time declarations were found.
ffi, COMPILED = _declarations()

#: What a missing symbol raises: AttributeError from parsed declarations,
#: ffi.error from compiled ones.
_NO_SYMBOL = (AttributeError, getattr(ffi, 'error', AttributeError))


def _load():
    names = []
    override = os.environ.get('ZOOKEEPER_C_LIBRARY')
    if override:
        names.append(override)
    names.extend(LIBRARY_NAMES)
    errors = []
    for name in names:
        try:
            lib = ffi.dlopen(name)
        except OSError as exc:
            errors.append('%s: %s' % (name, exc))
            continue
        missing = []
        for symbol in REQUIRED_SYMBOLS:
            try:
                getattr(lib, symbol)
            except _NO_SYMBOL:
                missing.append(symbol)
        if missing:
            errors.append('%s lacks %s' % (name, ', '.join(missing)))
            continue
        return name, lib
    raise ImportError('cannot load the ZooKeeper C client library (%s); %s'
                      % ('; '.join(errors), INSTALL_HINT))


class _Symbols(object):
    """A loaded library, seen through attribute access only.

    The compiled declarations' library object loads every declared symbol
    when its ``__dict__`` is read, and fails on the first one the library
    lacks (zookeeper_init_ssl in a build without OpenSSL; every zoo_*
    symbol in libc, which shares the declarations).  eventlet.monkey_patch()
    reads ``vars()`` of whatever the modules hold: without ``__dict__``
    (slots) this object is skipped.
    """

    __slots__ = ('_lib',)

    def __init__(self, lib):
        self._lib = lib

    def __getattr__(self, name):
        return getattr(self._lib, name)

    def __dir__(self):
        return dir(self._lib)


LIBRARY_NAME, lib = _load()
lib = _Symbols(lib)


def _optional(name):
    try:
        return getattr(lib, name)
    except _NO_SYMBOL:
        return None


#: zookeeper_init_ssl, or None when the library was built without OpenSSL.
zookeeper_init_ssl = _optional('zookeeper_init_ssl')

#: zoo_set_servers_resolution_delay, or None before ZooKeeper 3.6.
zoo_set_servers_resolution_delay = _optional(
    'zoo_set_servers_resolution_delay')

#: The C library of the process (fdopen, fflush, setvbuf for set_log_stream).
libc = _Symbols(ffi.dlopen(None))

#: glibc's value for setvbuf's line-buffered mode.
IOLBF = 1

#: What the binding takes from libc (the cdef is shared with the client's).
LIBC_FUNCTIONS = ('fdopen', 'fflush', 'setvbuf', 'usleep')

#: Every type string the binding hands to ffi.cast/ffi.new.
TYPES_USED = ('void *', 'uintptr_t', 'char[]', 'int *', 'struct ACL[]',
              'struct ACL_vector *', 'struct Stat *',
              'struct String_vector *', 'clientid_t *')


def _resolve_everything():
    """Parse every type and resolve every library name now, at import.

    cffi does both lazily, under its own lock, the first time a name or a
    type string is used.  After eventlet.monkey_patch() that lock is a
    green lock, and the first use may come from a C client thread (a
    completion) or a helper thread (zookeeper_init): if the hub's thread
    holds the lock then, that thread parks in an eventlet hub of its own
    and its session never delivers another event.  Done here, in the
    importing thread, every later use is a lock-free cache hit.
    """
    for cdecl in TYPES_USED:
        ffi.typeof(cdecl)
    for name in dir(lib):
        if name not in OPTIONAL_SYMBOLS:
            getattr(lib, name)
    for name in LIBC_FUNCTIONS:
        getattr(libc, name)


_resolve_everything()

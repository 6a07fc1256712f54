"""cffi declarations for the ZooKeeper C client (libzookeeper_mt, 3.8 ABI).

ABI mode: nothing is compiled.  The declarations below are written from the
3.8 headers (zookeeper.h, zookeeper.jute.h, recordio.h) and list only what
the binding uses.  Struct layouts must match those headers byte for byte:

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

import os

try:
    import cffi
except ImportError as exc:  # pragma: no cover - cffi is install_requires
    raise ImportError('the zookeeper binding needs cffi (pip install cffi): '
                      '%s' % exc)

CDEF = r"""
/* recordio.h / zookeeper.jute.h */
struct buffer {
    int32_t len;
    char *buff;
};
struct Id {
    char *scheme;
    char *id;
};
struct ACL {
    int32_t perms;
    struct Id id;
};
struct Stat {
    int64_t czxid;
    int64_t mzxid;
    int64_t ctime;
    int64_t mtime;
    int32_t version;
    int32_t cversion;
    int32_t aversion;
    int64_t ephemeralOwner;
    int32_t dataLength;
    int32_t numChildren;
    int64_t pzxid;
};
struct String_vector {
    int32_t count;
    char **data;
};
struct ACL_vector {
    int32_t count;
    struct ACL *data;
};

/* zookeeper.h.  The header's ZOO_* "extern const int" are declared here
   without "const": cffi then reads the variables from the library (in ABI
   mode it refuses to read "const" data). */
enum ZOO_ERRORS {
    ZOK = 0,
    ZSYSTEMERROR = -1,
    ZRUNTIMEINCONSISTENCY = -2,
    ZDATAINCONSISTENCY = -3,
    ZCONNECTIONLOSS = -4,
    ZMARSHALLINGERROR = -5,
    ZUNIMPLEMENTED = -6,
    ZOPERATIONTIMEOUT = -7,
    ZBADARGUMENTS = -8,
    ZINVALIDSTATE = -9,
    ZNEWCONFIGNOQUORUM = -13,
    ZRECONFIGINPROGRESS = -14,
    ZSSLCONNECTIONERROR = -15,
    ZAPIERROR = -100,
    ZNONODE = -101,
    ZNOAUTH = -102,
    ZBADVERSION = -103,
    ZNOCHILDRENFOREPHEMERALS = -108,
    ZNODEEXISTS = -110,
    ZNOTEMPTY = -111,
    ZSESSIONEXPIRED = -112,
    ZINVALIDCALLBACK = -113,
    ZINVALIDACL = -114,
    ZAUTHFAILED = -115,
    ZCLOSING = -116,
    ZNOTHING = -117,
    ZSESSIONMOVED = -118,
    ZNOTREADONLY = -119,
    ZEPHEMERALONLOCALSESSION = -120,
    ZNOWATCHER = -121,
    ZRECONFIGDISABLED = -123,
    ZSESSIONCLOSEDREQUIRESASLAUTH = -124,
    ZTHROTTLEDOP = -127
};

typedef enum {
    ZOO_LOG_LEVEL_ERROR = 1,
    ZOO_LOG_LEVEL_WARN = 2,
    ZOO_LOG_LEVEL_INFO = 3,
    ZOO_LOG_LEVEL_DEBUG = 4
} ZooLogLevel;

extern int ZOO_PERM_READ;
extern int ZOO_PERM_WRITE;
extern int ZOO_PERM_CREATE;
extern int ZOO_PERM_DELETE;
extern int ZOO_PERM_ADMIN;
extern int ZOO_PERM_ALL;

extern int ZOO_PERSISTENT;
extern int ZOO_EPHEMERAL;
extern int ZOO_PERSISTENT_SEQUENTIAL;
extern int ZOO_EPHEMERAL_SEQUENTIAL;
extern int ZOO_CONTAINER;
extern int ZOO_SEQUENCE;

extern int ZOO_EXPIRED_SESSION_STATE;
extern int ZOO_AUTH_FAILED_STATE;
extern int ZOO_CONNECTING_STATE;
extern int ZOO_ASSOCIATING_STATE;
extern int ZOO_CONNECTED_STATE;
extern int ZOO_READONLY_STATE;
extern int ZOO_NOTCONNECTED_STATE;

extern int ZOO_CREATED_EVENT;
extern int ZOO_DELETED_EVENT;
extern int ZOO_CHANGED_EVENT;
extern int ZOO_CHILD_EVENT;
extern int ZOO_SESSION_EVENT;
extern int ZOO_NOTWATCHING_EVENT;

typedef struct _zhandle zhandle_t;

typedef struct {
    int64_t client_id;
    char passwd[16];
} clientid_t;

typedef void (*watcher_fn)(zhandle_t *zh, int type, int state,
                           const char *path, void *watcherCtx);
typedef void (*void_completion_t)(int rc, const void *data);
typedef void (*stat_completion_t)(int rc, const struct Stat *stat,
                                  const void *data);
typedef void (*data_completion_t)(int rc, const char *value, int value_len,
                                  const struct Stat *stat, const void *data);
typedef void (*strings_completion_t)(int rc,
                                     const struct String_vector *strings,
                                     const void *data);
typedef void (*string_completion_t)(int rc, const char *value,
                                    const void *data);
typedef void (*acl_completion_t)(int rc, struct ACL_vector *acl,
                                 struct Stat *stat, const void *data);

zhandle_t *zookeeper_init(const char *host, watcher_fn fn, int recv_timeout,
                          const clientid_t *clientid, void *context,
                          int flags);
int zookeeper_close(zhandle_t *zh);
const clientid_t *zoo_client_id(zhandle_t *zh);
int zoo_recv_timeout(zhandle_t *zh);
int zoo_state(zhandle_t *zh);
int is_unrecoverable(zhandle_t *zh);
const char *zoo_get_current_server(zhandle_t *zh);
const char *zerror(int c);

int zoo_acreate(zhandle_t *zh, const char *path, const char *value,
                int valuelen, const struct ACL_vector *acl, int mode,
                string_completion_t completion, const void *data);
int zoo_adelete(zhandle_t *zh, const char *path, int version,
                void_completion_t completion, const void *data);
int zoo_awexists(zhandle_t *zh, const char *path,
                 watcher_fn watcher, void *watcherCtx,
                 stat_completion_t completion, const void *data);
int zoo_awget(zhandle_t *zh, const char *path,
              watcher_fn watcher, void *watcherCtx,
              data_completion_t completion, const void *data);
int zoo_aset(zhandle_t *zh, const char *path, const char *buffer, int buflen,
             int version, stat_completion_t completion, const void *data);
int zoo_awget_children(zhandle_t *zh, const char *path,
                       watcher_fn watcher, void *watcherCtx,
                       strings_completion_t completion, const void *data);
int zoo_async(zhandle_t *zh, const char *path,
              string_completion_t completion, const void *data);
int zoo_aget_acl(zhandle_t *zh, const char *path,
                 acl_completion_t completion, const void *data);
int zoo_aset_acl(zhandle_t *zh, const char *path, int version,
                 struct ACL_vector *acl, void_completion_t completion,
                 const void *data);
int zoo_add_auth(zhandle_t *zh, const char *scheme, const char *cert,
                 int certLen, void_completion_t completion, const void *data);

int zoo_create(zhandle_t *zh, const char *path, const char *value,
               int valuelen, const struct ACL_vector *acl, int mode,
               char *path_buffer, int path_buffer_len);
int zoo_delete(zhandle_t *zh, const char *path, int version);
int zoo_wexists(zhandle_t *zh, const char *path, watcher_fn watcher,
                void *watcherCtx, struct Stat *stat);
int zoo_wget(zhandle_t *zh, const char *path, watcher_fn watcher,
             void *watcherCtx, char *buffer, int *buffer_len,
             struct Stat *stat);
int zoo_set2(zhandle_t *zh, const char *path, const char *buffer, int buflen,
             int version, struct Stat *stat);
int zoo_wget_children(zhandle_t *zh, const char *path, watcher_fn watcher,
                      void *watcherCtx, struct String_vector *strings);
int zoo_get_acl(zhandle_t *zh, const char *path, struct ACL_vector *acl,
                struct Stat *stat);
int zoo_set_acl(zhandle_t *zh, const char *path, int version,
                const struct ACL_vector *acl);
int deallocate_String_vector(struct String_vector *v);
int deallocate_ACL_vector(struct ACL_vector *v);

/* Only in builds with OpenSSL (not Debian 12's): see OPTIONAL_SYMBOLS. */
zhandle_t *zookeeper_init_ssl(const char *host, const char *cert,
                              watcher_fn fn, int recv_timeout,
                              const clientid_t *clientid, void *context,
                              int flags);

void zoo_set_debug_level(ZooLogLevel logLevel);
void zoo_set_log_stream(FILE *logStream);
void zoo_deterministic_conn_order(int yesOrNo);
"""

LIBC_CDEF = r"""
FILE *fdopen(int fd, const char *mode);
int fflush(FILE *stream);
int setvbuf(FILE *stream, char *buf, int mode, size_t size);
int usleep(unsigned int usec);
"""

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
OPTIONAL_SYMBOLS = ('zookeeper_init_ssl',)

INSTALL_HINT = ('install the ZooKeeper C client library: on Debian/Ubuntu '
                '"apt-get install libzookeeper-mt2" (package libzookeeper-mt2 '
                'provides libzookeeper_mt.so.2)')

ffi = cffi.FFI()
ffi.cdef(CDEF)
ffi.cdef(LIBC_CDEF)


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
            except AttributeError:
                missing.append(symbol)
        if missing:
            errors.append('%s lacks %s' % (name, ', '.join(missing)))
            continue
        return name, lib
    raise ImportError('cannot load the ZooKeeper C client library (%s); %s'
                      % ('; '.join(errors), INSTALL_HINT))


LIBRARY_NAME, lib = _load()


def _optional(name):
    try:
        return getattr(lib, name)
    except AttributeError:
        return None


#: zookeeper_init_ssl, or None when the library was built without OpenSSL.
zookeeper_init_ssl = _optional('zookeeper_init_ssl')

#: The C library of the process (fdopen, fflush, setvbuf for set_log_stream).
libc = ffi.dlopen(None)

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

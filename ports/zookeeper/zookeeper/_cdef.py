"""The C declarations of the binding, and the build of their compiled form.

The declarations are written from the ZooKeeper C client's 3.8 headers
(zookeeper.h, zookeeper.jute.h, recordio.h) and list only what the binding
uses; see _ffi.py for the struct layouts they must match.

Parsing them (pycparser) is most of what ``import zookeeper`` would cost.
At install time, setup.py (``cffi_modules``) runs this file to write
``zookeeper/_abi_<digest>.py``: the same declarations, parsed once and
serialized (cffi's out-of-line ABI mode; still nothing is compiled and no
compiler is needed).  _ffi.py imports it when it matches these
declarations (the digest) and parses them itself otherwise, so that an
editable checkout whose declarations changed keeps working.

This file is executed by cffi as a script: it imports nothing of the
package.
"""

import hashlib
import os

import _cffi_backend

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

/* ZooKeeper >= 3.6: see OPTIONAL_SYMBOLS. */
int zoo_set_servers_resolution_delay(zhandle_t *zh, int delay_ms);

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

#: Names the compiled declarations: a changed cdef, or another cffi (the
#: venvs of several Pythons may share one editable checkout), is another
#: module.
DIGEST = hashlib.sha1((CDEF + LIBC_CDEF + _cffi_backend.__version__).encode(
    'utf-8')).hexdigest()[:12]
MODULE = '_abi_' + DIGEST


def _builder():
    import cffi
    builder = cffi.FFI()
    builder.cdef(CDEF)
    builder.cdef(LIBC_CDEF)
    builder.set_source('zookeeper.' + MODULE, None)
    return builder


if __name__ != 'zookeeper._cdef':
    # run as a script (by cffi_modules or by hand), not imported: only then
    # is the parse worth it
    ffibuilder = _builder()


if __name__ == '__main__':
    # For a checkout used in place (pip install -e): write the module next
    # to this file.
    here = os.path.dirname(os.path.abspath(__file__))
    ffibuilder.compile(tmpdir=os.path.dirname(here))

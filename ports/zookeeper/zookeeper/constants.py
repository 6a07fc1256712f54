"""Constants of the ZooKeeper C client 3.8, under zkpython's names.

The values are those of zookeeper.h 3.8.  They are plain literals so that
this module imports without the C library; the test suite checks them
against the values exported by the loaded libzookeeper_mt.
"""

# -- return codes (enum ZOO_ERRORS) -------------------------------------------
OK = 0
SYSTEMERROR = -1
RUNTIMEINCONSISTENCY = -2
DATAINCONSISTENCY = -3
CONNECTIONLOSS = -4
MARSHALLINGERROR = -5
UNIMPLEMENTED = -6
OPERATIONTIMEOUT = -7
BADARGUMENTS = -8
INVALIDSTATE = -9
NEWCONFIGNOQUORUM = -13
RECONFIGINPROGRESS = -14
SSLCONNECTIONERROR = -15
APIERROR = -100
NONODE = -101
NOAUTH = -102
BADVERSION = -103
NOCHILDRENFOREPHEMERALS = -108
NODEEXISTS = -110
NOTEMPTY = -111
SESSIONEXPIRED = -112
INVALIDCALLBACK = -113
INVALIDACL = -114
AUTHFAILED = -115
CLOSING = -116
NOTHING = -117
SESSIONMOVED = -118
NOTREADONLY = -119
EPHEMERALONLOCALSESSION = -120
NOWATCHER = -121
RECONFIGDISABLED = -123
SESSIONCLOSEDREQUIRESASLAUTH = -124
THROTTLEDOP = -127

# -- ACL permissions ----------------------------------------------------------
PERM_READ = 1
PERM_WRITE = 2
PERM_CREATE = 4
PERM_DELETE = 8
PERM_ADMIN = 16
PERM_ALL = 31

# -- create flags -------------------------------------------------------------
PERSISTENT = 0
EPHEMERAL = 1
SEQUENCE = 2
PERSISTENT_SEQUENTIAL = 2
EPHEMERAL_SEQUENTIAL = 3
CONTAINER = 4

# -- session states -----------------------------------------------------------
EXPIRED_SESSION_STATE = -112
AUTH_FAILED_STATE = -113
CONNECTING_STATE = 1
ASSOCIATING_STATE = 2
CONNECTED_STATE = 3
READONLY_STATE = 5
NOTCONNECTED_STATE = 999

# -- watch event types --------------------------------------------------------
CREATED_EVENT = 1
DELETED_EVENT = 2
CHANGED_EVENT = 3
CHILD_EVENT = 4
SESSION_EVENT = -1
NOTWATCHING_EVENT = -2

# -- log levels (ZooLogLevel) -------------------------------------------------
LOG_LEVEL_ERROR = 1
LOG_LEVEL_WARN = 2
LOG_LEVEL_INFO = 3
LOG_LEVEL_DEBUG = 4

# -- convenience --------------------------------------------------------------
#: The world:anyone ACL entry with all permissions (zookeeper.h's
#: ZOO_OPEN_ACL_UNSAFE has exactly this one entry).  Pass it inside a list:
#: ``create(h, path, data, [ZOO_OPEN_ACL_UNSAFE])``.
ZOO_OPEN_ACL_UNSAFE = {'perms': PERM_ALL, 'scheme': 'world', 'id': 'anyone'}

#: Names for log messages and error texts.
STATE_NAMES = {
    EXPIRED_SESSION_STATE: 'EXPIRED_SESSION_STATE',
    AUTH_FAILED_STATE: 'AUTH_FAILED_STATE',
    CONNECTING_STATE: 'CONNECTING_STATE',
    ASSOCIATING_STATE: 'ASSOCIATING_STATE',
    CONNECTED_STATE: 'CONNECTED_STATE',
    READONLY_STATE: 'READONLY_STATE',
    NOTCONNECTED_STATE: 'NOTCONNECTED_STATE',
    0: 'CLOSED_STATE',
}

EVENT_NAMES = {
    CREATED_EVENT: 'CREATED_EVENT',
    DELETED_EVENT: 'DELETED_EVENT',
    CHANGED_EVENT: 'CHANGED_EVENT',
    CHILD_EVENT: 'CHILD_EVENT',
    SESSION_EVENT: 'SESSION_EVENT',
    NOTWATCHING_EVENT: 'NOTWATCHING_EVENT',
}

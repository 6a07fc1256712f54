"""Exceptions of the zookeeper binding: one class per C client error code.

All derive from ``ZooKeeperException``.  The classes carry zkpython's names
(``NoNodeException``, ``NodeExistsException``, ...), and each has a ``code``
attribute, the ZooKeeper return code it stands for.  ``ERROR_CLASSES`` is
the single table mapping codes to classes; ``exception_for(rc)`` builds the
exception the binding raises for a failed call.
"""

from zookeeper import constants as _c


class ZooKeeperException(Exception):
    """Base class of every error raised by the zookeeper module.

    Raised as such for errors without a code of their own, e.g. an operation
    on a handle that was closed.  ``code`` is the ZooKeeper return code, or
    None when the error did not come from the C client.
    """

    code = None

    def __init__(self, message=None, code=None):
        if code is not None:
            self.code = code
        if message is None:
            message = _DEFAULT_MESSAGES.get(self.code, 'zookeeper error')
        super(ZooKeeperException, self).__init__(message)


# Shown (and pickled) as zookeeper.NoNodeException etc., as in zkpython; the
# package re-exports every class.
ZooKeeperException.__module__ = 'zookeeper'


def _define(name, code, doc):
    cls = type(name, (ZooKeeperException,), {'code': code, '__doc__': doc,
                                             '__module__': 'zookeeper'})
    globals()[name] = cls
    return cls


# (class name, return code, description).  zkpython's 23 classes come first,
# then the codes that appeared in later C clients (3.5 - 3.8).
_TABLE = (
    ('SystemErrorException', _c.SYSTEMERROR, 'system error'),
    ('RuntimeInconsistencyException', _c.RUNTIMEINCONSISTENCY,
     'run time inconsistency'),
    ('DataInconsistencyException', _c.DATAINCONSISTENCY,
     'data inconsistency'),
    ('ConnectionLossException', _c.CONNECTIONLOSS, 'connection loss'),
    ('MarshallingErrorException', _c.MARSHALLINGERROR, 'marshalling error'),
    ('UnimplementedException', _c.UNIMPLEMENTED, 'unimplemented'),
    ('OperationTimeoutException', _c.OPERATIONTIMEOUT, 'operation timeout'),
    ('BadArgumentsException', _c.BADARGUMENTS, 'bad arguments'),
    ('InvalidStateException', _c.INVALIDSTATE, 'invalid zhandle state'),
    ('ApiErrorException', _c.APIERROR, 'api error'),
    ('NoNodeException', _c.NONODE, 'no node'),
    ('NoAuthException', _c.NOAUTH, 'not authenticated'),
    ('BadVersionException', _c.BADVERSION, 'bad version'),
    ('NoChildrenForEphemeralsException', _c.NOCHILDRENFOREPHEMERALS,
     'no children for ephemerals'),
    ('NodeExistsException', _c.NODEEXISTS, 'node exists'),
    ('NotEmptyException', _c.NOTEMPTY, 'not empty'),
    ('SessionExpiredException', _c.SESSIONEXPIRED, 'session expired'),
    ('InvalidCallbackException', _c.INVALIDCALLBACK, 'invalid callback'),
    ('InvalidACLException', _c.INVALIDACL, 'invalid acl'),
    ('AuthFailedException', _c.AUTHFAILED, 'authentication failed'),
    ('ClosingException', _c.CLOSING, 'zookeeper is closing'),
    ('NothingException', _c.NOTHING,
     '(not error) no server responses to process'),
    ('SessionMovedException', _c.SESSIONMOVED, 'session moved to another '
     'server, so operation is ignored'),
    # Newer codes (no zkpython class existed for them).
    ('NewConfigNoQuorumException', _c.NEWCONFIGNOQUORUM,
     'no quorum of new config is connected and up-to-date with the leader '
     'of last committed config'),
    ('ReconfigInProgressException', _c.RECONFIGINPROGRESS,
     'another reconfiguration is in progress'),
    ('SSLConnectionErrorException', _c.SSLCONNECTIONERROR,
     'SSL connection error'),
    ('NotReadOnlyException', _c.NOTREADONLY,
     'state-changing request is passed to read-only server'),
    ('EphemeralOnLocalSessionException', _c.EPHEMERALONLOCALSESSION,
     'attempt to create ephemeral node on a local session'),
    ('NoWatcherException', _c.NOWATCHER,
     'the watcher couldn\'t be found'),
    ('ReconfigDisabledException', _c.RECONFIGDISABLED,
     'reconfiguration is disabled'),
    ('SessionClosedRequireSaslAuthException',
     _c.SESSIONCLOSEDREQUIRESASLAUTH,
     'the session was closed: the server requires SASL authentication'),
    ('ThrottledOpException', _c.THROTTLEDOP,
     'operation was throttled due to high load'),
)

_DEFAULT_MESSAGES = dict((code, text) for _n, code, text in _TABLE)

#: The one mapping from return code to exception class.
ERROR_CLASSES = dict((code, _define(name, code, text.capitalize() + '.'))
                     for name, code, text in _TABLE)

#: The names of all exception classes, base class first.
EXCEPTION_NAMES = ('ZooKeeperException',) + tuple(n for n, _c2, _t in _TABLE)


def err_to_exception(rc):
    """The exception class for return code ``rc`` (None for OK).

    Codes without a class of their own map to ZooKeeperException.
    """
    if rc == _c.OK:
        return None
    return ERROR_CLASSES.get(rc, ZooKeeperException)


def exception_for(rc, message=None):
    """An exception instance for the failed return code ``rc``."""
    cls = err_to_exception(rc)
    if cls is None:
        raise ValueError('return code %r is not an error' % (rc,))
    if message is None:
        message = _DEFAULT_MESSAGES.get(rc, 'zookeeper error %d' % rc)
    return cls(message, code=rc)

# vim: tabstop=4 shiftwidth=4 softtabstop=4

# Copyright (c) AT&T 2012-2013 Yun Mao <yunmao@gmail.com>
# Copyright 2012 IBM Corp.
#
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

"""The ZooKeeper ServiceGroup driver.

A worker holds a ZooKeeper session and the ephemeral znode
``<sg_prefix>/<topic>/<host>``; ZooKeeper deletes the node when the session
ends, so a crashed or cut-off worker drops out within the session timeout.
Readers keep a watched list of the children of ``<sg_prefix>/<topic>``, so
``service_is_up`` is a lookup in memory.

This file is a drop-in for a Grizzly (2013.1) checkout: it uses only what
Grizzly's nova offers, and the ``zookeeper`` / ``evzookeeper`` APIs of
zkpython and evzookeeper 0.4.0 (or this project's Python 3 ports of them).
"""

import atexit
import base64
import hashlib
import json
import os
import socket
import time

import eventlet
import eventlet.tpool
from eventlet import event
from eventlet import semaphore

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova import exception
from nova.openstack.common.gettextutils import _
from nova.openstack.common import importutils
from nova.openstack.common import log as logging
from nova import paths
from nova.servicegroup import api
from nova import utils

evzookeeper = importutils.try_import('evzookeeper')
membership = importutils.try_import('evzookeeper.membership')
evzookeeper_utils = importutils.try_import('evzookeeper.utils')
zookeeper = importutils.try_import('zookeeper')

zk_driver_opts = [
    cfg.StrOpt('address',
               default=None,
               help='The ZooKeeper addresses for servicegroup service in the '
                    'format of host1:port,host2:port,host3:port, optionally '
                    'followed by a chroot path (host:port/nova)'),
    cfg.IntOpt('recv_timeout',
               default=4000,
               help='recv_timeout parameter for the zk session (ms); the '
                    'server grants between 2 and 20 times its tickTime'),
    cfg.StrOpt('sg_prefix',
               default="/servicegroups",
               help='The prefix used in ZooKeeper to store ephemeral nodes'),
    cfg.IntOpt('sg_retry_interval',
               default=5,
               help='Number of seconds to wait until retrying to join the '
                    'session'),
    cfg.StrOpt('auth_digest',
               default=None,
               secret=True,
               help='user:password to authenticate to ZooKeeper with the '
                    'digest scheme. When set, the nodes under sg_prefix get '
                    'an ACL that lets only this identity create, change or '
                    'delete them. When unset, nodes get the open ACL '
                    '(world:anyone), as in Grizzly: any ZooKeeper client can '
                    'then delete or forge the liveness of any worker'),
    cfg.BoolOpt('acl_world_read',
                default=True,
                help='With auth_digest: whether clients without the '
                     'credentials may read the group membership (read only). '
                     'False: only nova\'s identity may read it'),
    cfg.StrOpt('ssl_ca_file',
               default=None,
               help='CA certificate file (PEM) to verify the ZooKeeper '
                    'servers with. Set it, ssl_cert_file and ssl_key_file to '
                    'connect over TLS (to the servers\' secureClientPort); '
                    'this needs a ZooKeeper C client built with OpenSSL '
                    '(tools/build_zk_tls.sh, ZOOKEEPER_C_LIBRARY). The C '
                    'client checks that this CA (or one of the system\'s) '
                    'signed the server certificate, not the host name: use '
                    'a private CA that signs only ZooKeeper servers'),
    cfg.StrOpt('ssl_cert_file',
               default=None,
               help='Certificate file (PEM) nova presents to ZooKeeper over '
                    'TLS; the C client always presents one, and the servers '
                    'check it against their ssl.trustStore'),
    cfg.StrOpt('ssl_key_file',
               default=None,
               help='Private key file (PEM, not encrypted) of ssl_cert_file'),
    cfg.StrOpt('members_cache_dir',
               default=paths.state_path_def('zk-members'),
               help='Where a reader keeps the last member list it verified '
                    'of each group (files only its user can read and '
                    'write), so that a new process (nova-manage service '
                    'list) reads a group of N members in three requests '
                    'instead of N + 1 while no member came or went. A list '
                    'is used only if the group\'s children have not changed '
                    'since (the same pzxid of the same group node). Empty: no '
                    'cache'),
]

CONF = cfg.CONF
CONF.register_opts(zk_driver_opts, group="zookeeper")

LOG = logging.getLogger(__name__)

# How long the first read of a group waits for the member list, as the
# original driver did.
FIRST_READ_TIMEOUT = 5.0
# How many member nodes the Grizzly path (evzookeeper 0.4.0) stats at once
# when they first appear: the C client pipelines them on one connection.
STAT_CONCURRENCY = 64
# How soon that path asks again when a stat failed (the connection went).
STAT_RETRY_INTERVAL = 1.0
POLL_INTERVAL = 0.1
# A member name is a host or a topic: a column of 255 in the services table.
MAX_NAME_LENGTH = 255
# While ZooKeeper is away, a worker says so again this often (seconds):
# often enough to show in any log window, rare enough not to flood it.
OUTAGE_LOG_INTERVAL = 60.0
# A connection lost within this many seconds of the last one reported is
# logged at debug level, and counted in the next report: a server that
# closes every connection at once (it wants credentials we lack) would
# otherwise add two warnings per C client ping, for good.
FLAP_QUIET = 60.0
# When to give up a session ZooKeeper does not take back (_give_up_after).
STUCK_SESSION_TIMEOUTS = 10
STUCK_SESSION_MIN = 60.0
# After a new session, how long the re-join may take before it is reported
# as late (the Membership re-creates its node on the CONNECTED event).
REJOIN_CHECK_TIMEOUT = 10.0


class InvalidZooKeeperConfig(exception.NovaException):
    message = _("Invalid [zookeeper] %(option)s %(value)r: %(reason)s")


class InvalidMemberName(exception.NovaException):
    message = _("ZooKeeperDriver: the %(kind)s %(name)r cannot be a member "
                "name: %(reason)s")


class DuplicateServiceMember(exception.NovaException):
    message = _("Cannot join %(host)s to the %(group)s group: %(path)s is "
                "held by another live ZooKeeper session (is another process "
                "running with host=%(host)s?)")


def parse_address(address):
    """Check ``host:port[,host:port...][/chroot]``; return (servers, chroot).

    Raises InvalidZooKeeperConfig naming the option on any malformed part,
    so that a typo fails at start instead of as endless reconnects.
    """
    def invalid(reason):
        return InvalidZooKeeperConfig(option='address', value=address,
                                      reason=reason)

    if address is None or not address.strip():
        raise invalid(_('no ZooKeeper server given; set address = '
                        'host1:port,host2:port in the [zookeeper] section'))
    hosts, sep, chroot = address.strip().partition('/')
    chroot = sep + chroot
    if chroot and (chroot == '/' or chroot.endswith('/') or '//' in chroot):
        raise invalid(_('chroot %s must look like /path, without a trailing '
                        'slash') % chroot)
    servers = []
    for entry in hosts.split(','):
        entry = entry.strip()
        host, sep, port = entry.rpartition(':')
        if not entry or not sep or not host:
            raise invalid(_('%r is not host:port') % entry)
        if host.startswith('[') and host.endswith(']'):
            host = host[1:-1]
        try:
            port_number = int(port)
        except ValueError:
            port_number = 0
        if not 0 < port_number < 65536:
            raise invalid(_('port %(port)r of %(entry)r is not a number from '
                            '1 to 65535') % {'port': port, 'entry': entry})
        if not host or ' ' in host or '/' in host:
            raise invalid(_('host %r is not a host name or address') % host)
        servers.append((host, port_number))
    return servers, chroot


def check_path(option, path):
    """An absolute znode path ZooKeeper accepts, or InvalidZooKeeperConfig."""
    def invalid(reason):
        return InvalidZooKeeperConfig(option=option, value=path,
                                      reason=reason)

    if not path.startswith('/') or (len(path) > 1 and path.endswith('/')):
        raise invalid(_('must be an absolute path without a trailing slash'))
    if path == '/':
        return
    for part in path[1:].split('/'):
        try:
            check_name('node', part)
        except InvalidMemberName as e:
            raise invalid(e.kwargs.get('reason') or _('an empty part'))


def unresolvable_hosts(servers):
    """The hosts of ``servers`` that do not resolve (now)."""
    unresolved = []
    for host, port in servers:
        try:
            socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except socket.gaierror:
            unresolved.append(host)
    return unresolved


def check_resolvable(servers, address):
    """Say which hosts of the address do not resolve.

    Only a warning: a name server that is down at start must not keep a
    worker from starting; it keeps trying, and each attempt says why.
    """
    for host in unresolvable_hosts(servers):
        LOG.warn(_('ZooKeeperDriver: cannot resolve host %(host)s of '
                   '[zookeeper] address %(address)s'),
                 {'host': host, 'address': address})


def _refused_by_zookeeper(char):
    """Whether ZooKeeper's path validation refuses this character.

    ZooKeeper (PathUtils.validatePath) refuses NUL, U+0001-U+001F,
    U+007F-U+009F, U+D800-U+F8FF and U+FFF0-U+FFFF.  It checks Java's
    UTF-16 units, so every character outside the Basic Multilingual Plane
    (an emoji, say) is refused too: it is a surrogate pair.
    """
    code = ord(char)
    return (code <= 0x1f or 0x7f <= code <= 0x9f or
            0xd800 <= code <= 0xf8ff or code >= 0xfff0)


def check_name(kind, name):
    """A topic or host becomes one znode name: refuse what cannot be one,
    exactly what ZooKeeper refuses, before anything is written anywhere.
    """
    if not name or not isinstance(name, (type(u''), type(''))):
        raise InvalidMemberName(
            kind=kind, name=name, reason=_('it must be a non-empty string'))
    try:
        text = _text(name)
    except UnicodeDecodeError:
        raise InvalidMemberName(kind=kind, name=name,
                                reason=_('it is not UTF-8'))
    if u'/' in text or text in (u'.', u'..'):
        raise InvalidMemberName(
            kind=kind, name=name,
            reason=_('a znode name cannot contain "/" or be "." or ".."'))
    refused = [c for c in text if _refused_by_zookeeper(c)]
    if refused:
        raise InvalidMemberName(
            kind=kind, name=name,
            reason=_('ZooKeeper refuses the character %s in a path')
            % ', '.join('U+%04X' % ord(c) for c in refused[:3]))
    if len(text) > MAX_NAME_LENGTH:
        raise InvalidMemberName(
            kind=kind, name=text[:20] + u'...',
            reason=_('it is %(n)d characters long; at most %(max)d fit the '
                     'services table') % {'n': len(text),
                                          'max': MAX_NAME_LENGTH})


def _text(name):
    """A znode name as text; on Python 2 zkpython returns UTF-8 bytes."""
    if isinstance(name, bytes) and bytes is str:
        return name.decode('utf-8')
    return name


def _znode(path):
    """A path as the C binding takes it.

    zkpython (Python 2) parses paths with the "s" format, which encodes
    unicode as ASCII: UTF-8 bytes pass any name.  Python 3: unchanged.
    """
    if bytes is str and isinstance(path, type(u'')):
        return path.encode('utf-8')
    return path


_LOG_STREAM = []


def _zk_log_stream():
    """The C client's log stream: /dev/null, opened once, never closed.

    zkpython's set_log_stream hands the C library the FILE* of the Python
    file object; closing that file while the C threads still log to it
    (every connect and close logs) corrupts the heap.  This project's
    port duplicates the descriptor, so either library is safe with one
    stream that lives as long as the process.
    """
    if not _LOG_STREAM:
        _LOG_STREAM.append(open(os.devnull, 'w'))
    return _LOG_STREAM[0]


def unavailable(address):
    """ServiceGroupUnavailable naming the driver and the ZooKeeper address.

    The message is given whole: Grizzly's template reads ``%(driver)``
    without the ``s``, which would turn the error into "Exception in string
    format operation" and lose the address.
    """
    driver = 'ZooKeeperDriver (ZooKeeper at %s)' % address
    return exception.ServiceGroupUnavailable(
        _('The service from servicegroup driver %s is temporarily '
          'unavailable.') % driver, driver=driver)


def _acl_key(acl):
    return sorted((a['perms'], a['scheme'], a['id']) for a in acl)


def digest_acl(credentials, world_read):
    """The ACL that gives ``user:password`` every right, others read.

    ZooKeeper's digest identity is ``user:base64(sha1(user:password))``.
    """
    user = credentials.split(':', 1)[0]
    digest = base64.b64encode(hashlib.sha1(
        credentials.encode('utf-8')).digest()).decode('ascii')
    acl = [{'perms': zookeeper.PERM_ALL, 'scheme': 'digest',
            'id': '%s:%s' % (user, digest)}]
    if world_read:
        acl.append({'perms': zookeeper.PERM_READ, 'scheme': 'world',
                    'id': 'anyone'})
    return acl


# How long a TLS check may wait for a ZooKeeper server (seconds).
TLS_CHECK_TIMEOUT = 3.0
_TLS_OPTIONS = ('ssl_ca_file', 'ssl_cert_file', 'ssl_key_file')


def tls_certificates():
    """The C client's certificate string for [zookeeper] ssl_*, or None.

    None when no ssl_* option is set (plain connections, as in Grizzly).
    Raises InvalidZooKeeperConfig naming the option when one is missing or
    unreadable, or when the loaded C client cannot do TLS.
    """
    values = [getattr(CONF.zookeeper, option) for option in _TLS_OPTIONS]
    if not any(values):
        return None
    for option, value in zip(_TLS_OPTIONS, values):
        if not value:
            raise InvalidZooKeeperConfig(
                option=option, value=value,
                reason=_('TLS needs ssl_ca_file (the CA of the servers), '
                         'ssl_cert_file and ssl_key_file (the ZooKeeper C '
                         'client always presents a certificate)'))
        if ',' in value:
            # zookeeper_init_ssl splits "ca,cert,key" at the commas.
            raise InvalidZooKeeperConfig(
                option=option, value=value,
                reason=_('the ZooKeeper C client cannot take a path with a '
                         'comma'))
        if not os.path.isfile(value) or not os.access(value, os.R_OK):
            raise InvalidZooKeeperConfig(
                option=option, value=value,
                reason=_('no such file, or it cannot be read'))
    if not hasattr(zookeeper, 'init_ssl'):
        if hasattr(zookeeper, 'LIBRARY'):   # this project's binding
            reason = _('TLS needs a ZooKeeper C client built with OpenSSL; '
                       '%s has no zookeeper_init_ssl (tools/build_zk_tls.sh '
                       'builds one: point ZOOKEEPER_C_LIBRARY at it)'
                       ) % zookeeper.LIBRARY
        else:   # zkpython, linked to its C client when it was built
            reason = _('this zkpython has no init_ssl (its C client was '
                       'built without OpenSSL); TLS needs one built with '
                       'OpenSSL, or the Python 3 port of this project')
        raise InvalidZooKeeperConfig(option='ssl_ca_file', value=values[0],
                                     reason=reason)
    if not _takes_ssl(evzookeeper.ZKSession):
        raise InvalidZooKeeperConfig(
            option='ssl_ca_file', value=values[0],
            reason=_('this evzookeeper cannot open TLS sessions (0.4.0 '
                     'cannot; the port in ports/evzookeeper can)'))
    return ','.join(values)


def _takes_ssl(session_class):
    import inspect
    try:
        names = inspect.getfullargspec(session_class.__init__).args
    except AttributeError:  # Python 2.7
        names = inspect.getargspec(session_class.__init__).args
    return 'ssl' in names


def tls_handshake_error(servers):
    """Why a TLS connection to the servers fails, or None.

    The C client only logs "error in ssl connect" and retries for ever, so
    the same handshake is tried here, checked as the C client checks it:
    the chain against ssl_ca_file and the system's CAs, no host name; and
    the server's answer to the client certificate.  None as well when no
    server answers at all: the C client keeps trying those.
    """
    import ssl
    ca, cert, key = [getattr(CONF.zookeeper, o) for o in _TLS_OPTIONS]
    context = ssl.SSLContext(getattr(ssl, 'PROTOCOL_TLS_CLIENT',
                                     ssl.PROTOCOL_SSLv23))
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        context.load_verify_locations(ca)
    except ssl.SSLError as e:
        raise InvalidZooKeeperConfig(option='ssl_ca_file', value=ca,
                                     reason=_('not a PEM certificate: %s') % e)
    context.set_default_verify_paths()
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as e:
        raise InvalidZooKeeperConfig(
            option='ssl_key_file', value=key,
            reason=_('no PEM key (not encrypted) that matches ssl_cert_file '
                     '%(cert)s: %(err)s') % {'cert': cert, 'err': e})
    for host, port in servers:
        try:
            sock = socket.create_connection((host, port), TLS_CHECK_TIMEOUT)
        except (socket.error, socket.timeout):
            continue
        where = '%s:%d' % (host, port)
        try:
            sock = context.wrap_socket(sock)
            # TLS 1.3 refuses a client certificate after the handshake:
            # only an answer to a request shows it was accepted.
            sock.sendall(b'srvr')
            sock.recv(1)
            return None
        except ssl.SSLError as e:
            return _tls_failure(where, e, ca, cert)
        except (socket.error, socket.timeout):
            continue
        finally:
            sock.close()
    return None


def _tls_failure(where, error, ca, cert):
    reason = getattr(error, 'reason', None) or ''
    if reason == 'CERTIFICATE_VERIFY_FAILED':
        return _('the certificate of ZooKeeper at %(where)s is not signed by '
                 'the CA in [zookeeper] ssl_ca_file %(ca)s (%(err)s)') % {
                     'where': where, 'ca': ca, 'err': error}
    if 'ALERT' in reason:
        return _('ZooKeeper at %(where)s refused the client certificate '
                 '[zookeeper] ssl_cert_file %(cert)s (%(err)s): its '
                 'ssl.trustStore must hold the CA that signed it') % {
                     'where': where, 'cert': cert, 'err': error}
    if reason in ('WRONG_VERSION_NUMBER', 'UNKNOWN_PROTOCOL',
                  'RECORD_LAYER_FAILURE'):
        return _('ZooKeeper at %(where)s does not speak TLS on that port '
                 '(give its secureClientPort in [zookeeper] address): '
                 '%(err)s') % {'where': where, 'err': error}
    return _('TLS handshake with ZooKeeper at %(where)s failed: %(err)s') % {
        'where': where, 'err': error}


def tls_session_args(servers, log=True):
    """ZKSession's keyword arguments for [zookeeper] ssl_*: {} when plain.

    Raises InvalidZooKeeperConfig (see tls_certificates) or, when the TLS
    handshake with a server fails, the binding's SSL error saying why.
    """
    certs = tls_certificates()
    if certs is None:
        return {}
    # Blocking socket calls: in an OS thread, the hub keeps running.
    error = eventlet.tpool.execute(tls_handshake_error, servers)
    if error is not None:
        raise getattr(zookeeper, 'SSLConnectionErrorException',
                      zookeeper.ZooKeeperException)(error)
    if log:
        LOG.info(_('ZooKeeperDriver: connecting to ZooKeeper over TLS, '
                   'servers verified against the CA %(ca)s (the certificate '
                   'chain, not the host name), client certificate %(cert)s'),
                 {'ca': CONF.zookeeper.ssl_ca_file,
                  'cert': CONF.zookeeper.ssl_cert_file})
    return {'ssl': certs}


class ZooKeeperDriver(api.ServiceGroupDriver):
    """ZooKeeper driver for the service group API."""

    def __init__(self, *args, **kwargs):
        """Check the configuration; the session itself comes later.

        The session is created on first use, in the process that uses it:
        a ZooKeeper handle must not cross a fork.
        """
        missing = [name for name, module in (('zookeeper', zookeeper),
                                             ('evzookeeper', evzookeeper),
                                             ('evzookeeper.membership',
                                              membership))
                   if module is None]
        if missing:
            raise ImportError(_('zookeeper module not found: cannot import '
                                '%s (install the ZooKeeper client libraries, '
                                'see README)') % ', '.join(missing))
        self._servers, self._chroot = parse_address(CONF.zookeeper.address)
        check_resolvable(self._servers, CONF.zookeeper.address)
        # What the C client parses: no blanks, an IPv6 address without its
        # brackets (it splits host and port at the last colon).
        self._address = ','.join(
            '%s:%d' % server for server in self._servers) + self._chroot
        prefix = CONF.zookeeper.sg_prefix
        check_path('sg_prefix', prefix)
        # A missing certificate file fails the start, not each join.
        tls_certificates()
        if CONF.zookeeper.recv_timeout <= 0:
            raise InvalidZooKeeperConfig(
                option='recv_timeout', value=CONF.zookeeper.recv_timeout,
                reason=_('must be a positive number of milliseconds'))
        if CONF.zookeeper.sg_retry_interval <= 0:
            # 0 would retry an unreachable ZooKeeper in a busy loop.
            raise InvalidZooKeeperConfig(
                option='sg_retry_interval',
                value=CONF.zookeeper.sg_retry_interval,
                reason=_('must be a positive number of seconds'))
        self._prefix = prefix
        credentials = CONF.zookeeper.auth_digest
        if credentials is not None:
            user, sep, password = credentials.partition(':')
            if not user or not sep or not password:
                # Never echo the value: it is a password.
                raise InvalidZooKeeperConfig(
                    option='auth_digest', value='***',
                    reason=_('must be user:password'))
            self._acl = digest_acl(credentials,
                                   CONF.zookeeper.acl_world_read)
        else:
            self._acl = [evzookeeper.ZOO_OPEN_ACL_UNSAFE]
        self._credentials = credentials
        self._reset()
        super(ZooKeeperDriver, self).__init__()

    def _reset(self):
        self._pid = os.getpid()
        self._cached_session = None
        self._prefix_ready = False
        self._memberships = {}
        self._guards = {}
        self._cleaned_groups = set()
        self._joiners = {}
        self._monitors = {}
        self._group_attempts = set()
        # group -> (when the last first read failed, {reason: when it was
        # logged}): see _watch_group
        self._read_failures = {}
        self._session_watch = None
        # Opening a session and a group's first read yield to other green
        # threads (zookeeper.init runs on a helper thread): without these,
        # concurrent first callers would each open a session (all but the
        # last leaking, with their C threads and sockets) or a monitor.
        self._session_lock = semaphore.Semaphore()
        self._monitor_lock = semaphore.Semaphore()

    @property
    def _session(self):
        """The process's ZKSession, created on first use (once, however
        many green threads ask at the same time)."""
        if self._pid != os.getpid():
            # Forked: the parent's handle and its threads are not ours.
            self._reset()
        if self._cached_session is None:
            with self._session_lock:
                if self._cached_session is None:
                    self._open_session()
        return self._cached_session

    def _open_session(self):
        try:
            session = evzookeeper.ZKSession(
                self._address, recv_timeout=CONF.zookeeper.recv_timeout,
                zklog_fd=_zk_log_stream(),
                **tls_session_args(self._servers))
        except zookeeper.ZooKeeperException:
            unresolved = unresolvable_hosts(self._servers)
            if len(unresolved) == len(self._servers):
                # (the C client says "No such file or directory")
                raise zookeeper.ZooKeeperException(
                    _('cannot resolve host %s') % ', '.join(unresolved))
            raise
        if self._credentials is not None:
            try:
                session.add_auth('digest', self._credentials)
            except Exception:
                session.close()
                raise
        self._follow(session)
        self._cached_session = session
        if not _AT_EXIT:
            # Grizzly's ServiceLauncher ends on SIGTERM without calling
            # Service.stop(): closing the session at exit still deletes
            # the member nodes at once instead of a timeout later.
            _AT_EXIT.append(self)
            atexit.register(_close_at_exit)
        else:
            _AT_EXIT[0] = self

    def _follow(self, session):
        spc = evzookeeper_utils.StatePipeCondition()
        session.add_connection_callback(spc)
        thread = eventlet.spawn(self._follow_session, session, spc)
        self._session_watch = (session, spc, thread)

    def _follow_session(self, session, spc):
        """Log the session's outages; authenticate and re-join new sessions.

        An operator must see in the log, at the default level, when a worker
        loses ZooKeeper, that it is still away (every OUTAGE_LOG_INTERVAL:
        while connections are refused the C client reports no new state),
        and when it is back, with or without its session.  After an expiry
        evzookeeper opens a new session by itself; 0.4.0 does not add the
        credentials to it, so its Membership's re-join would fail with
        NoAuth under nova's ACL: add them, then re-join.
        """
        session_id = None    # the session of the last CONNECTED state
        away_since = time.time()
        last_said = away_since
        quiet_until = 0      # see FLAP_QUIET
        unreported = 0
        reported = True      # whether the current outage was reported
        while True:
            timeout = (min(OUTAGE_LOG_INTERVAL, self._give_up_after())
                       if away_since is not None else None)
            if not reported and away_since is not None:
                timeout = 1.0  # a quiet loss that lasts is reported
            try:
                state = spc.wait_and_get(timeout)[2]
            except eventlet.Timeout:
                now = time.time()
                if not reported:
                    reported = True
                    quiet_until = now + FLAP_QUIET
                    LOG.warn(_('ZooKeeperDriver: lost the connection to '
                               'ZooKeeper at %(addr)s %(s).1f s ago '
                               '(session %(sid)s; %(n)d short losses, each '
                               'back within 1 s, before it); its members '
                               'stay up until the session times out'),
                             {'addr': self._address, 's': now - away_since,
                              'sid': _hex(session_id), 'n': unreported - 1})
                    unreported = 0
                    last_said = now
                    continue
                if (session_id is not None and
                        now - away_since >= self._give_up_after()):
                    self._replace_session(session, session_id,
                                          now - away_since)
                    return
                if now - last_said >= OUTAGE_LOG_INTERVAL:
                    LOG.warn(_('ZooKeeperDriver: ZooKeeper at %(addr)s still '
                               'unreachable, for %(s)d s now'),
                             {'addr': self._address, 's': now - away_since})
                    last_said = now
                continue
            except Exception:
                return  # the condition was closed: cleanup()
            if state == zookeeper.CONNECTED_STATE:
                new_id = self._session_id(session)
                if new_id == session_id and away_since is None:
                    continue
                self._connected(session, session_id, new_id, away_since,
                                reported)
                session_id, away_since, reported = new_id, None, True
            elif state == zookeeper.EXPIRED_SESSION_STATE:
                LOG.warn(_('ZooKeeperDriver: ZooKeeper session %(sid)s '
                           'expired: ZooKeeper removed this process\'s '
                           'members; opening a new session to %(addr)s'),
                         {'sid': _hex(session_id), 'addr': self._address})
                away_since = away_since or time.time()
                last_said = time.time()
            elif state == zookeeper.AUTH_FAILED_STATE:
                LOG.error(_('ZooKeeperDriver: ZooKeeper at %s refused the '
                            'credentials ([zookeeper] auth_digest)'),
                          self._address)
            elif away_since is None:
                away_since = last_said = time.time()
                reported = away_since >= quiet_until
                if not reported:
                    unreported += 1
                    LOG.debug(_('ZooKeeperDriver: lost the connection to '
                                'ZooKeeper at %s again'), self._address)
                    continue
                quiet_until = away_since + FLAP_QUIET
                LOG.warn(_('ZooKeeperDriver: lost the connection to '
                           'ZooKeeper at %(addr)s (session %(sid)s); its '
                           'members stay up until the session times '
                           'out%(more)s'),
                         {'addr': self._address, 'sid': _hex(session_id),
                          'more': _(' (%d short losses since the last '
                                    'report, each back within 1 s)')
                          % unreported if unreported else ''})
                unreported = 0

    def _give_up_after(self):
        """Seconds away after which the old session is given up.

        A server that lost its data refuses a client that has seen a newer
        zxid, and the C client keeps offering its old session for ever: the
        worker stays out until the new server has seen more writes than it
        had (minutes).  A session away for many session timeouts has
        expired wherever a quorum serves; only a whole ensemble down keeps
        it alive, and then giving it up costs a re-join once ZooKeeper is
        back, while keeping it may cost minutes of XXX.  The bound is the
        longer of STUCK_SESSION_TIMEOUTS session timeouts and
        STUCK_SESSION_MIN seconds (the db driver's service_down_time).
        """
        return max(STUCK_SESSION_MIN,
                   STUCK_SESSION_TIMEOUTS * self._session_timeout())

    def _replace_session(self, session, session_id, away):
        """Close ``session`` and join every member on a new one."""
        LOG.warn(_('ZooKeeperDriver: ZooKeeper at %(addr)s has not taken '
                   'session %(sid)s back for %(s)d s (a server that lost its '
                   'data refuses it); giving it up and re-joining with a new '
                   'session'),
                 {'addr': self._address, 'sid': _hex(session_id), 's': away})
        keys = list(self._memberships)
        for key in keys:
            guard = self._guards.pop(key, None)
            if guard is not None:
                guard.kill()
        self._memberships.clear()
        self._monitors.clear()
        self._prefix_ready = False
        self._cleaned_groups.clear()
        if self._cached_session is session:
            self._cached_session = None
        self._session_watch = None
        # (close() may wait for the unreachable servers: not here)
        eventlet.spawn_n(session.close)
        for group, member_id in keys:
            if (group, member_id) not in self._joiners:
                self._joiners[(group, member_id)] = eventlet.spawn(
                    self._keep_joining, member_id, group)

    def _connected(self, session, old_id, new_id, away_since, reported=True):
        if old_id is None:
            LOG.info(_('ZooKeeperDriver: connected to ZooKeeper at %(addr)s, '
                       'session %(sid)s'),
                     {'addr': self._address, 'sid': _hex(new_id)})
            return
        away = time.time() - (away_since or time.time())
        if new_id == old_id:
            # (a loss that was not reported: nor is its end)
            log = LOG.warn if reported else LOG.debug
            log(_('ZooKeeperDriver: reconnected to ZooKeeper at %(addr)s '
                  'after %(s).1f s; session %(sid)s survived, the members '
                  'stayed up'),
                {'addr': self._address, 's': away, 'sid': _hex(new_id)})
            return
        LOG.warn(_('ZooKeeperDriver: reconnected to ZooKeeper at %(addr)s '
                   'after %(s).1f s with a new session %(new)s (%(old)s '
                   'expired); re-joining'),
                 {'addr': self._address, 's': away, 'new': _hex(new_id),
                  'old': _hex(old_id)})
        if self._credentials is not None:
            try:
                session.add_auth('digest', self._credentials)
            except Exception as e:
                # Never the exception's text: it could hold the secret.
                LOG.error(_('ZooKeeperDriver: cannot authenticate the new '
                            'ZooKeeper session: %s'), type(e).__name__)
                return
        for member in list(self._memberships.values()):
            refresh = getattr(member, 'refresh', None)
            if refresh is not None:
                refresh(quiet=True)
        # (in its own green thread: the follower must see the next state)
        eventlet.spawn_n(self._report_rejoin, session, new_id)

    def _report_rejoin(self, session, session_id):
        """Say which members are back under the new session, and which not."""
        deadline = time.time() + REJOIN_CHECK_TIMEOUT
        pending = dict(self._memberships)
        while pending:
            if self._session_id(session) != session_id:
                return  # expired again: the newer session's report follows
            for (group, member_id) in list(pending):
                node = (self._group_path(group) +
                        _znode(u"/" + _text(member_id)))
                try:
                    stat = session.exists(node)
                except Exception:
                    stat = None
                if stat and stat.get('ephemeralOwner') == session_id:
                    del pending[(group, member_id)]
                    LOG.warn(_('ZooKeeperDriver: %(id)s re-joined the %(gr)s '
                               'group (session %(sid)s)'),
                             {'id': member_id, 'gr': group,
                              'sid': _hex(session_id)})
            if not pending or time.time() >= deadline:
                break
            eventlet.sleep(POLL_INTERVAL)
        for group, member_id in pending:
            LOG.error(_('ZooKeeperDriver: %(id)s has not re-joined the '
                        '%(gr)s group %(t)d s after the new session'),
                      {'id': member_id, 'gr': group,
                       't': REJOIN_CHECK_TIMEOUT})

    @staticmethod
    def _session_id(session):
        try:
            return session.client_id()[0]
        except Exception:
            return None

    def _group_path(self, group):
        return _znode(u'%s/%s' % (_text(self._prefix.rstrip('/')),
                                  _text(group)))

    def _ensure_node(self, path, data=b''):
        """Create ``path`` with the driver's ACL, or give it that ACL.

        With credentials, a node someone created with the open ACL would
        let anybody add fake members under it: it gets nova's ACL.
        """
        session = self._session
        try:
            session.create(path, data, acl=self._acl)
            return
        except zookeeper.NodeExistsException:
            pass
        if self._credentials is None:
            return
        acl, _stat = session.get_acl(path)
        if _acl_key(acl) != _acl_key(self._acl):
            LOG.warn(_('ZooKeeperDriver: restricting the ACL of %s to '
                       'nova\'s identity'), path)
            try:
                session.set_acl(path, -1, self._acl)
            except zookeeper.NoAuthException:
                raise exception.NovaException(
                    _('ZooKeeperDriver: %s exists with an ACL that nova\'s '
                      'identity cannot change; remove it or grant ADMIN')
                    % path)

    def _ensure_chroot(self):
        """Create the chroot of the address, which the C client needs."""
        session = evzookeeper.ZKSession(
            self._address.split('/', 1)[0],
            recv_timeout=CONF.zookeeper.recv_timeout,
            zklog_fd=_zk_log_stream(),
            **tls_session_args(self._servers, log=False))
        try:
            if self._credentials is not None:
                session.add_auth('digest', self._credentials)
            path = ''
            for part in self._chroot.strip('/').split('/'):
                path += '/' + part
                try:
                    session.create(path, b'', acl=self._acl)
                except zookeeper.NodeExistsException:
                    pass
        finally:
            session.close()

    def _ensure_prefix(self):
        if self._prefix_ready:
            return
        path = ''
        for part in self._prefix.strip('/').split('/'):
            path += '/' + part
            try:
                self._ensure_node(path)
            except zookeeper.NoNodeException:
                if not self._chroot or path.count('/') > 1:
                    raise
                LOG.info(_('ZooKeeperDriver: creating the chroot %s'),
                         self._chroot)
                self._ensure_chroot()
                self._ensure_node(path)
        granted = self._session_timeout()
        if int(granted * 1000) != CONF.zookeeper.recv_timeout:
            LOG.warn(_('ZooKeeperDriver: asked for a session timeout of '
                       '%(asked)d ms ([zookeeper] recv_timeout), ZooKeeper '
                       'granted %(granted)d ms (it allows 2 to 20 times its '
                       'tickTime)'),
                     {'asked': CONF.zookeeper.recv_timeout,
                      'granted': int(granted * 1000)})
        self._prefix_ready = True

    def _session_timeout(self):
        """The negotiated session timeout in seconds, or the requested one."""
        session = self._session
        try:
            if hasattr(session, 'session_timeout'):
                return session.session_timeout() / 1000.0
            # evzookeeper 0.4.0 has no accessor; its handle is _zhandle.
            return zookeeper.recv_timeout(session._zhandle) / 1000.0
        except Exception:
            return CONF.zookeeper.recv_timeout / 1000.0

    def _ensure_group(self, group_id, path):
        """Create the group node if it is missing, before it is watched.

        evzookeeper 0.4.0's MembershipMonitor does not create it: its read
        of a missing node fails and leaves no watch behind, so the monitor
        would report "unknown" (ServiceGroupUnavailable) until some session
        event, on a quiet session for good.  The Python 3 port creates it
        itself; doing it here serves both.  The first attempt for a group
        waits up to FIRST_READ_TIMEOUT for the session to connect; later
        ones try once, so an unreachable ZooKeeper is reported at once.
        """
        first = group_id not in self._group_attempts
        self._group_attempts.add(group_id)
        deadline = time.time() + (FIRST_READ_TIMEOUT if first else 0)
        while True:
            try:
                try:
                    # evzookeeper's exists() raises for a missing node.
                    if self._session.exists(path) is not None:
                        return
                except zookeeper.NoNodeException:
                    pass
                self._ensure_prefix()
                self._ensure_node(path, b'ZKMembers')
                return
            except zookeeper.ConnectionLossException:
                if time.time() >= deadline:
                    raise
                eventlet.sleep(POLL_INTERVAL)

    def check_member(self, member_id, group_id):
        check_name('topic', group_id)
        check_name('host', member_id)

    def join(self, member_id, group, service=None):
        """Join the given service with its group.

        Returns a timer whose stop() leaves the group.  When ZooKeeper cannot
        be reached the worker starts anyway and a green thread keeps trying,
        logging why; a name held by another live session is an error.
        """
        LOG.debug(_('ZooKeeperDriver: join new member %(id)s to the '
                    '%(gr)s group, service=%(sr)s'),
                  {'id': member_id, 'gr': group, 'sr': service})
        self.check_member(member_id, group)
        key = (group, member_id)
        if self._pid != os.getpid():
            self._reset()
        if key not in self._memberships and key not in self._joiners:
            try:
                self._joined(key, self._join_now(member_id, group))
            except DuplicateServiceMember:
                raise
            except Exception as e:
                LOG.warn(_('ZooKeeperDriver: cannot join %(id)s to %(gr)s '
                           'yet, ZooKeeper at %(addr)s: %(err)s; retrying '
                           'every %(ival)ss'),
                         {'id': member_id, 'gr': group, 'addr': self._address,
                          'err': _why(e, self._credentials),
                          'ival': CONF.zookeeper.sg_retry_interval})
                self._joiners[key] = eventlet.spawn(self._keep_joining,
                                                    member_id, group)
        return FakeLoopingCall(self, member_id, group)

    def _join_now(self, member_id, group):
        """Create the member node, waiting out a previous session's node.

        A worker restarted within its old session's timeout finds its old
        node still there; the server deletes it when that session expires,
        at most about 1.5 session timeouts later.  Only a node that outlives
        that wait belongs to another live process.
        """
        self._ensure_prefix()
        path = self._group_path(group)
        self._ensure_node(path, b'ZKMembers')
        if self._credentials is not None:
            self._clean_group(path)
        name = _znode(_text(member_id))
        node = path + _znode('/') + name
        try:
            return membership.Membership(self._session, path, name,
                                         acl=self._acl)
        except RuntimeError:
            pass
        self._remove_if_persistent(node)
        wait = max(CONF.zookeeper.sg_retry_interval,
                   1.5 * self._session_timeout() + 1.0)
        LOG.warn(_('ZooKeeperDriver: %(node)s exists; waiting up to %(w).1fs '
                   'for the session that holds it to expire'),
                 {'node': _text(node), 'w': wait})
        deadline = time.time() + wait
        while time.time() < deadline:
            eventlet.sleep(POLL_INTERVAL)
            try:
                # evzookeeper's exists() raises for a missing node.
                if self._session.exists(node) is not None:
                    continue
            except zookeeper.NoNodeException:
                pass
            try:
                member = membership.Membership(self._session, path, name,
                                               acl=self._acl)
            except RuntimeError:
                continue
            LOG.info(_('ZooKeeperDriver: joined %s after the old session '
                       'expired'), _text(node))
            return member
        raise DuplicateServiceMember(host=member_id, group=group,
                                     path=_text(node))

    def _remove_if_persistent(self, node):
        """Delete ``node`` if no session owns it; True if it was deleted.

        A persistent node is nobody's liveness (a leftover, or a forgery
        made while the tree was open): it must neither read as up nor keep
        the real worker of that name out.
        """
        try:
            stat = self._session.exists(node)
        except zookeeper.NoNodeException:
            return False
        if not stat or stat.get('ephemeralOwner'):
            return False
        try:
            self._session.delete(node)
        except zookeeper.NoNodeException:
            pass
        LOG.warn(_('ZooKeeperDriver: removed %s: a persistent node, which '
                   'no live session owns, is not a member'), _text(node))
        return True

    def _clean_group(self, path):
        """Under auth_digest, what the open tree let in goes, once a group.

        Persistent children are removed; member nodes of live sessions
        created with the open ACL get nova's (anyone could change or delete
        them before).  Nova's identity may do both: the group node is
        nova's (_ensure_node).
        """
        if path in self._cleaned_groups:
            return
        for child in self._session.get_children(path):
            node = path + _znode('/') + child
            try:
                if self._remove_if_persistent(node):
                    continue
                acl, _stat = self._session.get_acl(node)
                if _acl_key(acl) != _acl_key(self._acl):
                    self._session.set_acl(node, -1, self._acl)
                    LOG.warn(_('ZooKeeperDriver: restricted the ACL of the '
                               'member node %s to nova\'s identity'),
                             _text(node))
            except zookeeper.NoNodeException:
                continue  # it left meanwhile
        self._cleaned_groups.add(path)

    def _keep_joining(self, member_id, group):
        key = (group, member_id)
        while key in self._joiners:
            eventlet.sleep(CONF.zookeeper.sg_retry_interval)
            if key not in self._joiners:
                return
            try:
                member = self._join_now(member_id, group)
            except Exception as e:
                LOG.warn(_('ZooKeeperDriver: still cannot join %(id)s to '
                           '%(gr)s at %(addr)s: %(err)s'),
                         {'id': member_id, 'gr': group, 'addr': self._address,
                          'err': _why(e, self._credentials)})
                continue
            del self._joiners[key]
            self._joined(key, member)
            LOG.info(_('ZooKeeperDriver: %(id)s joined the %(gr)s group'),
                     {'id': member_id, 'gr': group})

    def _joined(self, key, member):
        self._memberships[key] = member
        self._guards[key] = eventlet.spawn(self._guard_member, key, member)

    def _guard_member(self, key, member):
        """Re-create the member node whenever someone else deletes it.

        Any client may delete it (without auth_digest), and so may an admin
        cleaning up with nova's credentials; nothing would bring it back,
        and the live worker would read XXX for good.  A watch on the node
        tells; the Membership re-creates it (refresh()).  A deletion that
        comes with a new session is the expiry, which the Membership and
        the session follower handle.
        """
        group, member_id = key
        node = self._group_path(group) + _znode(u'/' + _text(member_id))
        events = evzookeeper_utils.StatePipeCondition()

        def watcher(handle, event_type, state, path):
            events.set_and_notify(event_type)

        try:
            while self._memberships.get(key) is member:
                session = self._session
                watched_by = self._session_id(session)
                try:
                    stat = session.exists(node, watcher)
                except zookeeper.NoNodeException:
                    stat = None
                except Exception:
                    eventlet.sleep(POLL_INTERVAL * 10)
                    continue
                if stat is None:
                    if self._memberships.get(key) is not member:
                        return
                    LOG.warn(_('ZooKeeperDriver: %(node)s, the member node '
                               'of live %(id)s, was deleted by another '
                               'ZooKeeper client; re-creating it'),
                             {'node': _text(node), 'id': member_id})
                    if member.refresh(quiet=True) is not False:
                        LOG.warn(_('ZooKeeperDriver: re-created %s'),
                                 _text(node))
                    continue
                event_type = events.wait_and_get()
                if (event_type != zookeeper.DELETED_EVENT or
                        self._session_id(session) != watched_by):
                    continue
        except evzookeeper_utils.PipeConditionClosedError:
            return
        finally:
            events.close()

    def leave(self, member_id, group):
        """Remove the given member from the service group."""
        LOG.debug(_('ZooKeeperDriver.leave: %(member)s from group %(group)s'),
                  {'member': member_id, 'group': group})
        key = (group, member_id)
        joiner = self._joiners.pop(key, None)
        if joiner is not None:
            joiner.kill()
        member = self._memberships.pop(key, None)
        guard = self._guards.pop(key, None)
        if guard is not None:
            guard.kill()
        if member is not None:
            member.leave()
        elif joiner is None:
            LOG.error(_('ZooKeeperDriver.leave: %(id)s has not joined to the '
                        '%(gr)s group'), {'id': member_id, 'gr': group})

    def is_up(self, service_ref):
        """A lookup in the watched set of the group's live members: no copy,
        no network (the scheduler asks it of every row)."""
        group_id = service_ref['topic']
        member_id = service_ref['host']
        if self._pid == os.getpid():
            view = self._monitors.get(group_id)
            if view is not None:
                members = view.get_all()
                if members is not None:
                    return _text(member_id) in members
        # The group's first read, or its membership is unknown now.
        try:
            check_name('topic', group_id)
            check_name('host', member_id)
        except InvalidMemberName as e:
            # A row that can never be a member is down; it must not make
            # the whole list unknown.
            LOG.warn('%s', e)
            return False
        return _text(member_id) in self._live_members(group_id)

    def get_all(self, group_id):
        """Return all members in a list, or a ServiceGroupUnavailable
        exception.
        """
        return [_text(name) for name in self._live_members(group_id)]

    def _live_members(self, group_id):
        """The set of the names of the group's live members (do not modify
        it); ServiceGroupUnavailable while they are unknown."""
        if self._pid != os.getpid():
            self._reset()
        view = self._monitors.get(group_id, None)
        if view is None:
            with self._monitor_lock:
                view = self._monitors.get(group_id, None)
                if view is None:
                    view = self._watch_group(group_id)
        all_members = view.get_all()
        if all_members is None:
            raise unavailable(self._address)
        return all_members

    def _watch_group(self, group_id):
        """Start watching a group; wait a bounded time for its first read."""
        check_name('topic', group_id)
        path = self._group_path(group_id)
        failed = self._read_failures.get(group_id)
        if failed is not None and \
                time.time() - failed[0] < CONF.zookeeper.sg_retry_interval:
            # Asked again at once: a scheduler reads every host of every
            # request, and each try costs ZooKeeper a request (a server
            # that wants credentials closes the connection at each).
            raise unavailable(self._address)
        try:
            self._ensure_group(group_id, path)
            known = None
            if getattr(membership.MembershipMonitor, 'snapshot', None):
                known = load_snapshot(self._address, path)
                monitor = membership.MembershipMonitor(
                    self._session, path, acl=self._acl,
                    known=known)
            elif getattr(membership.MembershipMonitor, 'live_members_only',
                         False):
                monitor = membership.MembershipMonitor(
                    self._session, path, acl=self._acl)
            else:
                monitor = LiveMembers(self._session, path, self._acl)
        except (zookeeper.ZooKeeperException, SystemError) as e:
            # No session to read with (an unresolvable address, say),
            # or ZooKeeper unreachable: unknown, and tried again on the
            # next read.  (zkpython 0.4 raises the builtin SystemError
            # for error codes it does not map, such as invalid state.)
            now = time.time()
            why = _why(e, self._credentials)
            # each reason once a minute, not once per try (a refusal and
            # the connection loss it causes may take turns)
            said = dict((reason, when) for reason, when in
                        (failed[1].items() if failed else ())
                        if now - when < OUTAGE_LOG_INTERVAL)
            (LOG.debug if why in said else LOG.error)(
                _('ZooKeeperDriver: cannot read the %(gr)s group from '
                  'ZooKeeper at %(addr)s: %(err)s; trying again every '
                  '%(ival)ss'),
                {'gr': group_id, 'addr': self._address, 'err': why,
                 'ival': CONF.zookeeper.sg_retry_interval})
            said.setdefault(why, now)
            self._read_failures[group_id] = (now, said)
            raise unavailable(self._address)
        self._read_failures.pop(group_id, None)
        self._monitors[group_id] = monitor
        # When initialized for the first time, it takes a while to
        # retrieve all members from zookeeper; wait a bounded time for
        # the cache rather than report "nobody" (woken by the read, not
        # polling: nova-manage pays this wait once per command).
        monitor.wait_until_ready(FIRST_READ_TIMEOUT)
        if known is not None:
            save_snapshot(self._address, path, known, monitor.snapshot())
        return monitor

    def cleanup(self):
        """Leave every group and close the session (tests, shutdown)."""
        if self._pid != os.getpid():
            self._reset()
            return
        for group, member_id in list(self._memberships) + list(self._joiners):
            self.leave(member_id, group)
        if self._session_watch is not None:
            watched, spc, thread = self._session_watch
            thread.kill()
            try:
                watched.remove_connection_callback(spc)
            except KeyError:
                pass
            spc.close()
        session, self._cached_session = self._cached_session, None
        if session is not None:
            session.close()
        self._reset()


class LiveMembers(object):
    """The live members of a group with evzookeeper 0.4.0, whose
    MembershipMonitor reports every child by name.

    A member is a child that a live session owns (ephemeralOwner != 0): a
    persistent node somebody left or forged under the group is not.  Each
    child is asked about (stat) once, when it appears, in the monitor's
    callback; the persistent ones again on every change, since a leftover
    that is deleted and at once re-created by the waiting worker keeps its
    name in both child lists.  get_all() returns the same set until the
    membership changes, so is_up is a lookup.  (This project's port of
    evzookeeper does all this in its own monitor.)
    """

    def __init__(self, session, path, acl):
        self._session = session
        self._path = path
        self._owners = {}
        self._members = None
        self._generation = 0
        self._ready = event.Event()
        self._monitor = membership.MembershipMonitor(
            session, path, acl=acl, cb_func=self._changed)

    def get_all(self):
        """The set of live member names (text); None while unknown."""
        return self._members

    def wait_until_ready(self, timeout):
        with eventlet.Timeout(timeout, False):
            self._ready.wait()
        return self._members

    def _changed(self, names):
        """The monitor's callback (in its green thread): a new child list,
        or None while the session is not connected."""
        self._generation += 1
        generation = self._generation
        if names is None:
            # no watch fires while away: ask again about every child
            self._members = None
            self._owners = {}
            return
        known = self._owners
        owners = dict((name, known[name]) for name in names
                      if known.get(name))
        ask = [name for name in names if not known.get(name)]
        try:
            pool = eventlet.GreenPool(STAT_CONCURRENCY)
            for name, owner in pool.imap(self._owner_of, ask):
                if owner is not None:  # None: gone meanwhile
                    owners[name] = owner
        except Exception as e:
            LOG.warn(_('ZooKeeperDriver: reading the members of %(path)s '
                       'failed: %(err)s; trying again'),
                     {'path': _text(self._path), 'err': e})
            if generation == self._generation:
                self._members = None
                eventlet.spawn_after(STAT_RETRY_INTERVAL, self._retry,
                                     generation)
            return
        if generation != self._generation:
            return  # a newer list came while we asked
        self._owners = owners
        self._members = set(_text(name) for name, owner in owners.items()
                            if owner)
        self._ready.ready() or self._ready.send()

    def _retry(self, generation):
        if generation == self._generation:
            self._changed(self._monitor.get_all())

    def _owner_of(self, name):
        try:
            stat = self._session.exists(self._path + _znode('/') + name)
        except zookeeper.NoNodeException:
            return name, None
        if stat is None:
            return name, None
        return name, stat.get('ephemeralOwner', 0)


def _snapshot_file(address, path):
    """The cache file of one group, or None when there is no cache."""
    directory = CONF.zookeeper.members_cache_dir
    if not directory:
        return None
    key = hashlib.sha1(('%s %s' % (address, _text(path))).encode('utf-8'))
    return os.path.join(directory, key.hexdigest() + '.json')


def load_snapshot(address, path):
    """The cached member list of a group, {} when there is none usable, or
    None when the cache is off.  A file is trusted only if this user owns
    it and nobody else may write it (it says who is up)."""
    name = _snapshot_file(address, path)
    if name is None:
        return None
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
    except (IOError, OSError):
        return {}
    try:
        info = os.fstat(fd)
        if info.st_uid != os.geteuid() or info.st_mode & 0o022:
            LOG.warn(_('ZooKeeperDriver: ignoring %s: not owned by this '
                       'user, or writable by others'), name)
            return {}
        with os.fdopen(os.dup(fd), 'r') as stream:
            data = json.load(stream)
        if data.get('address') != address or \
                data.get('path') != _text(path):
            return {}
        return {'version': [int(v) for v in data['version']], 'owners': dict(
            (name_, int(owner)) for name_, owner in data['owners'].items())}
    except (IOError, OSError, ValueError, KeyError, TypeError,
            AttributeError) as e:
        LOG.debug('ZooKeeperDriver: ignoring %s: %s', name, e)
        return {}
    finally:
        os.close(fd)


def save_snapshot(address, path, loaded, snapshot):
    """Write a group's verified member list for the next process (a
    failure only costs that process a full read)."""
    name = _snapshot_file(address, path)
    if name is None or snapshot is None or snapshot == loaded:
        return
    temporary = '%s.%d.tmp' % (name, os.getpid())
    try:
        if not os.path.isdir(os.path.dirname(name)):
            os.makedirs(os.path.dirname(name), 0o700)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC |
                     getattr(os, 'O_NOFOLLOW', 0), 0o600)
        with os.fdopen(fd, 'w') as stream:
            json.dump({'address': address, 'path': _text(path),
                       'version': snapshot['version'],
                       'owners': snapshot['owners']}, stream)
        os.rename(temporary, name)
    except (IOError, OSError) as e:
        LOG.debug('ZooKeeperDriver: cannot write %s: %s', name, e)
        try:
            os.unlink(temporary)
        except OSError:
            pass


def _hex(session_id):
    return '0x%x' % session_id if session_id else 'none'


# Refusals that name the credentials (the class of ZooKeeper 3.5's
# "session closed: the server requires authentication" exists only in
# bindings that know that code).
_AUTH_REFUSALS = tuple(
    getattr(zookeeper, name) for name in (
        'AuthFailedException', 'NoAuthException',
        'SessionClosedRequireSaslAuthException')
    if hasattr(zookeeper, name))


def _why(e, credentials):
    """What to log of ``e``: its text (never anything of the secret),
    with what to change when ZooKeeper refuses our identity."""
    text = '%s' % (e or type(e).__name__)
    if not isinstance(e, _AUTH_REFUSALS):
        return text
    if credentials is None:
        return _('%s (ZooKeeper wants credentials: set [zookeeper] '
                 'auth_digest)') % text
    return _('%s (ZooKeeper does not let the identity of [zookeeper] '
             'auth_digest do this)') % text


# The driver whose session is closed at exit (one per process).
_AT_EXIT = []


def _close_at_exit():
    """Close the session, which deletes this process's member nodes now.

    Only the session is closed, the members are not left one by one: at
    exit the green threads that would wait for each reply may be gone.
    """
    driver = _AT_EXIT[0] if _AT_EXIT else None
    if driver is None or driver._pid != os.getpid():
        return
    session, driver._cached_session = driver._cached_session, None
    if session is None:
        return
    try:
        session.close()
    except Exception as e:
        LOG.warn(_('ZooKeeperDriver: closing the ZooKeeper session at exit '
                   'failed: %s'), e)


class FakeLoopingCall(utils.LoopingCallBase):
    """The fake Looping Call implementation, created for backward
    compatibility with a membership based on DB.
    """

    def __init__(self, driver, host, group):
        super(FakeLoopingCall, self).__init__()
        self._driver = driver
        self._group = group
        self._host = host

    def stop(self):
        self._driver.leave(self._host, self._group)

    def start(self, interval, initial_delay=None):
        pass

    def wait(self):
        pass

# Copyright 2012 IBM Corp.
# Copyright (c) AT&T Labs Inc. 2012 Yun Mao <yunmao@gmail.com>
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

"""ZooKeeper servicegroup driver for today's Nova (34.0.0, 2026.2).

tools/patch_nova.py installs this file as nova/servicegroup/drivers/zk.py.
It needs the packages ``zookeeper`` (ports/zookeeper) and ``zkgroup``; in
eventlet mode also ``evzookeeper`` (ports/evzookeeper).  Nothing imports
eventlet in threading mode.

A service is up while one of its processes holds an ephemeral node
``<sg_prefix>/<topic>/<host>@<pid>-<random>``: the processes of one
service on one host (conductor and scheduler workers) are each a member,
and a restarted worker never waits for its predecessor's node to expire.
Readers keep the watched member set of each topic in memory: ``is_up`` is
one dictionary lookup.  While the reader's session is away, the answer is
unknown and ``is_up`` raises ServiceGroupUnavailable, never "down".

``updated_time``: the newer of the database's ``updated_at`` and the time
the service's newest live member node was created (its last join).  The
driver writes no heartbeats: a member is alive for as long as its node
exists, so there is no later time it could truthfully report.
"""

import atexit
import datetime
import os
import uuid

from oslo_config import cfg
from oslo_log import log as logging
import zookeeper

import nova.conf
from nova import exception
from nova.i18n import _
from nova.servicegroup.drivers import base
from nova import utils

from zkgroup import address as zkaddress
from zkgroup import concurrency
from zkgroup import membership
from zkgroup import names
from zkgroup import session as zksession

zk_driver_opts = [
    cfg.StrOpt('address',
               help='The ZooKeeper addresses for servicegroup service in the '
                    'format of host1:port,host2:port,host3:port, optionally '
                    'followed by a chroot path (host:port/nova)'),
    cfg.IntOpt('recv_timeout',
               default=4000,
               min=1,
               help='recv_timeout parameter for the zk session (ms); the '
                    'server grants between 2 and 20 times its tickTime'),
    cfg.StrOpt('sg_prefix',
               default='/servicegroups',
               help='The prefix used in ZooKeeper to store ephemeral nodes'),
    cfg.IntOpt('sg_retry_interval',
               default=5,
               min=1,
               help='Number of seconds to wait until retrying to join the '
                    'session'),
    cfg.StrOpt('auth_digest',
               secret=True,
               help='user:password to authenticate to ZooKeeper with the '
                    'digest scheme. When set, the nodes nova creates get an '
                    'ACL that lets only this identity create, change or '
                    'delete them. When unset, nodes get the open ACL'),
    cfg.BoolOpt('acl_world_read',
                default=True,
                help='With auth_digest: whether clients without the '
                     'credentials may read the group membership (read only)'),
    cfg.StrOpt('ssl_ca_file',
               help='TLS: the CA (PEM) that signed the ZooKeeper servers\' '
                    'certificates; with ssl_cert_file and ssl_key_file the '
                    'session goes over TLS (address: the secureClientPort). '
                    'Needs a ZooKeeper C client built with OpenSSL'),
    cfg.StrOpt('ssl_cert_file',
               help='TLS: the client certificate (PEM) shown to ZooKeeper'),
    cfg.StrOpt('ssl_key_file',
               help='TLS: the private key (PEM) of ssl_cert_file'),
]

_TLS_OPTIONS = ('ssl_ca_file', 'ssl_cert_file', 'ssl_key_file')

CONF = nova.conf.CONF
CONF.register_opts(zk_driver_opts, group='zookeeper')

LOG = logging.getLogger(__name__)

#: How long the first look at a group may wait for its first read.
FIRST_READ_TIMEOUT = 5.0


def list_opts():
    return {'zookeeper': zk_driver_opts}


class ServiceGroupUnavailable(exception.NovaException):
    msg_fmt = _('The ZooKeeper servicegroup driver cannot tell which '
                'services are up: %(reason)s')
    code = 503


class ZooKeeperConfigError(exception.NovaException):
    msg_fmt = _('ZooKeeper servicegroup driver: %(reason)s')


def _check_config():
    conf = CONF.zookeeper
    if not conf.address:
        raise ZooKeeperConfigError(reason=_(
            '[zookeeper] address is not set (host1:port,host2:port)'))
    try:
        zkaddress.parse(conf.address)
    except zkaddress.InvalidAddress as exc:
        raise ZooKeeperConfigError(reason=_(
            '[zookeeper] address %s') % exc)
    if not conf.sg_prefix.startswith('/') or conf.sg_prefix.endswith('/'):
        raise ZooKeeperConfigError(reason=_(
            '[zookeeper] sg_prefix %r must start with "/" and not end with '
            'it') % conf.sg_prefix)
    for part in conf.sg_prefix.split('/')[1:]:
        names.check('[zookeeper] sg_prefix component', part)
    if conf.auth_digest is not None and ':' not in conf.auth_digest:
        raise ZooKeeperConfigError(reason=_(
            '[zookeeper] auth_digest must be user:password'))
    _tls_certificates()


def _tls_certificates():
    """The C client's "ca,cert,key" for [zookeeper] ssl_*, None if unset."""
    values = [getattr(CONF.zookeeper, option) for option in _TLS_OPTIONS]
    if not any(values):
        return None
    for option, value in zip(_TLS_OPTIONS, values):
        if not value:
            raise ZooKeeperConfigError(reason=_(
                '[zookeeper] %s is not set: TLS needs ssl_ca_file, '
                'ssl_cert_file and ssl_key_file (the ZooKeeper C client '
                'always presents a certificate)') % option)
        if ',' in value:
            raise ZooKeeperConfigError(reason=_(
                '[zookeeper] %(opt)s %(val)s: the ZooKeeper C client cannot '
                'take a path with a comma') % {'opt': option, 'val': value})
        if not os.path.isfile(value) or not os.access(value, os.R_OK):
            raise ZooKeeperConfigError(reason=_(
                '[zookeeper] %(opt)s %(val)s: no such file, or it cannot be '
                'read') % {'opt': option, 'val': value})
    if not hasattr(zookeeper, 'init_ssl'):
        raise ZooKeeperConfigError(reason=_(
            '[zookeeper] ssl_ca_file is set, but %s has no zookeeper_init_ssl '
            '(a C client built without OpenSSL): tools/build_zk_tls.sh builds '
            'one, point ZOOKEEPER_C_LIBRARY at it') % zookeeper.LIBRARY)
    return ','.join(values)


def _host_of(node_name):
    return node_name.rsplit('@', 1)[0]


class _LeavingStop(object):
    """A service's stop() that leaves the group first."""

    def __init__(self, driver, member, group, original):
        self.driver = driver
        self.member = member
        self.group = group
        self.original = original

    def __call__(self, *args, **kwargs):
        self.driver.leave(self.member, self.group)
        return self.original(*args, **kwargs)


class ZooKeeperDriver(base.Driver):
    """ZooKeeper driver for the service group API."""

    def __init__(self, *args, **kwargs):
        _check_config()
        for host in zkaddress.unresolvable(CONF.zookeeper.address):
            # only a warning: a name server down at start must not keep
            # the service from starting; the session keeps trying
            LOG.warning('ZooKeeperDriver: cannot resolve host %(host)s of '
                        '[zookeeper] address %(addr)s; trying again',
                        {'host': host, 'addr': CONF.zookeeper.address})
        if not CONF.debug:
            zksession.quiet_c_client()
        self._model = concurrency.get(
            'threading' if utils.concurrency_mode_threading() else 'eventlet')
        self._lock = self._model.lock()
        self._session = None
        self._groups = {}
        self._members = {}
        atexit.register(self._close_at_exit)
        # once per fork rather than a getpid() in every is_up (the
        # scheduler's hot path)
        os.register_at_fork(after_in_child=self._forked)

    # -- the session -------------------------------------------------------

    def _forked(self):
        """In a child of the process that opened the session: the parent's
        session, groups and members are not this process's (the binding
        forgets inherited handles; their threads did not cross the fork)."""
        self._lock = self._model.lock()
        self._session = None
        self._groups = {}
        self._members = {}

    def _get_session(self):
        with self._lock:
            if self._session is None or self._session.closed:
                conf = CONF.zookeeper
                certs = _tls_certificates()
                self._session = zksession.Session(
                    conf.address, self._model,
                    recv_timeout_ms=conf.recv_timeout,
                    auth_digest=conf.auth_digest,
                    world_read=conf.acl_world_read, name='nova-zk',
                    ssl=certs)
                LOG.info('ZooKeeper servicegroup driver: session to %s '
                         '(%s mode)%s', conf.address, self._model.name,
                         ', over TLS, servers verified against the CA %s '
                         '(the certificate chain, not the host name)'
                         % conf.ssl_ca_file if certs else '')
            return self._session

    def _group_path(self, group):
        return '%s/%s' % (CONF.zookeeper.sg_prefix, group)

    # -- members -----------------------------------------------------------

    def join(self, member, group, service=None):
        """Add ``member`` (a host) to ``group`` (a topic), and leave again
        when ``service`` stops."""
        names.check('topic', group)
        names.check('host', member)
        LOG.debug('ZooKeeperDriver: join new member %(id)s to the %(gr)s '
                  'group, service=%(sr)s',
                  {'id': member, 'gr': group, 'sr': service})
        session = self._get_session()
        self.leave(member, group)
        token = '%d-%s' % (os.getpid(), uuid.uuid4().hex[:8])
        joined = membership.Member(
            session, self._group_path(group), '%s@%s' % (member, token),
            retry_interval=CONF.zookeeper.sg_retry_interval)
        self._members[(member, group)] = joined
        if service is not None:
            self._leave_on_stop(service, member, group)
        if not joined.joined.wait(session.recv_timeout_ms / 1000.0):
            LOG.warning('ZooKeeperDriver: %(id)s is not in the %(gr)s group '
                        'yet (ZooKeeper %(addr)s%(why)s); it keeps trying',
                        {'id': member, 'gr': group,
                         'addr': CONF.zookeeper.address,
                         'why': ': %s' % joined.last_error
                         if joined.last_error else ''})
        return joined

    def _leave_on_stop(self, service, member, group):
        # Nova 34's Service.stop() does not tell the servicegroup driver:
        # without this a stopped service would read as up until its
        # process exits.
        current = service.stop
        if isinstance(current, _LeavingStop):
            current = current.original
        service.stop = _LeavingStop(self, member, group, current)

    def leave(self, member, group):
        """Take ``member`` out of ``group`` now; False if it was not in."""
        joined = self._members.pop((member, group), None)
        if joined is None:
            return False
        LOG.debug('ZooKeeperDriver: %(id)s leaves the %(gr)s group',
                  {'id': member, 'gr': group})
        return joined.leave()

    # -- readers -----------------------------------------------------------

    def _members_of(self, topic):
        """host -> newest join time (ms) of the topic's live members."""
        group = self._groups.get(topic)
        if group is None:
            names.check('topic', topic)
            session = self._get_session()
            with self._lock:
                group = self._groups.get(topic)
                if group is None:
                    group = membership.Group(
                        session, self._group_path(topic),
                        retry_interval=CONF.zookeeper.sg_retry_interval,
                        key=_host_of)
                    self._groups[topic] = group
            group.ready.wait(FIRST_READ_TIMEOUT)
        members = group.members()
        if members is None:
            if group.last_error:
                raise ServiceGroupUnavailable(reason=_(
                    '%s; not reporting anything as down') % group.last_error)
            raise ServiceGroupUnavailable(reason=_(
                'no connection to ZooKeeper at %s (or the members of %r '
                'are not read yet); not reporting anything as down')
                % (CONF.zookeeper.address, topic))
        return members

    def is_up(self, service_ref):
        return service_ref['host'] in self._members_of(service_ref['topic'])

    def updated_time(self, service_ref):
        """The newer of the row's updated_at and the service's last join."""
        db_time = service_ref['updated_at']
        try:
            ctime = self._members_of(service_ref['topic']).get(
                service_ref['host'])
        except ServiceGroupUnavailable:
            ctime = None
        if ctime is None:
            return db_time
        joined = datetime.datetime.fromtimestamp(ctime / 1000.0,
                                                 datetime.timezone.utc)
        if db_time is not None and db_time.tzinfo is None:
            joined = joined.replace(tzinfo=None)
        if db_time is None or db_time < joined:
            return joined
        return db_time

    # -- the end -----------------------------------------------------------

    def _close_at_exit(self):
        if self._session is not None:
            self._members = {}
            self._session.close()

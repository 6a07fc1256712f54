# vim: tabstop=4 shiftwidth=4 softtabstop=4

# Service heartbeat driver using Memcached, after the driver of Grizzly
# (2013.1) by Akira Yoshiyama, itself derived from the db driver.
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

"""The memcached ServiceGroup driver.

Every ``report_interval`` a worker sets the key ``<topic>:<host>`` to the
current UTC time with an expiry of ``service_down_time``: memcached forgets
the key on its own once the worker stops beating, so a service is up while
its key exists.  As in Grizzly, the heartbeat writes nothing to the
database: the ``services`` row keeps its report_count and updated_at of
creation.

What differs from Grizzly's driver:

* python-memcached reports a failed ``set`` by returning 0, not by raising,
  so Grizzly's worker never noticed a lost server; here a refused heartbeat
  is logged once as "went away", and once more when it is stored again.
* A reader that reaches no memcached server at all raises
  ServiceGroupUnavailable instead of reporting every service down: "unknown"
  is not "down".
* The first heartbeat goes out when the service joins, not one
  report_interval later, and a malformed or empty ``memcached_servers``
  stops the service at start, naming the option.
"""

import re

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova import context
from nova import db
from nova import exception
from nova.openstack.common.gettextutils import _
from nova.openstack.common import log as logging
from nova.openstack.common import memorycache
from nova.openstack.common import timeutils
from nova.servicegroup import api
from nova import utils

CONF = cfg.CONF
CONF.import_opt('service_down_time', 'nova.service')
CONF.import_opt('memcached_servers', 'nova.openstack.common.memorycache')

LOG = logging.getLogger(__name__)

# Seconds a client leaves a server alone after a failure.  python-memcached
# waits 30 by default, and marks a server dead even when its one retry on a
# stale connection (after a memcached restart) would have succeeded: with 0,
# every heartbeat and every read tries the server again.
DEAD_RETRY = 0

_UNIX = re.compile(r'^unix:(?P<path>.+)$')
_INET6 = re.compile(r'^inet6:\[(?P<host>[^\[\]]+)\](:(?P<port>[^:]*))?$')
_INET = re.compile(r'^(inet:)?(?P<host>[^:]+)(:(?P<port>[^:]*))?$')


class InvalidMemcachedConfig(exception.ConfigInvalid):
    message = _("Invalid [DEFAULT] memcached_servers %(value)r: %(reason)s")


def check_servers(servers):
    """Check the entries of ``memcached_servers``; return them stripped.

    Each entry is ``host:port``, ``inet6:[addr]:port``
    or ``unix:/path``, as python-memcached reads them.  Raises
    InvalidMemcachedConfig naming the option, so that a typo fails at start
    rather than as a worker that is never up.
    """
    def invalid(reason):
        return InvalidMemcachedConfig(option='memcached_servers',
                                      value=servers, reason=reason)

    entries = [entry.strip() for entry in (servers or [])]
    if not [entry for entry in entries if entry]:
        raise invalid(_('the mc servicegroup driver needs at least one '
                        'memcached server: set memcached_servers = '
                        'host1:port,host2:port in [DEFAULT]'))
    for entry in entries:
        if _UNIX.match(entry):
            continue
        match = _INET6.match(entry) or _INET.match(entry)
        if not entry or not match:
            raise invalid(_('%r is not host:port') % entry)
        host, port = match.group('host'), match.group('port')
        if port is None:
            # python-memcached would take port 11211, and so a typo for
            # a server: the option is documented as host:port.
            raise invalid(_('%r has no port: write host:port') % entry)
        try:
            port_number = int(port)
        except ValueError:
            port_number = 0
        if not 0 < port_number < 65536:
            raise invalid(_('port %(port)r of %(entry)r is not a number '
                            'from 1 to 65535') % {'port': port,
                                                  'entry': entry})
        if not host or ' ' in host or '/' in host:
            raise invalid(_('host %r is not a host name or address') % host)
    return entries


def _key(service_ref):
    return str('%s:%s' % (service_ref['topic'], service_ref['host']))


class MemcachedDriver(api.ServiceGroupDriver):

    def __init__(self, *args, **kwargs):
        self.servers = check_servers(CONF.memcached_servers)
        self.mc = memorycache.get_client(self.servers, dead_retry=DEAD_RETRY)

    def join(self, member_id, group_id, service=None):
        """Join the given service with its group: start the heartbeat."""
        msg = _('Memcached_Driver: join new ServiceGroup member '
                '%(member_id)s to the %(group_id)s group, '
                'service = %(service)s')
        LOG.debug(msg, {'member_id': member_id, 'group_id': group_id,
                        'service': service})
        if service is None:
            raise RuntimeError(_('service is a mandatory argument for '
                                 'Memcached based ServiceGroup driver'))
        report_interval = service.report_interval
        if report_interval:
            # The first beat goes out at once (Grizzly waited one interval):
            # a service is up as soon as it joined, as with the db driver,
            # whose fresh row counts from its created_at.
            pulse = utils.FixedIntervalLoopingCall(self._report_state,
                                                   service)
            pulse.start(interval=report_interval)
            return pulse

    def is_up(self, service_ref):
        """True while the service's key lives: it beat less than
        service_down_time ago.

        Raises ServiceGroupUnavailable when no memcached server answers.
        """
        key = _key(service_ref)
        is_up = self.mc.get(key) is not None
        if not is_up:
            if not self.mc.get_stats():
                raise exception.ServiceGroupUnavailable(
                    driver='MemcachedDriver (memcached at %s)'
                    % ','.join(self.servers))
            LOG.debug(_('Seems service %s is down'), key)
        return is_up

    def get_all(self, group_id):
        """The hosts of the enabled services of the group that are up."""
        LOG.debug(_('Memcached_Driver: get_all members of the %s group'),
                  group_id)
        ctxt = context.get_admin_context()
        services = db.service_get_all_by_topic(ctxt, group_id)
        return [service['host'] for service in services
                if self.is_up(service)]

    def leave(self, member_id, group_id):
        # The heartbeat stops with the timer that join() returned; the key
        # expires service_down_time after the last beat.
        LOG.debug(_('Memcached_Driver: leave of %(member)s from %(group)s is '
                    'the end of its heartbeat'),
                  {'member': member_id, 'group': group_id})

    def cleanup(self):
        """Close this thread's connections (tests, shutdown)."""
        self.mc.disconnect_all()

    def _report_state(self, service):
        """Set the service's key, to expire after service_down_time."""
        key = _key(service.service_ref)
        try:
            # memcached has data expiration time capability.
            # set(..., time=CONF.service_down_time) uses it and
            # reduces key-deleting code.  python-memcached returns 0 when
            # no server took the value.
            stored = self.mc.set(key, timeutils.utcnow(),
                                 time=CONF.service_down_time)
        # The worker must outlive whatever goes wrong here; the outage is
        # logged once, and so is the recovery.
        except Exception:
            if not getattr(service, 'model_disconnected', False):
                service.model_disconnected = True
                LOG.exception(_('memcached server went away: heartbeat of '
                                '%s failed'), key)
            return
        if not stored:
            if not getattr(service, 'model_disconnected', False):
                service.model_disconnected = True
                LOG.error(_('memcached server went away: heartbeat of '
                            '%(key)s not stored on %(servers)s'),
                          {'key': key, 'servers': ','.join(self.servers)})
        elif getattr(service, 'model_disconnected', False):
            service.model_disconnected = False
            LOG.error(_('Recovered memcached server connection: heartbeat '
                        'of %s stored again'), key)

# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""The database ServiceGroup driver: heartbeats in the services table."""

import datetime

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova import context
from nova import db
from nova.openstack.common.gettextutils import _
from nova.openstack.common import log as logging
from nova.openstack.common import timeutils
from nova.servicegroup import api
from nova import utils

CONF = cfg.CONF
CONF.import_opt('service_down_time', 'nova.service')

LOG = logging.getLogger(__name__)


class DbDriver(api.ServiceGroupDriver):

    def __init__(self, *args, **kwargs):
        self.db_allowed = kwargs.get('db_allowed', True)

    def join(self, member_id, group_id, service=None):
        """Join the given service with it's group."""
        msg = _('DB_Driver: join new ServiceGroup member %(member_id)s to '
                'the %(group_id)s group, service = %(service)s')
        LOG.debug(msg, {'member_id': member_id, 'group_id': group_id,
                        'service': service})
        if service is None:
            raise RuntimeError(_('service is a mandatory argument for DB based'
                                 ' ServiceGroup driver'))
        report_interval = service.report_interval
        if report_interval:
            pulse = utils.FixedIntervalLoopingCall(self._report_state,
                                                   service)
            pulse.start(interval=report_interval,
                        initial_delay=report_interval)
            return pulse

    def is_up(self, service_ref):
        """Moved from nova.utils
        Check whether a service is up based on last heartbeat.
        """
        last_heartbeat = service_ref['updated_at'] or service_ref['created_at']
        if isinstance(last_heartbeat, datetime.datetime):
            last_heartbeat = last_heartbeat.replace(tzinfo=None)
        else:
            last_heartbeat = timeutils.parse_strtime(last_heartbeat)
        # Timestamps in DB are UTC.
        elapsed = timeutils.total_seconds(timeutils.utcnow() - last_heartbeat)
        LOG.debug('DB_Driver.is_up last_heartbeat = %(lhb)s elapsed = %(el)s',
                  {'lhb': str(last_heartbeat), 'el': str(elapsed)})
        return abs(elapsed) <= CONF.service_down_time

    def get_all(self, group_id):
        """Returns ALL members of the given group."""
        LOG.debug(_('DB_Driver: get_all members of the %s group'), group_id)
        ctxt = context.get_admin_context()
        services = db.service_get_all_by_topic(ctxt, group_id)
        return [service['host'] for service in services
                if self.is_up(service)]

    def leave(self, member_id, group_id):
        # The heartbeat stops with the timer that join() returned; the row
        # ages out after service_down_time.
        LOG.debug(_('DB_Driver: leave of %(member)s from %(group)s is the '
                    'end of its heartbeat'),
                  {'member': member_id, 'group': group_id})

    def _report_state(self, service):
        """Update the state of this service in the datastore."""
        ctxt = context.get_admin_context()
        try:
            report_count = service.service_ref['report_count'] + 1
            service.service_ref = db.service_update(
                ctxt, service.service_ref['id'],
                {'report_count': report_count})
            if getattr(service, 'model_disconnected', False):
                service.model_disconnected = False
                LOG.error(_('Recovered model server connection!'))
        # The worker must outlive a database outage, whatever its cause;
        # the outage is logged once, and so is the recovery.
        except Exception:
            if not getattr(service, 'model_disconnected', False):
                service.model_disconnected = True
                LOG.exception(_('model server went away'))

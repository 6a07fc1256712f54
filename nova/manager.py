# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""The base of the objects that do a service's work."""

from nova.openstack.common import log as logging

LOG = logging.getLogger(__name__)


class Manager(object):
    def __init__(self, host=None, db_driver=None, service_name='undefined'):
        self.host = host
        self.service_name = service_name

    def init_host(self):
        """Hook run once before the service joins its group."""
        pass

    def pre_start_hook(self):
        pass

    def post_start_hook(self):
        pass

    def periodic_tasks(self, context, raise_on_error=False):
        """Nothing to do periodically here; subclasses add their tasks."""
        return None

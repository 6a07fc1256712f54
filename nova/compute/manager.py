# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""The compute manager of this tree: a worker with no hypervisor.

This project tracks the liveness of compute nodes; the manager only does
what a worker needs for that, and logs that it has no virt driver.
"""

from nova.openstack.common.gettextutils import _
from nova.openstack.common import log as logging
from nova import manager

LOG = logging.getLogger(__name__)


class ComputeManager(manager.Manager):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault('service_name', 'compute')
        super(ComputeManager, self).__init__(*args, **kwargs)

    def init_host(self):
        LOG.info(_('compute manager on %s: no virt driver, liveness only'),
                 self.host)

# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Starter script for Nova Compute: a worker that joins its service group."""

import sys

from nova import utils

# Green the stdlib before anything else imports it.
utils.monkey_patch()

try:  # noqa: E402
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova import cmd  # noqa: E402
from nova import exception  # noqa: E402
from nova.openstack.common import log as logging  # noqa: E402
from nova import service  # noqa: E402

CONF = cfg.CONF
CONF.import_opt('compute_topic', 'nova.service')
LOG = logging.getLogger('nova.compute')


def main(argv=None):
    argv = sys.argv if argv is None else argv
    try:
        cmd.setup('nova-compute', argv)
    except cmd.StartupError as e:
        sys.stderr.write('%s\n' % e)
        return 2
    try:
        server = service.Service.create(binary='nova-compute',
                                        topic=CONF.compute_topic)
        service.serve(server)
    except (exception.NovaException, TypeError, RuntimeError) as e:
        LOG.error('nova-compute could not start: %s', e)
        sys.stderr.write('nova-compute: %s\n' % e)
        return 1
    service.wait()
    return 0


if __name__ == '__main__':
    sys.exit(main())

# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Where nova keeps its state on this host."""

import os

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

path_opts = [
    cfg.StrOpt('pybasedir',
               default=os.path.abspath(os.path.join(os.path.dirname(__file__),
                                                    '../')),
               help='Directory where the nova python module is installed'),
    cfg.StrOpt('state_path',
               default='/var/lib/nova',
               help="Top-level directory for maintaining nova's state"),
]

CONF = cfg.CONF
CONF.register_opts(path_opts)


def state_path_def(*args):
    """The default of an option that lives under state_path."""
    return os.path.join('$state_path', *args)

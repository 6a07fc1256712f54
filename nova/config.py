# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Parse a command's arguments and config files into cfg.CONF."""

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova import version

CONF = cfg.CONF


def parse_args(argv, default_config_files=None):
    """Read ``argv[1:]`` and the config files it names.

    Without --config-file, /etc/nova/nova.conf is read when it exists.
    """
    CONF(argv[1:], project='nova', version=version.version_string(),
         default_config_files=default_config_files)

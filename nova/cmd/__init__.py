# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""What the commands share: a start-up that fails in one line.

A wrong option value (oslo.config checks types when an option is first
read, long after parsing) or a log file that cannot be opened must end the
command with one line naming the option or the file, not a traceback.
"""

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova import config
from nova.openstack.common import importutils
from nova.openstack.common import log as logging
from nova.servicegroup import api as servicegroup_api


class StartupError(Exception):
    """A start-up problem, already phrased for the operator."""


def setup(prog, argv):
    """Parse ``argv``, read every option once, set up logging.

    Raises StartupError with the one line to print.
    """
    try:
        config.parse_args(argv)
        # The driver's module declares its options ([zookeeper] ...).
        driver = servicegroup_api.API._driver_name_class_mapping.get(
            cfg.CONF.servicegroup_driver)
        if driver:
            importutils.import_module(driver.rpartition('.')[0])
        _read_every_option()
    except cfg.ConfigFilesNotFoundError as e:
        raise StartupError('%s: could not read %s'
                           % (prog, ', '.join(e.config_files)))
    except cfg.Error as e:
        raise StartupError('%s: %s' % (prog, e))
    except ValueError as e:
        raise StartupError('%s: invalid option value: %s' % (prog, e))
    try:
        logging.setup('nova')
    except (IOError, OSError) as e:
        raise StartupError('%s: cannot open the log file %s: %s'
                           % (prog, e.filename, e.strerror or e))


def _read_every_option():
    """Read each option once: a mistyped value fails now, naming it."""
    for name in cfg.CONF:
        value = getattr(cfg.CONF, name)
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            for option in value:
                getattr(value, option)

# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Logging for nova: one logger per module and one setup() per command."""

import logging
import logging.handlers
import os
import sys

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg


common_cli_opts = [
    cfg.BoolOpt('debug', short='d', default=False,
                help='Print debugging output (set logging level to DEBUG '
                     'instead of default WARNING level).'),
    cfg.BoolOpt('verbose', short='v', default=False,
                help='Print more verbose output (set logging level to INFO '
                     'instead of default WARNING level).'),
]

logging_cli_opts = [
    cfg.StrOpt('log-file', metavar='PATH',
               help='(Optional) Name of log file to output to. If not '
                    'set, logging goes to stderr.'),
    cfg.StrOpt('log-dir',
               help='(Optional) The base directory used for relative '
                    '--log-file paths'),
    cfg.BoolOpt('use-syslog', default=False,
                help='Use syslog for logging.'),
]

log_opts = [
    cfg.StrOpt('logging_default_format_string',
               default='%(asctime)s.%(msecs)03d %(process)d %(levelname)s '
                       '%(name)s [-] %(message)s',
               help='format string to use for log messages'),
    cfg.StrOpt('log_date_format', default='%Y-%m-%d %H:%M:%S',
               help='Format string for %%(asctime)s in log records.'),
]

CONF = cfg.CONF
CONF.register_cli_opts(common_cli_opts)
CONF.register_cli_opts(logging_cli_opts)
CONF.register_opts(log_opts)


class NovaLoggerAdapter(logging.LoggerAdapter):
    """A logger that also offers Grizzly's ``audit`` level."""

    AUDIT = logging.INFO + 1

    # As Grizzly's ContextAdapter: Python 2.7's LoggerAdapter has no warn().
    warn = logging.LoggerAdapter.warning

    def __init__(self, logger):
        super(NovaLoggerAdapter, self).__init__(logger, {})

    def audit(self, msg, *args, **kwargs):
        self.log(self.AUDIT, msg, *args, **kwargs)

    def process(self, msg, kwargs):
        return msg, kwargs


logging.addLevelName(NovaLoggerAdapter.AUDIT, 'AUDIT')
_loggers = {}


def getLogger(name='unknown'):
    if name not in _loggers:
        _loggers[name] = NovaLoggerAdapter(logging.getLogger(name))
    return _loggers[name]


def _log_path():
    if not CONF.log_file:
        return None
    if CONF.log_dir and not os.path.isabs(CONF.log_file):
        return os.path.join(CONF.log_dir, CONF.log_file)
    return CONF.log_file


def setup(product_name):
    """Send the root logger where the options say, at the level they say."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    path = _log_path()
    if CONF.use_syslog:
        handler = logging.handlers.SysLogHandler(address='/dev/log')
    elif path:
        handler = logging.handlers.WatchedFileHandler(path)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        CONF.logging_default_format_string, CONF.log_date_format))
    root.addHandler(handler)
    if CONF.debug:
        root.setLevel(logging.DEBUG)
    elif CONF.verbose:
        root.setLevel(logging.INFO)
    else:
        root.setLevel(logging.WARNING)

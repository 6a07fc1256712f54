# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""The engine and sessions, made lazily in the process that uses them."""

import os

import sqlalchemy
from sqlalchemy import orm

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova import exception
from nova.openstack.common.gettextutils import _
from nova.openstack.common import log as logging
from nova import paths

sql_opts = [
    cfg.StrOpt('sql_connection',
               default='sqlite:///' + paths.state_path_def('$sqlite_db'),
               secret=True,
               help='The SQLAlchemy connection string used to connect to the '
                    'database'),
    cfg.StrOpt('sqlite_db', default='nova.sqlite',
               help='the filename to use with sqlite'),
    cfg.IntOpt('sql_idle_timeout', default=3600,
               help='timeout before idle sql connections are reaped'),
    cfg.IntOpt('sqlite_busy_timeout', default=30,
               help='seconds a SQLite writer waits for a lock held by '
                    'another process before it fails'),
]

CONF = cfg.CONF
CONF.register_opts(sql_opts)
LOG = logging.getLogger(__name__)

_ENGINE = None
_MAKER = None
_ENGINE_KEY = None


def _engine_key():
    # An engine must not cross a fork, and tests change sql_connection.
    return (os.getpid(), CONF.sql_connection)


def get_engine():
    global _ENGINE, _MAKER, _ENGINE_KEY
    key = _engine_key()
    if _ENGINE is None or _ENGINE_KEY != key:
        if _ENGINE is not None and _ENGINE_KEY[0] == key[0]:
            _ENGINE.dispose()
        _ENGINE = create_engine(CONF.sql_connection)
        _MAKER = orm.sessionmaker(bind=_ENGINE, expire_on_commit=False)
        _ENGINE_KEY = key
    return _ENGINE


def create_engine(url):
    try:
        parsed = sqlalchemy.engine.url.make_url(url)
    except Exception as e:
        raise exception.ConfigInvalid(option='sql_connection', reason=e)
    kwargs = {'pool_recycle': CONF.sql_idle_timeout}
    if parsed.drivername.startswith('sqlite'):
        if parsed.database:
            directory = os.path.dirname(os.path.abspath(parsed.database))
            if not os.path.isdir(directory):
                raise exception.ConfigInvalid(
                    option='sql_connection',
                    reason=_('directory %(dir)s of the SQLite database does '
                             'not exist (set state_path or sql_connection)')
                    % {'dir': directory})
        kwargs['connect_args'] = {'timeout': CONF.sqlite_busy_timeout}
    return sqlalchemy.create_engine(url, **kwargs)


def get_session():
    get_engine()
    return _MAKER()


def cleanup():
    global _ENGINE, _MAKER, _ENGINE_KEY
    if _ENGINE is not None:
        _ENGINE.dispose()
    _ENGINE = _MAKER = _ENGINE_KEY = None

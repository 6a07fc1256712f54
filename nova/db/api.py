# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""The database API: the functions callers use, whatever the backend.

Every function takes a RequestContext first.  Rows come back as model
objects that also read like dicts (``service['host']``).
"""

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova.openstack.common import importutils

db_opts = [
    cfg.StrOpt('db_backend', default='sqlalchemy',
               help='The backend to use for db'),
    cfg.BoolOpt('enable_new_services', default=True,
                help='Services to be added to the available pool on create'),
]

CONF = cfg.CONF
CONF.register_opts(db_opts)

_BACKENDS = {'sqlalchemy': 'nova.db.sqlalchemy.api'}


class _LazyBackend(object):
    """Import the backend on first use, so that reading options comes first."""

    def __init__(self):
        self._backend = None

    def __getattr__(self, key):
        if self._backend is None:
            try:
                name = _BACKENDS[CONF.db_backend]
            except KeyError:
                raise TypeError('unknown db_backend %r; valid: %s'
                                % (CONF.db_backend, ', '.join(_BACKENDS)))
            self._backend = importutils.import_module(name)
        return getattr(self._backend, key)


IMPL = _LazyBackend()


def service_get(context, service_id):
    """Get a service or raise ServiceNotFound."""
    return IMPL.service_get(context, service_id)


def service_get_by_args(context, host, binary):
    """The service of ``binary`` on ``host``, or HostBinaryNotFound."""
    return IMPL.service_get_by_args(context, host, binary)


def service_get_by_host_and_topic(context, host, topic):
    return IMPL.service_get_by_host_and_topic(context, host, topic)


def service_get_all(context, disabled=None):
    """All services, or only the (dis)abled ones."""
    return IMPL.service_get_all(context, disabled)


def service_get_all_by_topic(context, topic):
    """All enabled services of a topic."""
    return IMPL.service_get_all_by_topic(context, topic)


def service_get_all_by_host(context, host):
    return IMPL.service_get_all_by_host(context, host)


def service_create(context, values):
    return IMPL.service_create(context, values)


def service_update(context, service_id, values):
    """Update a service and return it; raise ServiceNotFound if missing."""
    return IMPL.service_update(context, service_id, values)


def service_destroy(context, service_id):
    """Mark a service deleted."""
    return IMPL.service_destroy(context, service_id)

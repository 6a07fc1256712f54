# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""The memcached client of nova, configured by ``memcached_servers``.

Grizzly's version fell back to an in-process dictionary when no server was
set.  Nothing here needs that fallback, and for the mc servicegroup driver
it would be wrong (every process would see only its own heartbeats), so an
empty ``memcached_servers`` is an error.
"""

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

memcache_opts = [
    cfg.ListOpt('memcached_servers',
                default=None,
                help='Memcached servers, as a list of host:port (the mc '
                     'servicegroup driver needs at least one)'),
]

CONF = cfg.CONF
CONF.register_opts(memcache_opts)


def get_client(memcached_servers=None, **kwargs):
    """A python-memcached ``memcache.Client`` of the given servers.

    ``memcached_servers`` defaults to the option of that name; keyword
    arguments (``dead_retry``, ``socket_timeout``, ...) go to the client.
    Raises ValueError when no server is set, or when python-memcached cannot
    parse one of them.
    """
    if not memcached_servers:
        memcached_servers = CONF.memcached_servers
    if not memcached_servers:
        raise ValueError('memcached_servers is not set: no memcached server '
                         'to talk to')
    import memcache
    return memcache.Client(list(memcached_servers), debug=0, **kwargs)

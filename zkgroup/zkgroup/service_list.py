"""nova-zk-service-list: Grizzly's ``nova-manage service list`` for Nova 34.

    nova-zk-service-list [--config-file F ...] [--host H] [--service B]

Nova 34's nova-manage has no ``service list``.  This command reads the
services through Nova's own objects (``nova.objects.ServiceList``, from
every cell when an API database is configured, else from the main
database) and asks Nova's servicegroup API, with the configured
``servicegroup_driver`` (db, mc or zk), which of them are up.  It prints
Grizzly's columns (``ROW``): Binary, Host, Zone, Status (enabled or
disabled), State (``:-)`` up, ``XXX`` down) and Updated_At (the driver's
``updated_time``, else the row's ``updated_at``).

Exit status: 0 listed; 3 the servicegroup driver cannot tell (the backend,
such as ZooKeeper, is unreachable: one line on stderr says why, and nothing
is listed, so that an outage never reads as a column of XXX); 2 the
configuration is wrong (a driver's own options, such as [zookeeper]
address, included); 1 the services cannot be read (a database or a cell
that does not answer).
"""

import logging as _std_logging
import sys
import warnings


def _quiet_eventlet_banners():
    """In eventlet mode, eventlet and Nova each print a deprecation notice
    on stderr at import; this command's stderr is its one line of error
    (--debug shows them)."""
    if '--debug' in sys.argv or '-d' in sys.argv:
        return
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

    class _Drop(_std_logging.Filter):
        def filter(self, record):
            return 'concurrency mode is deprecated' not in str(record.msg)
    _std_logging.getLogger('nova.monkey_patch').addFilter(_Drop())


_quiet_eventlet_banners()

# Like nova-compute and nova-scheduler: native threading unless
# OS_NOVA_DISABLE_EVENTLET_PATCHING or [DEFAULT] concurrency_backend say
# otherwise.  This must come before anything else of Nova.
from nova import monkey_patch  # noqa: E402
monkey_patch.patch(backend='threading')

import argparse  # noqa: E402

from oslo_config import cfg  # noqa: E402
from oslo_log import log as logging  # noqa: E402

import nova.conf  # noqa: E402
from nova import config  # noqa: E402
from nova import context as nova_context  # noqa: E402
from nova import objects  # noqa: E402
from nova import rpc  # noqa: E402
from nova import servicegroup  # noqa: E402

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

PROG = 'nova-zk-service-list'
ROW = '%-16s %-36s %-16s %-10s %-5s %-10s'
HEADER = ('Binary', 'Host', 'Zone', 'Status', 'State', 'Updated_At')


class CannotRead(Exception):
    """The services could not be read (the message says where)."""


def _zone(service):
    """The availability zone as Nova's set_availability_zones gives it
    when there are no aggregates (no API database)."""
    if service.topic == 'compute':
        return CONF.default_availability_zone
    return CONF.internal_service_availability_zone


def read_services(ctxt):
    """Every service record, as (Service, zone) pairs."""
    if not CONF.api_database.connection:
        # One database and no cells (the layout of Grizzly's time).
        return [(svc, _zone(svc))
                for svc in objects.ServiceList.get_all(ctxt)]
    results = nova_context.scatter_gather_all_cells(
        ctxt, objects.ServiceList.get_all, set_zones=True)
    rows = []
    problems = []
    for cell_uuid, result in sorted(results.items()):
        if nova_context.is_cell_failure_sentinel(result):
            problems.append('cell %s: %s' % (
                cell_uuid,
                'no answer' if result is nova_context.did_not_respond_sentinel
                else result))
            continue
        rows.extend((svc, svc.availability_zone) for svc in result)
    if problems:
        raise CannotRead('cannot read the services of %s'
                         % '; '.join(problems))
    return rows


def _updated_at(api, service):
    """What the driver says the service last did, else its row's
    updated_at (what Grizzly printed)."""
    try:
        updated = api.get_updated_time(service)
    except NotImplementedError:
        updated = None
    return updated if updated is not None else service.updated_at


def list_services(host=None, binary=None, out=sys.stdout, err=sys.stderr,
                  api=None):
    """Print the table; returns the exit status."""
    ctxt = nova_context.get_admin_context()
    try:
        rows = read_services(ctxt)
    except CannotRead as e:
        print('%s: %s' % (PROG, e), file=err)
        return 1
    except Exception as e:  # a database that does not answer
        print('%s: cannot read the services: %s' % (PROG, e), file=err)
        return 1
    if host:
        rows = [r for r in rows if r[0].host == host]
    if binary:
        rows = [r for r in rows if r[0].binary == binary]
    # Ask the driver about every service before printing anything, so that
    # an unreachable backend reads as one clear error.
    try:
        api = api or servicegroup.API()
        states = [(api.service_is_up(svc), _updated_at(api, svc))
                  for svc, _zone_name in rows]
    except Exception as e:
        message = str(e) or type(e).__name__
        if 'cannot tell' not in message.lower():
            message = 'cannot tell which services are up: ' + message
        print('%s: %s (servicegroup_driver=%s)'
              % (PROG, message, CONF.servicegroup_driver), file=err)
        return 3
    print(ROW % HEADER, file=out)
    for (svc, zone), (alive, updated) in zip(rows, states):
        print(ROW % (svc.binary, svc.host, zone,
                     'disabled' if svc.disabled else 'enabled',
                     ':-)' if alive else 'XXX', updated), file=out)
    return 0


def main(argv=None):
    argv = list(sys.argv if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog=PROG, add_help=False,
        description="Grizzly's nova-manage service list for Nova 34: "
                    "every service, and whether the servicegroup driver "
                    "says it is up.")
    parser.add_argument('--host', help='only the services of this host')
    parser.add_argument('--service', metavar='BINARY',
                        help='only this binary (e.g. nova-compute)')
    parser.add_argument('-h', '--help', action='store_true')
    ours, rest = parser.parse_known_args(argv[1:])
    if ours.help:
        parser.print_help()
        print('\nNova options (such as --config-file) are read as by '
              'nova-manage; exit 0 listed, 1 cannot read the services, '
              '2 bad configuration, 3 the servicegroup driver cannot tell.')
        return 0
    try:
        # as nova-manage: the RPC options too (a cell mapping's
        # transport_url is read through them); nothing connects
        config.parse_args([argv[0]] + rest)
        # stdout is the table: logs go to stderr, and only errors unless
        # --debug (the command says itself what went wrong)
        CONF.set_default('use_stderr', True)
        if not CONF.debug:
            logging.set_defaults(default_log_levels=(
                logging.get_default_log_levels()
                + ['nova=ERROR', 'zkgroup=ERROR', 'oslo_db=ERROR']))
        logging.setup(CONF, 'nova')
        objects.register_all()
        CONF.servicegroup_driver  # a wrong value raises here
    except (cfg.Error, ValueError) as e:
        print('%s: %s' % (PROG, e), file=sys.stderr)
        return 2
    try:
        # the driver checks its options here, before anything connects:
        # a typo in [zookeeper] address is a configuration error (2), not
        # a backend that cannot tell (3)
        api = servicegroup.API()
    except Exception as e:
        print('%s: %s' % (PROG, str(e) or type(e).__name__), file=sys.stderr)
        return 2
    try:
        return list_services(host=ours.host, binary=ours.service, api=api)
    finally:
        rpc.cleanup()


if __name__ == '__main__':
    sys.exit(main())

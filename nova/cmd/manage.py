# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""CLI interface for nova management: services and the database.

    nova-manage [--config-file F] service list [--host H] [--service B]
    nova-manage service enable|disable --host H --service B
    nova-manage db sync [--version V]
    nova-manage db version
"""

from __future__ import print_function

import sys

try:
    from oslo.config import cfg
except ImportError:
    from oslo_config import cfg

from nova import cmd
from nova import context
from nova import db
from nova.db import migration
from nova import exception
from nova.openstack.common.gettextutils import _
from nova import servicegroup

CONF = cfg.CONF


def args(*args, **kwargs):
    """Declare a command-line argument of a command method."""
    def _decorator(func):
        func.__dict__.setdefault('args', []).insert(0, (args, kwargs))
        return func
    return _decorator


class ServiceCommands(object):
    """Enable and disable running services."""

    @args('--host', dest='host', metavar='<host>', help='Host')
    @args('--service', dest='service', metavar='<service>',
          help='Nova service')
    def list(self, host=None, service=None):
        """Show a list of all running services. Filter by host & service
        name.
        """
        servicegroup_api = servicegroup.API()
        ctxt = context.get_admin_context()
        services = db.service_get_all(ctxt)
        if host:
            services = [s for s in services if s['host'] == host]
        if service:
            services = [s for s in services if s['binary'] == service]
        # Ask the driver before printing anything, so that an unreachable
        # backend reads as one clear error, not as a column of XXX.
        try:
            states = [servicegroup_api.service_is_up(svc) for svc in services]
        except exception.ServiceGroupUnavailable as e:
            print(_('Cannot tell which services are up: %(error)s '
                    '(servicegroup_driver=%(driver)s)')
                  % {'error': e, 'driver': CONF.servicegroup_driver},
                  file=sys.stderr)
            return 3
        print_format = "%-16s %-36s %-16s %-10s %-5s %-10s"
        print(print_format % (_('Binary'), _('Host'), _('Zone'),
                              _('Status'), _('State'), _('Updated_At')))
        for svc, alive in zip(services, states):
            art = (alive and ":-)") or "XXX"
            active = 'enabled'
            if svc['disabled']:
                active = 'disabled'
            print(print_format % (svc['binary'], svc['host'],
                                  svc['availability_zone'], active, art,
                                  svc['updated_at']))
        return 0

    def _set_disabled(self, host, service, disabled):
        if not host or not service:
            print(_('Both --host and --service are required'),
                  file=sys.stderr)
            return 2
        ctxt = context.get_admin_context()
        try:
            svc = db.service_get_by_args(ctxt, host, service)
        except exception.NotFound as e:
            print(e, file=sys.stderr)
            return 1
        db.service_update(ctxt, svc['id'], {'disabled': disabled})
        print(_('Service %(service)s on host %(host)s %(state)s.')
              % {'service': service, 'host': host,
                 'state': disabled and _('disabled') or _('enabled')})
        return 0

    @args('--host', dest='host', metavar='<host>', help='Host')
    @args('--service', dest='service', metavar='<service>',
          help='Nova service')
    def enable(self, host=None, service=None):
        """Enable scheduling for a service."""
        return self._set_disabled(host, service, False)

    @args('--host', dest='host', metavar='<host>', help='Host')
    @args('--service', dest='service', metavar='<service>',
          help='Nova service')
    def disable(self, host=None, service=None):
        """Disable scheduling for a service."""
        return self._set_disabled(host, service, True)


class DbCommands(object):
    """Class for managing the database."""

    @args('--version', dest='version', metavar='<version>',
          help='Database version')
    def sync(self, version=None):
        """Sync the database up to the most recent version."""
        version = migration.db_sync(version)
        print(_('database schema at version %s') % version)
        return 0

    def version(self):
        """Print the current database version."""
        print(migration.db_version())
        return 0


CATEGORIES = {
    'db': DbCommands,
    'service': ServiceCommands,
}


def add_command_parsers(subparsers):
    for category in sorted(CATEGORIES):
        command_object = CATEGORIES[category]()
        parser = subparsers.add_parser(category)
        parser.set_defaults(command_object=command_object)
        category_subparsers = parser.add_subparsers(dest='action')
        category_subparsers.required = True
        for action in sorted(a for a in dir(command_object)
                             if not a.startswith('_')):
            action_fn = getattr(command_object, action)
            action_parser = category_subparsers.add_parser(
                action, help=(action_fn.__doc__ or '').strip().split('\n')[0])
            for pargs, kwargs in getattr(action_fn, 'args', []):
                kwargs = dict(kwargs)
                kwargs['dest'] = 'action_kwarg_' + kwargs.get('dest',
                                                              pargs[0][2:])
                action_parser.add_argument(*pargs, **kwargs)
            action_parser.set_defaults(action_fn=action_fn)
            action_parser.set_defaults(action_kwargs=[
                kwargs.get('dest', pargs[0][2:]).replace('action_kwarg_', '')
                for pargs, kwargs in getattr(action_fn, 'args', [])])


category_opt = cfg.SubCommandOpt('category', title='Command categories',
                                 help='Available categories',
                                 handler=add_command_parsers)


def main(argv=None):
    """Parse options and call the appropriate class/method."""
    argv = sys.argv if argv is None else argv
    CONF.register_cli_opt(category_opt)
    try:
        cmd.setup('nova-manage', argv)
    except cmd.StartupError as e:
        print(e, file=sys.stderr)
        return 2
    fn = CONF.category.action_fn
    fn_kwargs = {}
    for name in CONF.category.action_kwargs:
        fn_kwargs[name] = getattr(CONF.category, 'action_kwarg_' + name)
    try:
        return fn(**fn_kwargs) or 0
    except exception.NovaException as e:
        print('nova-manage: %s' % e, file=sys.stderr)
        return 1
    except TypeError as e:
        # An unknown servicegroup_driver names the valid ones.
        print('nova-manage: %s' % e, file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())

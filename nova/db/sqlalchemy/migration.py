# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Schema versions of the SQLAlchemy backend, applied in order.

Each step is a function of the connection; ``migrate_version`` keeps the
number of the last one applied, so ``db sync`` upgrades an older database
and is a no-op on a current one.
"""

import sqlalchemy
from sqlalchemy import Column, Integer, MetaData, String, Table

from nova import exception
from nova.db.sqlalchemy import models
from nova.db.sqlalchemy.session import get_engine
from nova.openstack.common.gettextutils import _

REPOSITORY = 'nova'


def _version_table(meta):
    return Table('migrate_version', meta,
                 Column('repository_id', String(250), primary_key=True),
                 Column('version', Integer))


def _create_services(connection):
    models.Service.__table__.create(connection, checkfirst=True)


MIGRATIONS = [_create_services]


def _current(connection, table):
    row = connection.execute(
        table.select().where(table.c.repository_id == REPOSITORY)).first()
    return row.version if row else 0


def db_version():
    engine = get_engine()
    meta = MetaData()
    table = _version_table(meta)
    with engine.connect() as connection:
        if not sqlalchemy.inspect(connection).has_table('migrate_version'):
            return 0
        return _current(connection, table)


def db_sync(version=None):
    latest = len(MIGRATIONS)
    if version is None:
        version = latest
    try:
        version = int(version)
    except ValueError:
        raise exception.InvalidInput(reason=_('version should be an integer'))
    if not 0 <= version <= latest:
        raise exception.InvalidInput(
            reason=_('version %(v)s out of range 0..%(l)s')
            % {'v': version, 'l': latest})
    engine = get_engine()
    meta = MetaData()
    table = _version_table(meta)
    with engine.begin() as connection:
        table.create(connection, checkfirst=True)
        current = _current(connection, table)
        if current > version:
            raise exception.InvalidInput(reason=_(
                'database is at version %(c)s; downgrades are not '
                'supported') % {'c': current})
        for step in range(current, version):
            MIGRATIONS[step](connection)
        if current == 0:
            connection.execute(table.insert().values(
                repository_id=REPOSITORY, version=version))
        else:
            connection.execute(table.update().where(
                table.c.repository_id == REPOSITORY).values(version=version))
    return version

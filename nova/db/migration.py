# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Create or upgrade the database schema."""

from nova.db.sqlalchemy import migration as IMPL


def db_sync(version=None):
    """Bring the schema to ``version`` (default: the newest)."""
    return IMPL.db_sync(version=version)


def db_version():
    """The schema version of the database, 0 for an empty one."""
    return IMPL.db_version()

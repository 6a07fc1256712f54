"""Make every SQLite connection of this Python run PRAGMA legacy_alter_table.

Grizzly's migration 147 renames tables inside a transaction the way SQLite
allowed before 3.26; newer SQLite rewrites the references of other tables
to the renamed one and the migration fails ("NoSuchTableError:
migration_tmp"), so `nova-manage db sync` and every Grizzly test that
builds a database fail.  The pragma restores the old behaviour.

tools/py27/build_venv.sh installs this module into the virtualenv's
site-packages with a .pth file that imports it at start-up, so Grizzly's
own code stays as released.
"""

import sqlite3
from sqlite3 import dbapi2

_connect = dbapi2.connect


def connect(*args, **kwargs):
    conn = _connect(*args, **kwargs)
    conn.execute('PRAGMA legacy_alter_table=ON')
    return conn


if getattr(dbapi2.connect, '__module__', None) != __name__:
    dbapi2.connect = sqlite3.connect = connect

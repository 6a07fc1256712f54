"""A program that never closes what it opened: interpreter shutdown runs
the __del__ methods.

usage: evzk_shutdown_script.py ADDRESS BASEPATH RECV_TIMEOUT

Leaves a session with an ephemeral node, a Membership and a
MembershipMonitor in module globals, a second session in a dropped local,
prints "ready" and returns from the main module.
"""

import sys

import eventlet

import evzookeeper
from evzookeeper import membership
from evzookeeper import utils

ADDRESS, BASEPATH, RECV_TIMEOUT = sys.argv[1], sys.argv[2], int(sys.argv[3])

session = evzookeeper.ZKSession(ADDRESS, timeout=10,
                                recv_timeout=RECV_TIMEOUT)
session.create(BASEPATH + '-eph', 'x', None, evzookeeper.zookeeper.EPHEMERAL)
member = membership.Membership(session, BASEPATH, 'at-exit')
monitor = membership.MembershipMonitor(session, BASEPATH)
condition = utils.StatePipeCondition()
session.add_connection_callback(condition)


def dropped():
    other = evzookeeper.ZKSession(ADDRESS, timeout=10,
                                  recv_timeout=RECV_TIMEOUT)
    other.create(BASEPATH + '-dropped', 'y', None,
                 evzookeeper.zookeeper.EPHEMERAL)


dropped()
eventlet.sleep(0.1)
sys.stdout.write('ready\n')
sys.stdout.flush()

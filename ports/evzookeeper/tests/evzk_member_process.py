"""A worker process for the tests: joins a group, says so, then lives on.

usage: evzk_member_process.py ADDRESS BASEPATH NAME RECV_TIMEOUT [monkey]

Prints "joined <session id>" once its member node exists, then sleeps until
killed (a SIGKILL leaves the session to expire on the server).
"""

import sys

if len(sys.argv) > 5 and sys.argv[5] == 'monkey':
    import eventlet
    eventlet.monkey_patch()

import eventlet  # noqa: E402

import evzookeeper  # noqa: E402
from evzookeeper import membership  # noqa: E402


def main(address, basepath, name, recv_timeout):
    session = evzookeeper.ZKSession(address, timeout=10,
                                    recv_timeout=int(recv_timeout))
    membership.Membership(session, basepath, name)
    sys.stdout.write('joined %d\n' % session.client_id()[0])
    sys.stdout.flush()
    while True:
        eventlet.sleep(60)


if __name__ == '__main__':
    main(*sys.argv[1:5])

"""A green thread that blocks the hub longer than the session timeout.

The C client's own threads ping the server, so the session (and the member
node) survive a hub blocked by an unpatched time.sleep(8) with a 4000 ms
session timeout (the server's tickTime of 200 ms allows at most 4000).
"""

import time

import eventlet
import zookeeper

from evzookeeper import membership

import evzk_fixture as fx

RECV_TIMEOUT = 4000
BLOCK_SECONDS = 8


class TestBusyHub(fx.SessionTestCase):

    def session(self):
        states = []
        session = super(TestBusyHub, self).session(
            recv_timeout=RECV_TIMEOUT,
            init_cbs=[lambda h, t, s, p: states.append(s)])
        return session, states

    def test_session_survives_a_blocked_hub(self):
        worker, worker_states = self.session()
        observer, observer_states = self.session()
        self.assertEqual(worker.session_timeout(), RECV_TIMEOUT)
        member = membership.Membership(worker, self.base, 'busy')
        monitor = membership.MembershipMonitor(observer, self.base)
        fx.wait_for(lambda: monitor.get_all() == {'busy'}, 5, 'member')
        worker_sid = worker.client_id()[0]
        observer_sid = observer.client_id()[0]
        del worker_states[:], observer_states[:]

        def hog():
            time.sleep(BLOCK_SECONDS)  # not patched: the hub stops

        started = time.monotonic()
        eventlet.spawn(hog)
        eventlet.sleep(0)  # the hog runs now, and blocks everything
        self.assertTrue(time.monotonic() - started >= BLOCK_SECONDS)
        eventlet.sleep(0.2)  # let queued callbacks run

        # same sessions, never disconnected, node and watch intact
        self.assertEqual(worker.client_id()[0], worker_sid)
        self.assertEqual(observer.client_id()[0], observer_sid)
        self.assertTrue(worker.is_connected() and observer.is_connected())
        self.assertEqual(worker_states, [])
        self.assertEqual(observer_states, [])
        _value, stat = observer.get(member.path)
        self.assertEqual(stat['ephemeralOwner'], worker_sid)
        self.assertEqual(monitor.get_all(), {'busy'})
        # and everything still works
        extra = membership.Membership(worker, self.base, 'after')
        fx.wait_for(lambda: monitor.get_all() == {'busy', 'after'}, 5,
                    'second member')
        extra.leave()
        self.assertEqual(
            worker.get_children(self.base, None), ['busy'])
        self.assertEqual(zookeeper.state(worker._zhandle),
                         zookeeper.CONNECTED_STATE)

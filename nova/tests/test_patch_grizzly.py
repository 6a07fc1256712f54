# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""tools/patch_grizzly.py on the real Grizzly 2013.1.5 tree.

The tree is ../shared/grizzly/nova-2013.1.5.tar.gz, unpacked for each test
(test data, never kept in the project).  The patch must bring in exactly
the driver's file set, by copy or by `patch -p1`, and leave Grizzly's own
files, its own test_zk_driver.py included, as they are.
"""

import os
import subprocess
import sys
import tarfile

from nova import test

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
TOOL = os.path.join(ROOT, 'tools', 'patch_grizzly.py')
GRIZZLY_TARBALL = os.path.join(ROOT, '..', 'shared', 'grizzly',
                               'nova-2013.1.5.tar.gz')
ZK_PY = 'nova/servicegroup/drivers/zk.py'
ADDED = ['nova/tests/servicegroup/test_zk_servicegroup.py',
         'nova/tests/zkserver.py']
GRIZZLYS_OWN_TEST = 'nova/tests/servicegroup/test_zk_driver.py'


def unpack_grizzly(dest):
    """Unpack the real tree's nova/ into ``dest``; return the tree's root."""
    with tarfile.open(GRIZZLY_TARBALL) as tar:
        members = [m for m in tar.getmembers()
                   if m.name.startswith('nova-2013.1.5/nova/')]
        tar.extractall(dest, members)
    return os.path.join(dest, 'nova-2013.1.5')


def _read(path):
    with open(path) as f:
        return f.read()


class PatchGrizzlyTestCase(test.TestCase):

    def setUp(self):
        super(PatchGrizzlyTestCase, self).setUp()
        self.tree = unpack_grizzly(os.path.join(self.state_path, 'g'))
        self.own_test = _read(os.path.join(self.tree, GRIZZLYS_OWN_TEST))

    def _run(self, *args):
        proc = subprocess.Popen([sys.executable, TOOL] + list(args),
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        out, err = proc.communicate()
        return proc.returncode, out.decode(), err.decode()

    def _assert_patched(self):
        for rel in [ZK_PY] + ADDED:
            self.assertEqual(_read(os.path.join(ROOT, rel)),
                             _read(os.path.join(self.tree, rel)), rel)
        self.assertEqual(self.own_test,
                         _read(os.path.join(self.tree, GRIZZLYS_OWN_TEST)))

    def test_copy(self):
        rc, out, err = self._run(self.tree)
        self.assertEqual(0, rc, err)
        self.assertIn('replace  %s' % ZK_PY, out)
        for rel in ADDED:
            self.assertIn('add      %s' % rel, out)
        self.assertIn('pip install evzookeeper==0.4.0', out)
        self.assertIn('servicegroup_driver="zk"', out)
        self._assert_patched()
        rc, out, err = self._run(self.tree)
        self.assertIn('keep     %s' % ZK_PY, out)

    def test_patch_file_applies_with_patch_p1(self):
        patch = os.path.join(self.state_path, 'zk.patch')
        rc, out, err = self._run(self.tree, '--patch', patch)
        self.assertEqual(0, rc, err)
        self.assertIn('replace  %s' % ZK_PY, out)
        with open(patch) as f:
            subprocess.check_call(['patch', '-p1', '-s', '-d', self.tree],
                                  stdin=f)
        self._assert_patched()

    def test_dry_run_changes_nothing(self):
        grizzlys_driver = _read(os.path.join(self.tree, ZK_PY))
        rc, out, err = self._run(self.tree, '--dry-run')
        self.assertEqual(0, rc, err)
        self.assertEqual(grizzlys_driver,
                         _read(os.path.join(self.tree, ZK_PY)))
        for rel in ADDED:
            self.assertFalse(os.path.exists(os.path.join(self.tree, rel)))

    def test_not_a_grizzly_tree(self):
        rc, out, err = self._run(os.path.join(self.state_path, 'g', 'nova-'
                                              '2013.1.5', 'nova'))
        self.assertEqual(2, rc)
        self.assertIn('does not look like a Grizzly nova checkout', err)
        self.assertIn('nova/servicegroup/api.py is missing', err)

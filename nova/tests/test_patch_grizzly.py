# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""tools/patch_grizzly.py on a Grizzly-shaped tree.

The tree is this project's nova package without the driver's file set:
the patch must bring back exactly those files, by copy or by `patch -p1`.
"""

import os
import shutil
import subprocess
import sys

from nova import test

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
TOOL = os.path.join(ROOT, 'tools', 'patch_grizzly.py')
FILES = ['nova/servicegroup/drivers/zk.py',
         'nova/tests/servicegroup/test_zk_driver.py',
         'nova/tests/zkserver.py']


def grizzly_shaped_tree(dest):
    shutil.copytree(os.path.join(ROOT, 'nova'), os.path.join(dest, 'nova'),
                    ignore=shutil.ignore_patterns('*.pyc', '__pycache__'))
    for rel in FILES:
        os.remove(os.path.join(dest, rel))
    return dest


class PatchGrizzlyTestCase(test.TestCase):

    def _run(self, *args):
        proc = subprocess.Popen([sys.executable, TOOL] + list(args),
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        out, err = proc.communicate()
        return proc.returncode, out.decode(), err.decode()

    def _assert_patched(self, tree):
        for rel in FILES:
            with open(os.path.join(ROOT, rel)) as ours:
                with open(os.path.join(tree, rel)) as theirs:
                    self.assertEqual(ours.read(), theirs.read(), rel)

    def test_copy(self):
        tree = grizzly_shaped_tree(os.path.join(self.state_path, 'g'))
        rc, out, err = self._run(tree)
        self.assertEqual(0, rc, err)
        for rel in FILES:
            self.assertIn('add      %s' % rel, out)
        self.assertIn('pip install evzookeeper==0.4.0', out)
        self.assertIn('servicegroup_driver="zk"', out)
        self._assert_patched(tree)
        rc, out, err = self._run(tree)
        self.assertIn('keep     nova/servicegroup/drivers/zk.py', out)

    def test_patch_file_applies_with_patch_p1(self):
        tree = grizzly_shaped_tree(os.path.join(self.state_path, 'g'))
        # An older zk.py in the checkout is replaced, not duplicated.
        with open(os.path.join(tree, FILES[0]), 'w') as f:
            f.write('# the 2013.1 driver\n')
        patch = os.path.join(self.state_path, 'zk.patch')
        rc, out, err = self._run(tree, '--patch', patch)
        self.assertEqual(0, rc, err)
        self.assertIn('replace  nova/servicegroup/drivers/zk.py', out)
        with open(patch) as f:
            subprocess.check_call(['patch', '-p1', '-s', '-d', tree],
                                  stdin=f)
        self._assert_patched(tree)

    def test_dry_run_changes_nothing(self):
        tree = grizzly_shaped_tree(os.path.join(self.state_path, 'g'))
        rc, out, err = self._run(tree, '--dry-run')
        self.assertEqual(0, rc, err)
        self.assertFalse(os.path.exists(os.path.join(tree, FILES[0])))

    def test_not_a_grizzly_tree(self):
        rc, out, err = self._run(self.state_path)
        self.assertEqual(2, rc)
        self.assertIn('does not look like a Grizzly nova checkout', err)
        self.assertIn('nova/servicegroup/api.py is missing', err)

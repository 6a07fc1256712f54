"""Tests of tools/patch_nova.py on the real files of Nova 34.0.0.

Run by tools/nova34/run_lane.sh with the lane's Python (.venv-nova34), after
it has reverted any earlier patch there:

    python -m subunit.run discover -s tools/nova34 -p 'test_*.py'

Nothing here is a stand-in for Nova: each test copies the two files the tool
edits (and the wheel's METADATA and RECORD) from the Nova 34.0.0 installed in
the running Python into a scratch site-packages folder, or unpacks them from
the nova 34.0.0 sdist that tools/nova34/build_venv.sh downloaded
(NOVA34_SDIST, default ~/.cache/nova-zk-nova34/nova-34.0.0.tar.gz).
"""

import ast
import glob
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOOL = os.path.join(REPO, 'tools', 'patch_nova.py')
EDITED = ('nova/servicegroup/api.py', 'nova/conf/servicegroup.py')
# copied as well: a regular package there, so that a Python with the copy on
# its PYTHONPATH imports nova from it
PACKAGE = ('nova/__init__.py',)
ADDED = ('nova/servicegroup/drivers/zk.py',
         'nova/tests/unit/servicegroup/test_zk.py')
SOURCES = {
    'nova/servicegroup/drivers/zk.py': 'zkgroup/zkgroup/nova_zk.py',
    'nova/tests/unit/servicegroup/test_zk.py':
        'zkgroup/tests/nova_unit/test_zk.py',
}
SDIST = os.environ.get('NOVA34_SDIST', os.path.join(
    os.environ.get('NOVA34_CACHE') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'),
        'nova-zk-nova34'), 'nova-34.0.0.tar.gz'))


def installed_site():
    spec = importlib.util.find_spec('nova')
    if spec is None:
        raise unittest.SkipTest('no nova in %s' % sys.executable)
    return os.path.dirname(list(spec.submodule_search_locations)[0])


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def snapshot(base):
    """{relative path: content} of every file below base."""
    files = {}
    for root, _dirs, names in os.walk(base):
        for name in names:
            path = os.path.join(root, name)
            with open(path, 'rb') as f:
                files[os.path.relpath(path, base)] = f.read()
    return files


def driver_map(api_source):
    for node in ast.walk(ast.parse(api_source)):
        if isinstance(node, ast.Assign) and any(
                getattr(t, 'id', None) == '_driver_name_class_mapping'
                for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError('no _driver_name_class_mapping')


def driver_choices(conf_source):
    for node in ast.walk(ast.parse(conf_source)):
        if isinstance(node, ast.keyword) and node.arg == 'choices':
            return [c[0] for c in ast.literal_eval(node.value)]
    raise AssertionError('no choices=')


class PatchNovaTestCase(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='test-patch-nova.')
        self.addCleanup(shutil.rmtree, self.tmp)
        self.site = os.path.join(self.tmp, 'site-packages')
        real = installed_site()
        self.assertNotIn(
            'zk', driver_map(read(os.path.join(real, 'nova/servicegroup/'
                                               'api.py'))),
            'the Nova in %s is patched: run tools/patch_nova.py '
            '--revert first' % real)
        for rel in EDITED + PACKAGE:
            os.makedirs(os.path.dirname(os.path.join(self.site, rel)),
                        exist_ok=True)
            shutil.copy(os.path.join(real, rel), os.path.join(self.site, rel))
        for rel in ADDED:
            os.makedirs(os.path.dirname(os.path.join(self.site, rel)),
                        exist_ok=True)
        infos = glob.glob(os.path.join(real, 'nova-34.0.0.dist-info'))
        self.assertEqual(1, len(infos), 'no nova-34.0.0.dist-info in %s'
                         % real)
        self.info = os.path.join(self.site, 'nova-34.0.0.dist-info')
        os.makedirs(self.info)
        for name in ('METADATA', 'RECORD'):
            shutil.copy(os.path.join(infos[0], name), self.info)
        # RECORD as the wheel installed it (an earlier patch of the real
        # site may have listed the added files).
        record = os.path.join(self.info, 'RECORD')
        lines = [line for line in read(record).splitlines(True)
                 if line.split(',', 1)[0] not in ADDED]
        with open(record, 'w', encoding='utf-8') as f:
            f.writelines(lines)
        self.pristine = snapshot(self.site)

    def run_tool(self, *args, env=None):
        return subprocess.run([sys.executable, TOOL] + list(args),
                              capture_output=True, text=True, env=env)

    def assert_patched(self, base):
        api = read(os.path.join(base, 'nova/servicegroup/api.py'))
        self.assertEqual('nova.servicegroup.drivers.zk.ZooKeeperDriver',
                         driver_map(api)['zk'])
        self.assertEqual(['db', 'mc', 'zk'], driver_choices(
            read(os.path.join(base, 'nova/conf/servicegroup.py'))))
        self.assertIn('ZooKeeper ServiceGroup driver',
                      read(os.path.join(base, 'nova/conf/servicegroup.py')))
        for rel in ADDED:
            self.assertEqual(read(os.path.join(REPO, SOURCES[rel])),
                             read(os.path.join(base, rel)))
        for rel in EDITED + ADDED:
            compile(read(os.path.join(base, rel)), rel, 'exec')

    def test_patch_site(self):
        out = self.run_tool('--site', self.site)
        self.assertEqual(0, out.returncode, out.stderr)
        self.assert_patched(self.site)
        lines = out.stdout.splitlines()
        for rel in EDITED:
            self.assertIn('patch    %s' % rel, lines)
        for rel in ADDED:
            self.assertIn('add      %s' % rel, lines)
        self.assertIn('pip install ./ports/zookeeper ./ports/evzookeeper '
                      './zkgroup', out.stdout)
        self.assertIn('libzookeeper-mt2', out.stdout)
        self.assertIn('servicegroup_driver = zk', out.stdout)
        self.assertIn('[zookeeper]', out.stdout)
        record = read(os.path.join(self.info, 'RECORD'))
        for rel in ADDED:
            self.assertIn('\n%s,,\n' % rel, record)

    def test_second_run_changes_nothing(self):
        self.assertEqual(0, self.run_tool('--site', self.site).returncode)
        before = snapshot(self.site)
        out = self.run_tool('--site', self.site)
        self.assertEqual(0, out.returncode, out.stderr)
        self.assertEqual(before, snapshot(self.site))
        self.assertIn('nothing to do: already patched', out.stdout)
        for rel in EDITED + ADDED:
            self.assertIn('keep     %s' % rel, out.stdout.splitlines())

    def test_revert_restores_every_byte(self):
        self.assertEqual(0, self.run_tool('--site', self.site).returncode)
        out = self.run_tool('--site', self.site, '--revert')
        self.assertEqual(0, out.returncode, out.stderr)
        after = snapshot(self.site)
        self.assertEqual(self.pristine, after)
        for rel in EDITED:
            self.assertIn('revert   %s' % rel, out.stdout.splitlines())
        for rel in ADDED:
            self.assertIn('remove   %s' % rel, out.stdout.splitlines())
        again = self.run_tool('--site', self.site, '--revert')
        self.assertEqual(0, again.returncode, again.stderr)
        self.assertIn('nothing to do: not patched', again.stdout)
        self.assertEqual(after, snapshot(self.site))

    def test_unknown_version_is_refused(self):
        meta = os.path.join(self.info, 'METADATA')
        text = read(meta).replace('Version: 34.0.0', 'Version: 33.0.2', 1)
        with open(meta, 'w', encoding='utf-8') as f:
            f.write(text)
        before = snapshot(self.site)
        out = self.run_tool('--site', self.site)
        self.assertEqual(2, out.returncode)
        self.assertEqual('', out.stdout)
        self.assertEqual(1, len(out.stderr.splitlines()), out.stderr)
        self.assertIn('33.0.2', out.stderr)
        self.assertIn('34.0.0', out.stderr)
        self.assertIn('--force', out.stderr)
        self.assertEqual(before, snapshot(self.site))
        forced = self.run_tool('--site', self.site, '--force')
        self.assertEqual(0, forced.returncode, forced.stderr)
        self.assert_patched(self.site)

    def test_no_nova_there(self):
        out = self.run_tool('--site', self.tmp)
        self.assertEqual(2, out.returncode)
        self.assertIn('no nova package', out.stderr)

    def test_missing_anchor_names_the_file(self):
        api = os.path.join(self.site, 'nova/servicegroup/api.py')
        text = read(api).replace(
            "    'mc': 'nova.servicegroup.drivers.mc.MemcachedDriver'\n",
            "    'mc': 'somewhere.else.MemcachedDriver'\n")
        with open(api, 'w', encoding='utf-8') as f:
            f.write(text)
        before = snapshot(self.site)
        out = self.run_tool('--site', self.site)
        self.assertEqual(1, out.returncode)
        self.assertIn(api, out.stderr)
        self.assertIn('not there exactly once', out.stderr)
        # planned before anything is written: nothing changed
        self.assertEqual(before, snapshot(self.site))

    def test_python_option_finds_its_nova(self):
        env = dict(os.environ, PYTHONPATH=self.site)
        out = self.run_tool('--python', sys.executable, env=env)
        self.assertEqual(0, out.returncode, out.stderr)
        self.assertIn('in %s ' % self.site, out.stdout)
        self.assert_patched(self.site)

    def test_default_is_the_running_python(self):
        env = dict(os.environ, PYTHONPATH=self.site)
        out = self.run_tool(env=env)
        self.assertEqual(0, out.returncode, out.stderr)
        self.assert_patched(self.site)

    def test_source_tree_from_the_sdist(self):
        self.assertTrue(os.path.isfile(SDIST),
                        '%s is missing (tools/nova34/build_venv.sh downloads '
                        'it)' % SDIST)
        tree = os.path.join(self.tmp, 'nova-34.0.0')
        wanted = ['PKG-INFO', 'setup.cfg'] + list(EDITED)
        with tarfile.open(SDIST) as tar:
            members = [tar.getmember('nova-34.0.0/' + rel) for rel in wanted]
            tar.extractall(self.tmp, members=members)
        for rel in ADDED:
            os.makedirs(os.path.dirname(os.path.join(tree, rel)),
                        exist_ok=True)
        pristine = snapshot(tree)
        out = self.run_tool('--tree', tree)
        self.assertEqual(0, out.returncode, out.stderr)
        self.assertIn('version from %s' % os.path.join(tree, 'PKG-INFO'),
                      out.stdout)
        self.assert_patched(tree)
        self.assertEqual(0, self.run_tool('--tree', tree,
                                          '--revert').returncode)
        self.assertEqual(pristine, snapshot(tree))

    def test_git_checkout_version_from_its_tag(self):
        tree = os.path.join(self.tmp, 'checkout')
        for rel in EDITED:
            os.makedirs(os.path.dirname(os.path.join(tree, rel)),
                        exist_ok=True)
            shutil.copy(os.path.join(self.site, rel), os.path.join(tree, rel))
        for rel in ADDED:
            os.makedirs(os.path.dirname(os.path.join(tree, rel)),
                        exist_ok=True)
        git = ['git', '-C', tree, '-c', 'user.name=t', '-c',
               'user.email=t@localhost']
        subprocess.run(['git', 'init', '-q', tree], check=True)
        subprocess.run(git + ['add', '-A'], check=True)
        subprocess.run(git + ['commit', '-qm', 'nova'], check=True)
        subprocess.run(git + ['tag', '34.0.0'], check=True)
        out = self.run_tool('--tree', tree)
        self.assertEqual(0, out.returncode, out.stderr)
        self.assertIn('version from git tag', out.stdout)
        self.assert_patched(tree)
        subprocess.run(git + ['tag', '-d', '34.0.0'], check=True,
                       capture_output=True)
        out = self.run_tool('--tree', tree, '--revert')
        self.assertEqual(2, out.returncode)
        self.assertIn('(version unknown)', out.stderr)


if __name__ == '__main__':
    unittest.main()

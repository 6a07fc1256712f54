#!/usr/bin/env python3
"""Put the ZooKeeper ServiceGroup driver into today's Nova (34.0.0, 2026.2).

    tools/patch_nova.py                  the Nova that this Python imports
    tools/patch_nova.py --python PATH    the Nova that Python PATH imports
    tools/patch_nova.py --site DIR       the Nova installed in DIR
                                         (a site-packages folder)
    tools/patch_nova.py --tree DIR       a Nova source checkout or sdist
    ... --revert                         undo it
    ... --force                          try a Nova version it does not know

It adds "zk" to the servicegroup API's driver table
(nova/servicegroup/api.py) and to the choices of ``servicegroup_driver``
(nova/conf/servicegroup.py), and copies in the driver
(zkgroup/zkgroup/nova_zk.py -> nova/servicegroup/drivers/zk.py) and its unit
tests (zkgroup/tests/nova_unit/test_zk.py ->
nova/tests/unit/servicegroup/test_zk.py).  It prints every file it changed,
then what to install and what to put in nova.conf.  A second run changes
nothing and says so.

Exit status: 0 done (or nothing to do); 2 a Nova version it does not know,
or no Nova there; 1 anything else (a file that is not as expected).
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))

KNOWN = ('34.0.0',)

# The files copied in: (in this checkout, in Nova).
COPIES = [
    ('zkgroup/zkgroup/nova_zk.py', 'nova/servicegroup/drivers/zk.py'),
    ('zkgroup/tests/nova_unit/test_zk.py',
     'nova/tests/unit/servicegroup/test_zk.py'),
]

# The edits: (file, [(Nova's text, the patched text), ...]).  Each is found
# by its exact text; either side present tells where the file stands.
EDITS = [
    ('nova/servicegroup/api.py', [(
        "    'mc': 'nova.servicegroup.drivers.mc.MemcachedDriver'\n"
        "}\n",
        "    'mc': 'nova.servicegroup.drivers.mc.MemcachedDriver',\n"
        "    'zk': 'nova.servicegroup.drivers.zk.ZooKeeperDriver',\n"
        "}\n",
    )]),
    ('nova/conf/servicegroup.py', [(
        "            ('mc', 'Memcache ServiceGroup driver'),\n"
        "        ],\n",
        "            ('mc', 'Memcache ServiceGroup driver'),\n"
        "            ('zk', 'ZooKeeper ServiceGroup driver'),\n"
        "        ],\n",
    ), (
        "multiple backend implementations for this service: Database"
        " ServiceGroup driver\n"
        "and Memcache ServiceGroup driver.\n",
        "multiple backend implementations for this service: Database"
        " ServiceGroup driver,\n"
        "Memcache ServiceGroup driver and ZooKeeper ServiceGroup driver"
        " (zk: its options\n"
        "are in the [zookeeper] group; see nova-zk's doc/nova34.md).\n",
    )]),
]

NEXT = """\
Next, on every node that runs a Nova service (the Python of that Nova):

  apt-get install libzookeeper-mt2        # the ZooKeeper C client
  pip install ./ports/zookeeper ./ports/evzookeeper ./zkgroup
                                          # from this checkout (nova-zk)

Then in nova.conf of every service (nova-compute, -conductor, -scheduler,
-api):

  [DEFAULT]
  servicegroup_driver = zk

  [zookeeper]
  address = 192.168.0.1:2181,192.168.0.2:2181,192.168.0.3:2181

and check with: nova-zk-service-list --config-file /etc/nova/nova.conf
"""


class PatchError(Exception):
    """A file is not as the patch expects (the message names it)."""


# ---- where the Nova is and which version ----------------------------------

def _version_from_metadata(path):
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            if line.startswith('Version:'):
                return line.split(':', 1)[1].strip()
            if not line.strip():
                break
    return None


def site_version(site):
    """Nova's version from its dist-info (or egg-info) in ``site``."""
    for pattern, name in (('nova-*.dist-info', 'METADATA'),
                          ('nova-*.egg-info', 'PKG-INFO')):
        for meta in sorted(glob.glob(os.path.join(site, pattern))):
            path = os.path.join(meta, name)
            if os.path.isfile(path):
                return _version_from_metadata(path), path
    return None, None


def tree_version(tree):
    """Nova's version in a source tree: PKG-INFO, setup.cfg or a git tag."""
    path = os.path.join(tree, 'PKG-INFO')
    if os.path.isfile(path):
        return _version_from_metadata(path), path
    path = os.path.join(tree, 'setup.cfg')
    if os.path.isfile(path):
        with open(path, encoding='utf-8') as f:
            m = re.search(r'^version\s*=\s*(\S+)', f.read(), re.M)
        if m:
            return m.group(1), path
    try:
        out = subprocess.run(
            ['git', '-C', tree, 'describe', '--tags', '--exact-match'],
            capture_output=True, text=True, check=False)
    except OSError:
        return None, None
    if out.returncode == 0 and out.stdout.strip():
        return out.stdout.strip(), 'git tag'
    return None, None


def find_site(python):
    """The folder holding the package ``nova`` that ``python`` imports."""
    code = ('import importlib.util, json\n'
            'spec = importlib.util.find_spec("nova")\n'
            'print(json.dumps(list(spec.submodule_search_locations)'
            ' if spec else None))\n')
    try:
        out = subprocess.run([python, '-c', code], capture_output=True,
                             text=True, check=False)
    except OSError as e:
        raise PatchError('cannot run %s: %s' % (python, e))
    if out.returncode != 0:
        raise PatchError('%s failed: %s' % (python, out.stderr.strip()))
    locations = json.loads(out.stdout)
    if not locations:
        return None
    return os.path.dirname(os.path.abspath(locations[0]))


# ---- the edits ------------------------------------------------------------

def _read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def plan(base, revert=False):
    """What to do: a list of (verb, relative path, new text or None)."""
    actions = []
    for rel, pairs in EDITS:
        path = os.path.join(base, rel)
        if not os.path.isfile(path):
            raise PatchError('%s: not found (is this Nova 34?)' % path)
        text = new = _read(path)
        for original, patched in pairs:
            old, want = (patched, original) if revert else (original, patched)
            if want in new and old not in new:
                continue
            if new.count(old) != 1:
                raise PatchError(
                    '%s: the text to %s is not there exactly once:\n%s'
                    % (path, 'revert' if revert else 'patch',
                       ''.join('    | ' + line for line in
                               old.splitlines(True))))
            new = new.replace(old, want)
        if new == text:
            actions.append(('keep', rel, None))
        else:
            actions.append(('revert' if revert else 'patch', rel, new))
    for src, rel in COPIES:
        path = os.path.join(base, rel)
        if revert:
            actions.append(('remove', rel, None) if os.path.exists(path)
                           else ('absent', rel, None))
            continue
        src_path = os.path.join(ROOT, src)
        if not os.path.isfile(src_path):
            raise PatchError('%s: not found (the file to copy to %s)'
                             % (src_path, rel))
        new = _read(src_path)
        if not os.path.exists(path):
            actions.append(('add', rel, new))
        elif _read(path) == new:
            actions.append(('keep', rel, None))
        else:
            actions.append(('replace', rel, new))
    return actions


def _drop_bytecode(path):
    cache = os.path.join(os.path.dirname(path), '__pycache__')
    stem = os.path.splitext(os.path.basename(path))[0]
    for pyc in glob.glob(os.path.join(cache, stem + '.*.pyc')):
        os.remove(pyc)


def _update_record(record, rels, add):
    """List the added files in the wheel's RECORD (so that ``pip uninstall
    nova`` removes them), or take them out again."""
    if not record or not os.path.isfile(record):
        return
    lines = _read(record).splitlines(True)
    keep = [line for line in lines if line.split(',', 1)[0] not in rels]
    if add:
        keep += ['%s,,\n' % rel for rel in rels]
    if keep != lines:
        with open(record, 'w', encoding='utf-8') as f:
            f.writelines(keep)


def apply(base, actions, record=None, revert=False):
    for verb, rel, new in actions:
        path = os.path.join(base, rel)
        if verb == 'remove':
            os.remove(path)
            _drop_bytecode(path)
        elif new is not None:
            tmp = path + '.patch_nova.tmp'
            with open(tmp, 'w', encoding='utf-8') as f:
                f.write(new)
            if os.path.exists(path):
                os.chmod(tmp, os.stat(path).st_mode & 0o777)
            os.replace(tmp, path)
            _drop_bytecode(path)
    _update_record(record, [rel for _src, rel in COPIES], add=not revert)


# ---- the command ----------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='patch_nova.py',
        description='Add the zk ServiceGroup driver to Nova %s.'
                    % ', '.join(KNOWN))
    where = parser.add_mutually_exclusive_group()
    where.add_argument('--python', metavar='PATH',
                       help='patch the Nova that this Python imports')
    where.add_argument('--site', metavar='DIR',
                       help='patch the Nova installed in this site-packages')
    where.add_argument('--tree', metavar='DIR',
                       help='patch a Nova source checkout (or unpacked sdist)')
    parser.add_argument('--revert', action='store_true',
                        help='undo the patch')
    parser.add_argument('--force', action='store_true',
                        help='patch a Nova version not in %s' % (KNOWN,))
    args = parser.parse_args(argv)

    record = None
    try:
        if args.tree:
            base = os.path.abspath(args.tree)
            if not os.path.isdir(os.path.join(base, 'nova')):
                print('patch_nova: %s has no nova/ folder: not a Nova checkout'
                      % base, file=sys.stderr)
                return 2
            version, source = tree_version(base)
        else:
            if args.site:
                base = os.path.abspath(args.site)
            else:
                base = find_site(args.python or sys.executable)
                if base is None:
                    print('patch_nova: %s imports no nova'
                          % (args.python or sys.executable), file=sys.stderr)
                    return 2
            if not os.path.isdir(os.path.join(base, 'nova')):
                print('patch_nova: no nova package in %s' % base,
                      file=sys.stderr)
                return 2
            version, source = site_version(base)
            if source and source.endswith('METADATA'):
                record = os.path.join(os.path.dirname(source), 'RECORD')
    except PatchError as e:
        print('patch_nova: %s' % e, file=sys.stderr)
        return 1
    if version not in KNOWN:
        if not args.force:
            print('patch_nova: Nova %s in %s is not a version this patch knows'
                  ' (%s); --force to try anyway'
                  % (version or '(version unknown)', base, ', '.join(KNOWN)),
                  file=sys.stderr)
            return 2
        print('patch_nova: Nova %s is not in %s: trying anyway (--force)'
              % (version or '(version unknown)', ', '.join(KNOWN)))
    print('patch_nova: Nova %s in %s (version from %s)'
          % (version, base, source))

    try:
        actions = plan(base, revert=args.revert)
        apply(base, actions, record=record, revert=args.revert)
    except (PatchError, OSError) as e:
        print('patch_nova: %s' % e, file=sys.stderr)
        return 1
    for verb, rel, _new in actions:
        print('%-8s %s' % (verb, rel))
    changed = [a for a in actions if a[0] not in ('keep', 'absent')]
    if not changed:
        print('patch_nova: nothing to do: %s'
              % ('not patched' if args.revert else 'already patched'))
    if args.revert:
        print('patch_nova: reverted; set servicegroup_driver back to db or mc'
              ' in nova.conf')
    else:
        print()
        print(NEXT, end='')
    return 0


if __name__ == '__main__':
    sys.exit(main())

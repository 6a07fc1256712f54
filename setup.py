#!/usr/bin/env python
# vim: tabstop=4 shiftwidth=4 softtabstop=4

import setuptools

setuptools.setup(
    name='nova-zk-servicegroup',
    version='2013.1.5.post1',
    description='OpenStack Nova (Grizzly) ServiceGroup drivers with the '
                'ZooKeeper driver ported to Python 3',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    license='Apache License, Version 2.0',
    packages=setuptools.find_packages(exclude=['ports', 'ports.*']),
    include_package_data=True,
    python_requires='>=3.9',
    install_requires=[
        # on newer Pythons the first releases that work there (see
        # requirements.txt for why)
        'eventlet>=0.33',
        'eventlet>=0.34; python_version >= "3.12"',
        'eventlet>=0.38; python_version >= "3.13"',
        'greenlet>=2.0',
        'greenlet>=3.0; python_version >= "3.12"',
        'greenlet>=3.1; python_version >= "3.13"',
        'oslo.config>=5.2',
        'SQLAlchemy>=1.4',
    ],
    # No 'zk' extra: its packages, zookeeper-cffi and evzookeeper-py3, are on
    # no package index, so an extra naming them cannot resolve, and a direct
    # reference (name @ file://...) would write this checkout's absolute path
    # into every wheel built from it. Install them by path, as the README
    # says: pip install ./ports/zookeeper ./ports/evzookeeper .
    extras_require={
        'mc': ['python-memcached>=1.59'],
    },
    entry_points={
        'console_scripts': [
            'nova-compute = nova.cmd.compute:main',
            'nova-manage = nova.cmd.manage:main',
        ],
    },
    classifiers=[
        'Environment :: OpenStack',
        'License :: OSI Approved :: Apache Software License',
        'Operating System :: POSIX :: Linux',
        'Programming Language :: Python :: 3',
    ],
)

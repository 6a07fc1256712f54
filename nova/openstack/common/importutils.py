# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Import a class or an object by its dotted name."""

import sys


def import_class(import_str):
    """Return the class named by a dotted path such as ``a.b.Class``."""
    mod_str, _sep, class_str = import_str.rpartition('.')
    __import__(mod_str)
    try:
        return getattr(sys.modules[mod_str], class_str)
    except AttributeError:
        raise ImportError('Class %s cannot be found in module %s'
                          % (class_str, mod_str))


def import_object(import_str, *args, **kwargs):
    """Import a class by name and return an instance of it."""
    return import_class(import_str)(*args, **kwargs)


def import_module(import_str):
    __import__(import_str)
    return sys.modules[import_str]


def try_import(import_str, default=None):
    try:
        return import_module(import_str)
    except ImportError:
        return default

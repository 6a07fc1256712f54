# vim: tabstop=4 shiftwidth=4 softtabstop=4

NOVA_VERSION = ['2013', '1', '5']
YEAR, COUNT, REVISION = NOVA_VERSION
FINAL = True


def version_string():
    """Grizzly's version, plus the port's own suffix."""
    return '%s.%s.%s-zkport' % (YEAR, COUNT, REVISION)

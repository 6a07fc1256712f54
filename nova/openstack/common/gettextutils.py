# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Translation hook: ``from nova.openstack.common.gettextutils import _``."""

import gettext

_t = gettext.translation('nova', fallback=True)
_ = getattr(_t, 'ugettext', None) or _t.gettext

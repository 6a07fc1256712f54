# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Nova's exceptions: one base class, each subclass a message template.

Raise them with keywords, ``ServiceGroupUnavailable(driver='zk')``; the
template is filled in once, and a missing keyword never hides the error.
"""

from nova.openstack.common.gettextutils import _
from nova.openstack.common import log as logging

LOG = logging.getLogger(__name__)


class NovaException(Exception):
    message = _("An unknown exception occurred.")
    code = 500

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if 'code' not in self.kwargs:
            self.kwargs['code'] = self.code
        if not message:
            try:
                message = self.message % kwargs
            except (KeyError, TypeError):
                LOG.exception(_('Exception in string format operation'))
                message = self.message
        super(NovaException, self).__init__(message)

    def format_message(self):
        return self.args[0]


class Invalid(NovaException):
    message = _("Unacceptable parameters.")
    code = 400


class InvalidInput(Invalid):
    message = _("Invalid input received: %(reason)s")


class ConfigInvalid(Invalid):
    message = _("Invalid value for option %(option)s: %(reason)s")


class NotFound(NovaException):
    message = _("Resource could not be found.")
    code = 404


class ServiceNotFound(NotFound):
    message = _("Service %(service_id)s could not be found.")


class HostBinaryNotFound(NotFound):
    message = _("Could not find binary %(binary)s on host %(host)s.")


class ServiceTopicNotFound(NotFound):
    message = _("Service with host %(host)s topic %(topic)s not found.")


class DBError(NovaException):
    message = _("Database error: %(reason)s")


class ServiceGroupUnavailable(NovaException):
    message = _("The service from servicegroup driver %(driver)s is "
                "temporarily unavailable.")

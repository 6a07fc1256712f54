# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""The context of a request: who asks, with what rights."""

import uuid


class RequestContext(object):
    def __init__(self, user_id=None, project_id=None, is_admin=False,
                 read_deleted='no', request_id=None, **kwargs):
        self.user_id = user_id
        self.project_id = project_id
        self.is_admin = is_admin
        self.read_deleted = read_deleted
        self.request_id = request_id or 'req-%s' % uuid.uuid4()

    def elevated(self):
        return RequestContext(self.user_id, self.project_id, is_admin=True,
                              read_deleted=self.read_deleted,
                              request_id=self.request_id)

    def to_dict(self):
        return {'user_id': self.user_id, 'project_id': self.project_id,
                'is_admin': self.is_admin, 'read_deleted': self.read_deleted,
                'request_id': self.request_id}


def get_admin_context(read_deleted='no'):
    return RequestContext(is_admin=True, read_deleted=read_deleted)

# vim: tabstop=4 shiftwidth=4 softtabstop=4

"""Nova, reduced to what tracks the liveness of compute nodes."""

import warnings

# eventlet announces its own deprecation on import; nova depends on it by
# design (Grizzly's concurrency model), so the notice is noise in every
# command's output.
warnings.filterwarnings('ignore', message='\\s*Eventlet is deprecated')

"""A function whose creation failed can be deleted, as on AWS.

The executor refuses what it cannot run (an image function, a runtime the host lacks) by
failing the function's version: the function is then in state Failed. LocalStack 2026.3.0's
DeleteFunction stops every version before it removes the function, and stopping a version
without a version manager raises "Unable to find version manager" (a failed version's manager
is stopped and dropped when it fails): the answer is HTTP 500 and the function stays, so it
can never be deleted (a `terraform destroy` fails on it). LocalStack 4.8 removed the function
first, so the first DeleteFunction failed and a retry found nothing. Here a version with no
manager has nothing to stop. Can go when LambdaService.stop_version tolerates that.
"""

import logging

from localstack.runtime import hooks

from localstack_nodocker import seam

LOG = logging.getLogger(__name__)


@hooks.on_infra_start()
def let_failed_functions_be_deleted() -> None:
    stop_version = seam.original(seam.STOP_VERSION)

    def stop_version_if_started(self, qualified_arn):
        if qualified_arn in self.lambda_running_versions or qualified_arn in self.lambda_starting_versions:
            return stop_version(self, qualified_arn)
        # its event manager is made only for a running version: there is none either
        LOG.debug("Version %s has no version manager (its creation failed): nothing to stop", qualified_arn)
        return None

    seam.replace(seam.STOP_VERSION, stop_version_if_started)

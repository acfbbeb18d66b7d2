"""Roll a failed stack creation back, as CloudFormation does.

LocalStack's CloudFormation (4.8 and 2026.3.0; its v2 engine, the default) marks a stack whose creation
failed ROLLBACK_COMPLETE and then CREATE_FAILED, but deletes nothing it had created.
CloudFormation rolls back unless told not to (``DisableRollback``, ``OnFailure`` other
than ROLLBACK): the stack goes to ROLLBACK_IN_PROGRESS ("The following resource(s) failed
to create: [...]"), the resources it created are deleted, newest first, and it ends in
ROLLBACK_COMPLETE; the failed resource's own event keeps its reason (a custom resource's
``Reason``, for instance). Updates keep LocalStack's behaviour.
"""

from localstack.runtime import hooks

from localstack_nodocker import seam

ROLLED_BACK: set[str] = set()  # ids of stacks this module rolled back


def _rollback_wanted(stack) -> bool:
    request = stack.request_payload or {}
    return not request.get("DisableRollback") and request.get("OnFailure", "ROLLBACK") == "ROLLBACK"


def _roll_back(executor, stack) -> None:
    from localstack.aws.api.cloudformation import ChangeAction, ResourceStatus, StackStatus
    from localstack.services.cloudformation.engine.v2.change_set_model_preproc import PreprocProperties
    from localstack.services.cloudformation.resource_provider import OperationStatus

    resources = executor.resources
    failed = [
        name for name, resource in resources.items() if resource.get("ResourceStatus") == ResourceStatus.CREATE_FAILED
    ]
    reason = f"The following resource(s) failed to create: [{', '.join(failed)}]. Rollback requested by user."
    ROLLED_BACK.add(stack.stack_id)
    stack.set_stack_status(StackStatus.ROLLBACK_IN_PROGRESS, reason)
    created = [
        name for name, resource in resources.items() if resource.get("ResourceStatus") == ResourceStatus.CREATE_COMPLETE
    ]
    for name in reversed(created):  # resources are recorded in creation order
        resource = resources[name]
        details = {
            "logical_resource_id": name,
            "physical_resource_id": resource.get("PhysicalResourceId"),
            "resource_type": resource["Type"],
        }
        stack.set_resource_status(**details, status=ResourceStatus.DELETE_IN_PROGRESS)
        event = executor._execute_resource_action(
            action=ChangeAction.Remove,
            logical_resource_id=name,
            resource_type=resource["Type"],
            before_properties=PreprocProperties(resource.get("Properties") or {}),
            after_properties=None,
        )
        if event.status == OperationStatus.SUCCESS:
            resources.pop(name, None)
            stack.set_resource_status(**details, status=ResourceStatus.DELETE_COMPLETE)
        else:  # one resource that cannot be deleted does not stop the others
            stack.set_resource_status(
                **details, status=ResourceStatus.DELETE_FAILED, resource_status_reason=event.message
            )


@hooks.on_infra_start()
def roll_back_failed_stack_creations() -> None:
    # Patched when LocalStack first imports its CloudFormation engine, not at start: that import
    # (with the EC2 API it loads) is a tenth of the start, and most starts never use CloudFormation.
    seam.replace_on_import(seam.CHANGE_SET_PROCESS, _process_or_roll_back)
    seam.replace_on_import(seam.STACK_SET_STATUS, _set_stack_status_after_rollback)


def _process_or_roll_back(process):
    from localstack.aws.api.cloudformation import StackStatus

    def process_or_roll_back(self, *args, **kwargs):
        stack = self._change_set.stack
        creating = stack.status == StackStatus.CREATE_IN_PROGRESS
        try:
            return process(self, *args, **kwargs)
        except Exception:
            if creating and _rollback_wanted(stack):
                _roll_back(self, stack)
            raise

    return process_or_roll_back


def _set_stack_status_after_rollback(set_stack_status):
    from localstack.aws.api.cloudformation import StackStatus

    def set_stack_status_after_rollback(self, status, reason=None):
        # After the executor's ROLLBACK_COMPLETE, LocalStack's CreateStack also sets
        # CREATE_FAILED; CloudFormation's final status is ROLLBACK_COMPLETE.
        if status == StackStatus.CREATE_FAILED and self.stack_id in ROLLED_BACK:
            return
        set_stack_status(self, status, reason)

    return set_stack_status_after_rollback

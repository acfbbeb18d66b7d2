"""LocalStack extensions that let the engine run on a host without Docker.

- ``local-process`` Lambda runtime executor (``LAMBDA_RUNTIME_EXECUTOR=local-process``):
  Python functions run in warm worker processes on the host.
- ``dynamodb:moto`` provider (``PROVIDER_OVERRIDE_DYNAMODB=moto``): DynamoDB served by
  LocalStack's bundled moto instead of DynamoDB Local (Java + downloads).
"""

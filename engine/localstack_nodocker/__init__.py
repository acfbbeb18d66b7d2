"""LocalStack extensions that let the engine run on a host without Docker.

- ``local-process`` Lambda runtime executor (``LAMBDA_RUNTIME_EXECUTOR=local-process``):
  Python functions run in warm worker processes on the host.
- ``dynamodb:moto`` provider (``PROVIDER_OVERRIDE_DYNAMODB=moto``): DynamoDB served by
  LocalStack's bundled moto instead of DynamoDB Local (Java + downloads).
- ``dynamodbstreams:moto`` provider (``PROVIDER_OVERRIDE_DYNAMODBSTREAMS=moto``): the
  streams of those tables, for LocalStack's event source mappings (streams.py, and
  stream_mapping.py for BisectBatchOnFunctionError).
- SQS event source mappings long-poll and deliver batches concurrently, within the engine's
  bound (event_concurrency.py), and deliver every body as sent, whatever it holds
  (sqs_mapping.py).
- ``AWS::CloudFormation::CustomResource`` resource provider: Lambda-backed custom
  resources (custom_resources.py); failed stack creations roll back
  (cloudformation_rollback.py).
- https://localhost.localstack.cloud inside workers: the checkout's CA and certificate
  (tls.py), name resolution and trust for workers (names.py, preload/).
"""

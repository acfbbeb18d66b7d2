locals {
  log_group_name = "/aws/lambda/${var.function_name}"

  # SERVICE_NAME is set last so every function logs under its own name, whatever the caller passes;
  # METRICS_NAMESPACE is where roxs_common.metrics publishes the handler's duration.
  environment = merge(var.environment, { SERVICE_NAME = var.function_name, METRICS_NAMESPACE = var.metrics_namespace })

  # A folder instead of a zip: LocalStack hot reload, whose marker is this S3 bucket name
  # (LocalStack's BUCKET_MARKER_LOCAL) with the absolute folder as the key.
  hot_reload        = !endswith(var.filename, ".zip")
  hot_reload_bucket = "hot-reload"

  # The queue Lambda itself sends failed asynchronous events to (none for an SQS-fed function,
  # whose source queue redrives to it).
  asynchronous_dead_letters = try(var.dead_letter_queue.asynchronous, false)
}

# The function's failed events, kept to inspect and replay (make redrive).
resource "aws_sqs_queue" "dead_letter" {
  count = var.dead_letter_queue == null ? 0 : 1

  name                      = var.dead_letter_queue.name
  message_retention_seconds = 1209600 # 14 days, the maximum: time to inspect failures
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts log data at rest with its own keys; the functions log no secrets, so a customer-managed KMS key would add a key policy and cost for nothing.
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (7 days by default for this demo stack); set 365 or more where an audit trail is required.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

data "aws_iam_policy_document" "assume_role" {
  statement {
    sid     = "LambdaAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.function_name}-role"
  description        = "Execution role of the ${var.function_name} Lambda function."
  assume_role_policy = data.aws_iam_policy_document.assume_role.json
  tags               = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # The handler's own Duration datapoint per invocation (roxs_common.metrics). PutMetricData
  # supports no resource-level permissions, so IAM only accepts "*"; the condition limits
  # the function to its own namespace.
  statement {
    sid       = "PublishOwnMetrics"
    effect    = "Allow"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.metrics_namespace]
    }
  }

  # Lambda sends events that failed every asynchronous attempt here (needs SendMessage).
  dynamic "statement" {
    for_each = local.asynchronous_dead_letters ? aws_sqs_queue.dead_letter[*].arn : []

    content {
      sid       = "SendToOwnDeadLetterQueue"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.policy_statements

    content {
      sid       = statement.value.sid
      effect    = "Allow"
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.function_name}-policy"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Only asynchronously invoked functions need a dead-letter queue, and they get one through var.dead_letter_queue (the image processor, the storage counter). The others are invoked synchronously (API Gateway, direct Invoke) or by an SQS event source mapping whose queue has its own dead-letter queue: the caller or the queue keeps the failed event.
  #checkov:skip=CKV_AWS_117:The functions reach only AWS service APIs (S3, DynamoDB, SQS, SNS, Lambda), no private network resources; a VPC would add NAT gateways or endpoints and cold-start latency without protecting anything.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is a per-account budget (new accounts have a limit of 10 in total, which reservations cannot exhaust); the queue-fed function is throttled by its event source mapping's batch size instead.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; the packages are built reproducibly by build.py from this repository and deployed by Terraform with source_code_hash pinning the exact zip.
  #checkov:skip=CKV_AWS_173:The environment holds resource names only, never secrets (credentials come from the execution role); Lambda encrypts it at rest with an AWS-managed key by default.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is not available on the LocalStack community engine this project runs on, and the structured JSON logs carry the request ids that tie a request together.
  function_name    = var.function_name
  description      = var.description
  role             = aws_iam_role.this.arn
  handler          = var.handler
  runtime          = var.runtime
  filename         = local.hot_reload ? null : var.filename
  source_code_hash = local.hot_reload ? null : var.source_code_hash
  s3_bucket        = local.hot_reload ? local.hot_reload_bucket : null
  s3_key           = local.hot_reload ? var.filename : null
  timeout          = var.timeout
  memory_size      = var.memory_size
  tags             = var.tags

  environment {
    variables = local.environment
  }

  dynamic "dead_letter_config" {
    for_each = local.asynchronous_dead_letters ? aws_sqs_queue.dead_letter[*].arn : []

    content {
      target_arn = dead_letter_config.value
    }
  }

  lifecycle {
    precondition {
      condition     = local.hot_reload ? length(fileset(var.filename, "*")) > 0 : fileexists(var.filename)
      error_message = local.hot_reload ? "Hot-reload folder ${var.filename} is empty or missing: sync it first (python build.py --hot-reload, or make dev)." : "Deployment package ${var.filename} does not exist: build the Lambda packages first (make build)."
    }
  }

  # The log group must exist before the first invocation (otherwise Lambda would create one
  # without retention), and the policy must be attached before event sources are wired.
  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
  ]
}

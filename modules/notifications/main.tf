locals {
  topic_name            = "${var.name_prefix}-notifications"
  queue_name            = "${var.name_prefix}-notifications-queue"
  dlq_name              = "${var.name_prefix}-notifications-dlq"
  subscriber_queue_name = "${var.name_prefix}-notifications-subscriber"
  table_name            = "${var.table_name_prefix}NotificationHistory"
  days_table_name       = "${var.table_name_prefix}NotificationDays"
  function_name         = "${var.name_prefix}-notification-processor"

  # The queue's ARN, known before the queue exists: the function's policy need not wait for
  # the AWS provider's SQS creation wait (~26 s), so queues and function are created in parallel.
  queue_arn = "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${local.queue_name}"

  # AWS's guidance for SQS event sources: at least six times the function timeout, so a
  # message is not redelivered while a (retried) invocation still works on it.
  queue_visibility_timeout = 6 * var.function_timeout
}

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

resource "aws_sns_topic" "notifications" {
  name = local.topic_name
  # Encrypted at rest with the AWS-managed SNS key: its key policy lets SNS use it for any
  # principal of the account, so publishers need no KMS permissions of their own.
  kms_master_key_id = "alias/aws/sns"
  tags              = var.tags
}

resource "aws_dynamodb_table" "history" {
  #checkov:skip=CKV_AWS_119:The table is encrypted at rest with the AWS-owned key (DynamoDB's default); a customer-managed key adds cost and a key policy for data that is not secret.
  name         = local.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "NotificationId"
  range_key    = "CreatedAt"

  attribute {
    name = "NotificationId"
    type = "S"
  }

  attribute {
    name = "CreatedAt"
    type = "N"
  }

  # Newest-first lists (roxs_common.notifications): one GSI per filter, each partition one UTC
  # day of CreatedAt (Day, <priority>#<day>, <status>#<day>), so a query reads one bounded
  # partition. Set when a row reaches its final status; a summary is projected, not the message.
  dynamic "attribute" {
    for_each = local.list_indexes
    content {
      name = attribute.value
      type = "S"
    }
  }

  dynamic "global_secondary_index" {
    for_each = local.list_indexes
    content {
      name               = global_secondary_index.key
      hash_key           = global_secondary_index.value
      range_key          = "CreatedAt"
      projection_type    = "INCLUDE"
      non_key_attributes = local.list_attributes
    }
  }

  # Deliveries in progress, by claim expiry: only a row being delivered has ClaimExpiresMs,
  # so the index holds those alone. The claim sweep reads the expired ones (and what it needs
  # to deliver them again).
  attribute {
    name = "Status"
    type = "S"
  }

  attribute {
    name = "ClaimExpiresMs"
    type = "N"
  }

  global_secondary_index {
    name               = "ByClaimExpiry"
    hash_key           = "Status"
    range_key          = "ClaimExpiresMs"
    projection_type    = "INCLUDE"
    non_key_attributes = ["Type", "Recipient", "Title", "Message", "Priority", "Source"]
  }

  point_in_time_recovery {
    enabled = true
  }

  tags = var.tags
}

locals {
  list_indexes    = { ByDay = "Day", ByPriorityDay = "PriorityDay", ByStatusDay = "StatusDay" }
  list_attributes = ["Day", "Type", "Recipient", "Title", "Priority", "Status", "SNSMessageId", "ProcessedAt", "Source", "ErrorMessage"]
}

# Which days hold rows, per list scope (all, priority#<p>, status#<s>): the list walks from one
# non-empty day to the next without probing empty ones. ADDed in the rows' transactions.
resource "aws_dynamodb_table" "days" {
  #checkov:skip=CKV_AWS_119:The table is encrypted at rest with the AWS-owned key (DynamoDB's default); a customer-managed key adds cost and a key policy for data that is not secret.
  name         = local.days_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "Scope"
  range_key    = "Bucket"

  attribute {
    name = "Scope"
    type = "S"
  }

  attribute {
    name = "Bucket"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  tags = var.tags
}

# --- Inbound: queue -> notification processor, with a dead-letter queue -----------------------

# The dead-letter queue is the function's (modules/lambda_function); an existing stack's
# queue moves there instead of being replaced.
moved {
  from = aws_sqs_queue.dlq
  to   = module.function.aws_sqs_queue.dead_letter[0]
}

resource "aws_sqs_queue" "notifications" {
  name                       = local.queue_name
  visibility_timeout_seconds = local.queue_visibility_timeout
  sqs_managed_sse_enabled    = true
  tags                       = var.tags
}

# A resource of its own (not the queue's redrive_policy argument), so the two queues are
# created in parallel instead of one after the other.
resource "aws_sqs_queue_redrive_policy" "notifications" {
  queue_url = aws_sqs_queue.notifications.id
  redrive_policy = jsonencode({
    deadLetterTargetArn = module.function.dead_letter_queue_arn
    maxReceiveCount     = var.max_receive_count
  })
}

module "function" {
  source = "../lambda_function"

  function_name      = local.function_name
  description        = "Publishes notifications to ${local.topic_name} and records them in ${local.table_name}."
  handler            = "notification_processor.lambda_handler"
  runtime            = var.runtime
  filename           = var.function_package.filename
  source_code_hash   = var.function_package.source_code_hash
  timeout            = var.function_timeout
  memory_size        = var.function_memory_size
  log_retention_days = var.log_retention_days
  tags               = var.tags

  # Messages still failing after max_receive_count receives (the queue's redrive policy above),
  # kept to inspect and replay (make redrive).
  dead_letter_queue = { name = local.dlq_name, asynchronous = false }

  environment = {
    STATS_TABLE             = var.stats_table.name
    TOPIC_ARN               = aws_sns_topic.notifications.arn
    HISTORY_TABLE           = aws_dynamodb_table.history.name
    NOTIFICATION_DAYS_TABLE = aws_dynamodb_table.days.name
  }

  policy_statements = [
    {
      # Counters are ADDed in the same TransactWriteItems as the rows (roxs_common.aggregates).
      sid       = "UpdateCounters"
      actions   = ["dynamodb:UpdateItem"]
      resources = [var.stats_table.arn]
    },
    {
      sid       = "PublishNotifications"
      actions   = ["sns:Publish"]
      resources = [aws_sns_topic.notifications.arn]
    },
    {
      # The claim (PutItem), its release (DeleteItem), the final status (UpdateItem in a
      # transaction), a rejected row (PutItem in a transaction), the CreatedAt of an id
      # sent again without one (Query), and the sweep's expired claims (Query of the index).
      sid       = "RecordHistory"
      actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"]
      resources = [aws_dynamodb_table.history.arn, "${aws_dynamodb_table.history.arn}/index/ByClaimExpiry"]
    },
    {
      sid       = "CountDays"
      actions   = ["dynamodb:UpdateItem"]
      resources = [aws_dynamodb_table.days.arn]
    },
    {
      # ChangeMessageVisibility (by the queue's URL, GetQueueUrl): a copy held by another
      # delivery's claim comes back when the claim expires (notification_processor).
      sid       = "ConsumeNotificationsQueue"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"]
      resources = [local.queue_arn]
    },
  ]
}

resource "aws_lambda_event_source_mapping" "notifications" {
  event_source_arn                   = aws_sqs_queue.notifications.arn
  function_name                      = module.function.function_arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = 0
  # The handler reports failed message ids; only those are retried (and reach the DLQ).
  function_response_types = ["ReportBatchItemFailures"]
  tags                    = var.tags
}

# --- The claim sweep: deliveries whose invocation ended before marking them are finished ----

# A direct invoke that ends between claim and final status (killed at its timeout) has no
# redelivery; the sweep delivers every expired claim again (notification_processor).
resource "aws_cloudwatch_event_rule" "claim_sweep" {
  name                = "${var.name_prefix}-notification-claim-sweep"
  description         = "Finishes the deliveries of ${local.function_name} whose claim expired."
  schedule_expression = "rate(${var.claim_sweep_minutes} ${var.claim_sweep_minutes == 1 ? "minute" : "minutes"})"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "claim_sweep" {
  rule = aws_cloudwatch_event_rule.claim_sweep.name
  arn  = module.function.function_arn
}

resource "aws_lambda_permission" "allow_claim_sweep" {
  statement_id  = "AllowInvokeFromClaimSweep"
  action        = "lambda:InvokeFunction"
  function_name = module.function.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.claim_sweep.arn
}

# --- Outbound: a queue subscribed to the topic, so deliveries can be observed ----------------

resource "aws_sqs_queue" "subscriber" {
  name                    = local.subscriber_queue_name
  sqs_managed_sse_enabled = true
  tags                    = var.tags
}

data "aws_iam_policy_document" "subscriber" {
  statement {
    sid       = "AllowTopicToSend"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.subscriber.arn]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.notifications.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "subscriber" {
  queue_url = aws_sqs_queue.subscriber.id
  policy    = data.aws_iam_policy_document.subscriber.json
}

resource "aws_sns_topic_subscription" "subscriber" {
  topic_arn = aws_sns_topic.notifications.arn
  protocol  = "sqs"
  endpoint  = aws_sqs_queue.subscriber.arn
  # Keep the SNS envelope: Subject and MessageAttributes travel inside it.
  raw_message_delivery = false

  # Deliveries before the queue policy exists would be dropped.
  depends_on = [aws_sqs_queue_policy.subscriber]
}

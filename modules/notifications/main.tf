locals {
  topic_name            = "${var.name_prefix}-notifications"
  queue_name            = "${var.name_prefix}-notifications-queue"
  dlq_name              = "${var.name_prefix}-notifications-dlq"
  subscriber_queue_name = "${var.name_prefix}-notifications-subscriber"
  table_name            = "${var.table_name_prefix}NotificationHistory"
  function_name         = "${var.name_prefix}-notification-processor"

  # AWS's guidance for SQS event sources: at least six times the function timeout, so a
  # message is not redelivered while a (retried) invocation still works on it.
  queue_visibility_timeout = 6 * var.function_timeout
}

resource "aws_sns_topic" "notifications" {
  name = local.topic_name
  tags = var.tags
}

resource "aws_dynamodb_table" "history" {
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

  tags = var.tags
}

# --- Inbound: queue -> notification processor, with a dead-letter queue -----------------------

resource "aws_sqs_queue" "dlq" {
  name                      = local.dlq_name
  message_retention_seconds = 1209600 # 14 days, the maximum: time to inspect failures
  tags                      = var.tags
}

resource "aws_sqs_queue" "notifications" {
  name                       = local.queue_name
  visibility_timeout_seconds = local.queue_visibility_timeout

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
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

  environment = {
    TOPIC_ARN     = aws_sns_topic.notifications.arn
    HISTORY_TABLE = aws_dynamodb_table.history.name
  }

  policy_statements = [
    {
      sid       = "PublishNotifications"
      actions   = ["sns:Publish"]
      resources = [aws_sns_topic.notifications.arn]
    },
    {
      sid       = "RecordHistory"
      actions   = ["dynamodb:PutItem", "dynamodb:Query", "dynamodb:GetItem"]
      resources = [aws_dynamodb_table.history.arn]
    },
    {
      sid       = "ConsumeNotificationsQueue"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      resources = [aws_sqs_queue.notifications.arn]
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

# --- Outbound: a queue subscribed to the topic, so deliveries can be observed ----------------

resource "aws_sqs_queue" "subscriber" {
  name = local.subscriber_queue_name
  tags = var.tags
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

locals {
  function_name = "${var.name_prefix}-dashboard"
}

module "function" {
  source = "../lambda_function"

  function_name      = local.function_name
  description        = "Read-only state of the ${var.name_prefix} system: totals, the last hour, queues, functions."
  handler            = "dashboard.lambda_handler"
  runtime            = var.runtime
  filename           = var.function_package.filename
  source_code_hash   = var.function_package.source_code_hash
  timeout            = var.function_timeout
  memory_size        = var.function_memory_size
  log_retention_days = var.log_retention_days
  tags               = var.tags

  environment = {
    STATS_TABLE       = var.stats_table.name
    METADATA_TABLE    = var.tables.images.name
    LOG_INDEX_TABLE   = var.tables.logs.name
    LOG_HOURS_TABLE   = var.tables.log_hours.name
    BUCKETS           = join(",", [for bucket in values(var.buckets) : bucket.name])
    FUNCTION_PREFIX   = "${var.name_prefix}-"
    THUMBNAILS_BUCKET = var.buckets["thumbnails"].name
    # The queues panel: the notification queue and both dead-letter queues.
    NOTIFICATIONS_QUEUE_URL = var.queues.notifications.url
    NOTIFICATIONS_DLQ_URL   = var.queues.notifications_dlq.url
    IMAGES_DLQ_URL          = var.queues.images_dlq.url
  }

  policy_statements = [
    {
      # A fixed number of counter items per request (roxs_common.aggregates.read_counters).
      sid       = "ReadCounters"
      actions   = ["dynamodb:BatchGetItem", "dynamodb:GetItem"]
      resources = [var.stats_table.arn]
    },
    {
      # Query: the newest error logs; Scan: the latest images, until the images table has a
      # newest-first index (roxs_common list_images, app-images).
      # Bounded queries only (newest rows of a partition, on the tables or their indexes): no Scan.
      sid       = "QueryTables"
      actions   = ["dynamodb:Query"]
      resources = [var.tables.images.arn, "${var.tables.images.arn}/index/*", var.tables.logs.arn, "${var.tables.logs.arn}/index/*", var.tables.log_hours.arn]
    },
    {
      sid       = "ReadThumbnails"
      actions   = ["s3:GetObject"]
      resources = ["${var.buckets["thumbnails"].arn}/thumbnails/*"]
    },
    {
      # The one exception to resource-scoped statements: lambda:ListFunctions supports no
      # resource-level permissions, so IAM only accepts "*". It reveals names and
      # configuration, never code or invocation rights; the handler filters by FUNCTION_PREFIX.
      sid       = "ListFunctions"
      actions   = ["lambda:ListFunctions"]
      resources = ["*"]
    },
    {
      sid       = "ReadQueueDepths"
      actions   = ["sqs:GetQueueAttributes"]
      resources = [for queue in values(var.queues) : queue.arn]
    },
    {
      # The second exception: cloudwatch:GetMetricData supports no resource-level
      # permissions, so IAM only accepts "*". It reads metric values (invocations, errors,
      # durations, queue ages), never logs or data; the handler asks only for its own functions and queues.
      sid       = "ReadMetrics"
      actions   = ["cloudwatch:GetMetricData"]
      resources = ["*"]
    },
  ]
}

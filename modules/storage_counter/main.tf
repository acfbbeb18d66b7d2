locals {
  table_name    = "${var.table_name_prefix}ObjectSizes"
  function_name = "${var.name_prefix}-storage-counter"
  dlq_name      = "${var.name_prefix}-storage-counter-dlq"
  bucket_names  = sort([for bucket in values(var.buckets) : bucket.name])
}

# One item per object of the counted buckets (Size, ETag, Version): the previous size an
# overwrite or delete must take back from `bucket#<name>`.
resource "aws_dynamodb_table" "sizes" {
  #checkov:skip=CKV_AWS_119:The table is encrypted at rest with the AWS-owned key (DynamoDB's default); a customer-managed key adds cost and a key policy for object sizes that are not secret.
  name         = local.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "ObjectRef"

  attribute {
    name = "ObjectRef"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  tags = var.tags
}

# The dead-letter queue is the function's (modules/lambda_function); an existing stack's
# queue moves there instead of being replaced.
moved {
  from = aws_sqs_queue.dlq
  to   = module.function.aws_sqs_queue.dead_letter[0]
}

module "function" {
  source = "../lambda_function"

  function_name      = local.function_name
  description        = "Keeps objects and bytes per bucket exact from S3 events (EventBridge)."
  handler            = "storage_counter.lambda_handler"
  runtime            = var.runtime
  filename           = var.function_package.filename
  source_code_hash   = var.function_package.source_code_hash
  timeout            = 30
  memory_size        = 128
  log_retention_days = var.log_retention_days
  tags               = var.tags

  # Events still failing after Lambda's two asynchronous retries, to inspect and replay (a
  # replay is harmless: the key is reconciled with S3's current state).
  dead_letter_queue = { name = local.dlq_name, asynchronous = true }

  environment = {
    STATS_TABLE        = var.stats_table.name
    OBJECT_SIZES_TABLE = aws_dynamodb_table.sizes.name
    COUNTED_BUCKETS    = join(",", local.bucket_names)
  }

  policy_statements = [
    {
      sid       = "UpdateCounters"
      actions   = ["dynamodb:UpdateItem"]
      resources = [var.stats_table.arn]
    },
    {
      sid       = "TrackSizes"
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
      resources = [aws_dynamodb_table.sizes.arn]
    },
    {
      # HEAD of the changed key: s3:GetObject on the objects, and ListBucket so a deleted
      # object answers 404 rather than 403.
      sid       = "HeadObjects"
      actions   = ["s3:GetObject"]
      resources = [for bucket in values(var.buckets) : "${bucket.arn}/*"]
    },
    {
      sid       = "ListBuckets"
      actions   = ["s3:ListBucket"]
      resources = [for bucket in values(var.buckets) : bucket.arn]
    },
  ]
}

# The buckets send their events to EventBridge (their owners' aws_s3_bucket_notification
# with eventbridge = true).
resource "aws_cloudwatch_event_rule" "changes" {
  name        = "${var.name_prefix}-storage-changes"
  description = "Objects created in or deleted from the counted buckets."
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created", "Object Deleted"]
    detail        = { bucket = { name = local.bucket_names } }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "changes" {
  rule = aws_cloudwatch_event_rule.changes.name
  arn  = module.function.function_arn
}

resource "aws_lambda_permission" "allow_changes_rule" {
  statement_id  = "AllowInvokeFromStorageChangesRule"
  action        = "lambda:InvokeFunction"
  function_name = module.function.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.changes.arn
}

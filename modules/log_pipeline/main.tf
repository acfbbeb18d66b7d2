locals {
  bucket_name   = "${var.name_prefix}-logs-storage"
  table_name    = "${var.table_name_prefix}LogIndex"
  function_name = "${var.name_prefix}-log-processor"
}

resource "aws_s3_bucket" "logs" {
  bucket        = local.bucket_name
  force_destroy = var.force_destroy_buckets
  tags          = var.tags
}

# Timestamp is a number "<epoch ms>.<9-digit batch nonce><6-digit index in batch>": see README.
resource "aws_dynamodb_table" "log_index" {
  name         = local.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "LogLevel"
  range_key    = "Timestamp"

  attribute {
    name = "LogLevel"
    type = "S"
  }

  attribute {
    name = "Timestamp"
    type = "N"
  }

  tags = var.tags
}

module "function" {
  source = "../lambda_function"

  function_name      = local.function_name
  description        = "Indexes log batches in ${local.table_name} and stores them gzip-compressed in ${local.bucket_name}."
  handler            = "log_processor.lambda_handler"
  runtime            = var.runtime
  filename           = var.function_package.filename
  source_code_hash   = var.function_package.source_code_hash
  timeout            = var.function_timeout
  memory_size        = var.function_memory_size
  log_retention_days = var.log_retention_days
  tags               = var.tags

  environment = {
    LOG_INDEX_TABLE = aws_dynamodb_table.log_index.name
    LOG_BUCKET      = aws_s3_bucket.logs.id
  }

  policy_statements = [
    {
      sid       = "IndexLogs"
      actions   = ["dynamodb:BatchWriteItem", "dynamodb:PutItem"]
      resources = [aws_dynamodb_table.log_index.arn]
    },
    {
      sid       = "StoreLogBatches"
      actions   = ["s3:PutObject"]
      resources = ["${aws_s3_bucket.logs.arn}/logs/*"]
    },
  ]
}

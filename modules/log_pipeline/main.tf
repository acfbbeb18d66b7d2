locals {
  bucket_name   = "${var.name_prefix}-logs-storage"
  table_name    = "${var.table_name_prefix}LogIndex"
  hours_table   = "${var.table_name_prefix}LogHours"
  function_name = "${var.name_prefix}-log-processor"
}

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_18:Server access logs need another bucket and are best-effort; the log processor logs every archive it writes (batch id, key, count).
  #checkov:skip=CKV_AWS_21:Archives are write-once: every batch gets a new uuid key, nothing is ever overwritten, so versioning would protect nothing.
  #checkov:skip=CKV_AWS_144:Cross-region replication needs a second region and bucket; this stack is single-region (and LocalStack has one).
  #checkov:skip=CKV_AWS_145:Objects are encrypted at rest with SSE-S3 (S3's default since 2023); SSE-KMS would add a per-request KMS cost and key policy.
  #checkov:skip=CKV2_AWS_61:How long log archives are kept is the operator's retention policy, not the pipeline's: no lifecycle rule deletes data by default.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of the archive bucket; the log processor is its only writer and reports each archive in its answer.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy_buckets
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Timestamp is a number "<epoch ms>.<9-digit batch nonce><6-digit index in batch>": see README.
resource "aws_dynamodb_table" "log_index" {
  #checkov:skip=CKV_AWS_119:The table is encrypted at rest with the AWS-owned key (DynamoDB's default); a customer-managed key adds cost and a key policy for data that is not secret.
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

  # LogLevel as the hash key puts every log of a level in one partition that grows forever.
  # The lists read these GSIs instead: each partition is one UTC hour of one level (LevelHour
  # = <LEVEL>#<YYYY-MM-DDTHH>) or of all levels (Hour), newest first by Timestamp.
  attribute {
    name = "LevelHour"
    type = "S"
  }

  attribute {
    name = "Hour"
    type = "S"
  }

  global_secondary_index {
    name            = "ByLevelHour"
    hash_key        = "LevelHour"
    range_key       = "Timestamp"
    projection_type = "ALL" # index rows are already summaries (message cut to 100 characters)
  }

  global_secondary_index {
    name            = "ByHour"
    hash_key        = "Hour"
    range_key       = "Timestamp"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  tags = var.tags
}

# Which hours hold rows, per level and for all levels (scope "*"): the lists walk from one
# non-empty hour to the next without probing empty ones. ADDed in the rows' transactions.
resource "aws_dynamodb_table" "hours" {
  #checkov:skip=CKV_AWS_119:The table is encrypted at rest with the AWS-owned key (DynamoDB's default); a customer-managed key adds cost and a key policy for data that is not secret.
  name         = local.hours_table
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
    STATS_TABLE     = var.stats_table.name
    LOG_INDEX_TABLE = aws_dynamodb_table.log_index.name
    LOG_HOURS_TABLE = aws_dynamodb_table.hours.name
    LOG_BUCKET      = aws_s3_bucket.logs.id
  }

  policy_statements = [
    {
      # Counters are ADDed in the same TransactWriteItems as the rows (roxs_common.aggregates).
      sid       = "UpdateCounters"
      actions   = ["dynamodb:UpdateItem"]
      resources = [var.stats_table.arn]
    },
    {
      # Rows are put in TransactWriteItems (checked per item: PutItem); DeleteItem only to undo
      # the transactions of a batch that could not be stored whole.
      sid       = "IndexLogs"
      actions   = ["dynamodb:PutItem", "dynamodb:DeleteItem"]
      resources = [aws_dynamodb_table.log_index.arn]
    },
    {
      sid       = "CountHours"
      actions   = ["dynamodb:UpdateItem"]
      resources = [aws_dynamodb_table.hours.arn]
    },
    {
      # DeleteObject only to remove the archive of a batch whose index could not be written.
      sid       = "StoreLogBatches"
      actions   = ["s3:PutObject", "s3:DeleteObject"]
      resources = ["${aws_s3_bucket.logs.arn}/logs/*"]
    },
  ]
}

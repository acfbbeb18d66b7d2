locals {
  buckets = {
    original   = "${var.name_prefix}-images-original"
    processed  = "${var.name_prefix}-images-processed"
    thumbnails = "${var.name_prefix}-images-thumbnails"
  }
  table_name    = "${var.table_name_prefix}ImageMetadata"
  keys_table    = "${var.table_name_prefix}ImageKeys"
  function_name = "${var.name_prefix}-image-processor"
  dlq_name      = "${var.name_prefix}-image-processor-dlq"

  # Default and bounds of function_memory_size: the same file the handler checks against.
  limits      = jsondecode(file("${path.module}/../../lambda_src/image_processor/limits.json"))
  memory_size = coalesce(var.function_memory_size, local.limits.function_memory_mb.default)
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs need another bucket and are best-effort; every object write and read of the pipeline is already logged by the function (request id, bucket, key).
  #checkov:skip=CKV_AWS_21:The system never overwrites an object: processed copies and thumbnails are derived under ids unique per upload; an overwritten original supersedes its row and derived objects (docs/reliability-and-security.md). Enable versioning where uploads themselves must be recoverable.
  #checkov:skip=CKV_AWS_144:Cross-region replication needs a second region and bucket; this stack is single-region (and LocalStack has one).
  #checkov:skip=CKV_AWS_145:Objects are encrypted at rest with SSE-S3 (S3's default since 2023); SSE-KMS would add a per-request KMS cost and key policy for images that are not secret.
  #checkov:skip=CKV2_AWS_61:How long images are kept is the owner's decision, not the pipeline's: no lifecycle rule deletes data by default.
  for_each = local.buckets

  bucket        = each.value
  force_destroy = var.force_destroy_buckets
  tags          = var.tags
}

# None of the buckets is ever public: objects are served through the API and dashboard.
resource "aws_s3_bucket_public_access_block" "this" {
  for_each = local.buckets

  bucket                  = aws_s3_bucket.this[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_dynamodb_table" "metadata" {
  #checkov:skip=CKV_AWS_119:The table is encrypted at rest with the AWS-owned key (DynamoDB's default); a customer-managed key adds cost and a key policy for image metadata that is not secret.
  name         = local.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "ImageId"
  range_key    = "UploadTimestamp"

  attribute {
    name = "ImageId"
    type = "S"
  }

  attribute {
    name = "UploadTimestamp"
    type = "N"
  }

  # The listing (roxs_common.image_index): newest first per UTC month, all statuses or one.
  # A month partition takes every write of its month: DynamoDB's ceiling of 1,000 writes/s
  # per partition key (GSIs included) bounds the image rate, far above what one function
  # processing images reaches (docs/interfaces.md).
  attribute {
    name = "ListMonth"
    type = "S"
  }

  attribute {
    name = "StatusMonth"
    type = "S"
  }

  global_secondary_index {
    name            = "ByMonth"
    hash_key        = "ListMonth"
    range_key       = "UploadTimestamp"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "ByStatusMonth"
    hash_key        = "StatusMonth"
    range_key       = "UploadTimestamp"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  tags = var.tags
}

# One item per original key: its current row and derived objects still to delete. Every
# change of a key is a conditional write on this item, in the row's transaction.
resource "aws_dynamodb_table" "keys" {
  #checkov:skip=CKV_AWS_119:The table is encrypted at rest with the AWS-owned key (DynamoDB's default); a customer-managed key adds cost and a key policy for image metadata that is not secret.
  name         = local.keys_table
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
  description        = "Resizes images uploaded to ${local.buckets.original} and records their metadata."
  handler            = "image_processor.lambda_handler"
  runtime            = var.runtime
  filename           = var.function_package.filename
  source_code_hash   = var.function_package.source_code_hash
  timeout            = var.function_timeout
  memory_size        = local.memory_size
  log_retention_days = var.log_retention_days
  tags               = var.tags

  # Events whose processing still fails after Lambda's two asynchronous retries (a transient
  # AWS error that outlasted them, a timeout), with the S3 event as the body, to inspect and
  # replay. Images that are not usable are not failures: they get an error row.
  dead_letter_queue = { name = local.dlq_name, asynchronous = true }

  environment = {
    STATS_TABLE       = var.stats_table.name
    ORIGINALS_BUCKET  = aws_s3_bucket.this["original"].id
    PROCESSED_BUCKET  = aws_s3_bucket.this["processed"].id
    THUMBNAILS_BUCKET = aws_s3_bucket.this["thumbnails"].id
    METADATA_TABLE    = aws_dynamodb_table.metadata.name
    IMAGE_KEYS_TABLE  = aws_dynamodb_table.keys.name
    THUMBNAIL_MAX_PX  = tostring(var.thumbnail_max_px)
    MAX_IMAGE_PIXELS  = tostring(var.max_image_pixels)
  }

  policy_statements = [
    {
      # Counters are ADDed in the same TransactWriteItems as the rows (roxs_common.aggregates).
      sid       = "UpdateCounters"
      actions   = ["dynamodb:UpdateItem"]
      resources = [var.stats_table.arn]
    },
    {
      sid       = "ReadOriginals"
      actions   = ["s3:GetObject"]
      resources = ["${aws_s3_bucket.this["original"].arn}/*"]
    },
    {
      # Without ListBucket, S3 answers 403 instead of 404 for an object deleted before it
      # was processed, and the processor could not tell "gone" from "forbidden".
      sid       = "ListOriginals"
      actions   = ["s3:ListBucket"]
      resources = [aws_s3_bucket.this["original"].arn]
    },
    {
      # Delete: the derived objects of a superseded or deleted original.
      sid       = "WriteProcessedAndThumbnails"
      actions   = ["s3:PutObject", "s3:DeleteObject"]
      resources = ["${aws_s3_bucket.this["processed"].arn}/processed/*", "${aws_s3_bucket.this["thumbnails"].arn}/thumbnails/*"]
    },
    {
      # Put the new row, delete the superseded one (in one transaction).
      sid       = "RecordMetadata"
      actions   = ["dynamodb:PutItem", "dynamodb:DeleteItem"]
      resources = [aws_dynamodb_table.metadata.arn]
    },
    {
      sid       = "TrackKeys"
      actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      resources = [aws_dynamodb_table.keys.arn]
    },
  ]
}

# S3 sends every change of the three buckets to EventBridge (one notification
# configuration per bucket, so several consumers can each have a rule): the image processor
# gets the originals' creates and deletes, the storage counter (modules/storage_counter)
# every bucket's.
resource "aws_s3_bucket_notification" "eventbridge" {
  for_each = local.buckets

  bucket      = aws_s3_bucket.this[each.key].id
  eventbridge = true
}

resource "aws_cloudwatch_event_rule" "originals" {
  name        = "${var.name_prefix}-images-original-changes"
  description = "Objects created in or deleted from ${local.buckets.original}: the image processor reconciles the key."
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created", "Object Deleted"]
    detail        = { bucket = { name = [aws_s3_bucket.this["original"].id] } }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "originals" {
  rule = aws_cloudwatch_event_rule.originals.name
  arn  = module.function.function_arn
}

resource "aws_lambda_permission" "allow_originals_rule" {
  statement_id  = "AllowInvokeFromOriginalsRule"
  action        = "lambda:InvokeFunction"
  function_name = module.function.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.originals.arn
}

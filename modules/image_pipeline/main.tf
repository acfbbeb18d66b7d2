data "aws_caller_identity" "current" {}

locals {
  buckets = {
    original   = "${var.name_prefix}-images-original"
    processed  = "${var.name_prefix}-images-processed"
    thumbnails = "${var.name_prefix}-images-thumbnails"
  }
  table_name    = "${var.table_name_prefix}ImageMetadata"
  function_name = "${var.name_prefix}-image-processor"
  dlq_name      = "${var.name_prefix}-image-processor-dlq"
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs need another bucket and are best-effort; every object write and read of the pipeline is already logged by the function (request id, bucket, key).
  #checkov:skip=CKV_AWS_21:The system never overwrites an object: processed copies and thumbnails are derived under ids unique per original version, and an overwritten original is a new upload with its own ImageId and row. Enable versioning where uploads themselves must be recoverable.
  #checkov:skip=CKV_AWS_144:Cross-region replication needs a second region and bucket; this stack is single-region (and LocalStack has one).
  #checkov:skip=CKV_AWS_145:Objects are encrypted at rest with SSE-S3 (S3's default since 2023); SSE-KMS would add a per-request KMS cost and key policy for images that are not secret.
  #checkov:skip=CKV2_AWS_61:How long images are kept is the owner's decision, not the pipeline's: no lifecycle rule deletes data by default.
  #checkov:skip=CKV2_AWS_62:The originals bucket notifies the image processor; nothing consumes events of the processed and thumbnails buckets, which only the processor writes.
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

  point_in_time_recovery {
    enabled = true
  }

  tags = var.tags
}

# Events whose processing still fails after Lambda's two asynchronous retries (a transient
# AWS error that outlasted them, a timeout): kept here, with the S3 event as the body, to
# inspect and replay. Images that are not usable are not failures: they get an error row.
resource "aws_sqs_queue" "dlq" {
  name                      = local.dlq_name
  message_retention_seconds = 1209600 # 14 days, the maximum
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
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
  memory_size        = var.function_memory_size
  log_retention_days = var.log_retention_days
  tags               = var.tags

  dead_letter_queue_arn = aws_sqs_queue.dlq.arn

  environment = {
    STATS_TABLE       = var.stats_table.name
    PROCESSED_BUCKET  = aws_s3_bucket.this["processed"].id
    THUMBNAILS_BUCKET = aws_s3_bucket.this["thumbnails"].id
    METADATA_TABLE    = aws_dynamodb_table.metadata.name
    THUMBNAIL_MAX_PX  = tostring(var.thumbnail_max_px)
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
      sid       = "WriteProcessedAndThumbnails"
      actions   = ["s3:PutObject"]
      resources = ["${aws_s3_bucket.this["processed"].arn}/processed/*", "${aws_s3_bucket.this["thumbnails"].arn}/thumbnails/*"]
    },
    {
      sid       = "RecordMetadata"
      actions   = ["dynamodb:PutItem"]
      resources = [aws_dynamodb_table.metadata.arn]
    },
  ]
}

# source_account as well: a bucket ARN carries no account, so a same-named bucket elsewhere
# must not be able to invoke the function.
resource "aws_lambda_permission" "allow_originals_bucket" {
  statement_id   = "AllowInvokeFromOriginalsBucket"
  action         = "lambda:InvokeFunction"
  function_name  = module.function.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.this["original"].arn
  source_account = data.aws_caller_identity.current.account_id
}

resource "aws_s3_bucket_notification" "originals" {
  bucket = aws_s3_bucket.this["original"].id

  lambda_function {
    lambda_function_arn = module.function.function_arn
    events              = ["s3:ObjectCreated:*"]
  }

  # S3 checks that it may invoke the function when the notification is saved.
  depends_on = [aws_lambda_permission.allow_originals_bucket]
}

data "aws_caller_identity" "current" {}

locals {
  buckets = {
    original   = "${var.name_prefix}-images-original"
    processed  = "${var.name_prefix}-images-processed"
    thumbnails = "${var.name_prefix}-images-thumbnails"
  }
  table_name    = "${var.table_name_prefix}ImageMetadata"
  function_name = "${var.name_prefix}-image-processor"
}

resource "aws_s3_bucket" "this" {
  for_each = local.buckets

  bucket        = each.value
  force_destroy = var.force_destroy_buckets
  tags          = var.tags
}

resource "aws_dynamodb_table" "metadata" {
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

  tags = var.tags
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

  environment = {
    PROCESSED_BUCKET  = aws_s3_bucket.this["processed"].id
    THUMBNAILS_BUCKET = aws_s3_bucket.this["thumbnails"].id
    METADATA_TABLE    = aws_dynamodb_table.metadata.name
    THUMBNAIL_MAX_PX  = tostring(var.thumbnail_max_px)
  }

  policy_statements = [
    {
      sid       = "ReadOriginals"
      actions   = ["s3:GetObject"]
      resources = ["${aws_s3_bucket.this["original"].arn}/*"]
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

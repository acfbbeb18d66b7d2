# The complete demo system: image, log and notification pipelines, a dashboard and an API.
# Plain AWS: no endpoints or credentials here. Against LocalStack, `tflocal` adds a
# provider override file (localstack_providers_override.tf) next to this one.

provider "aws" {
  region = var.aws_region
}

locals {
  tags = merge(var.tags, { Project = var.prefix })

  # "roxs" -> "Roxs": tables are <TablePrefix>ImageMetadata, <TablePrefix>LogIndex, ...
  table_name_prefix = "${upper(substr(var.prefix, 0, 1))}${substr(var.prefix, 1, -1)}"

  # The image processor's defaults and bounds, read by its handler too (one source).
  image_limits = jsondecode(file("${path.module}/lambda_src/image_processor/limits.json"))

  build_dir = trimsuffix(startswith(var.build_dir, "/") ? var.build_dir : "${path.root}/${var.build_dir}", "/")

  # build/<package>.zip, produced by build.py. A missing zip is reported by the
  # lambda_function module's precondition (make build), not by a hashing error here.
  # With hot reload the "package" is the absolute folder build.py --hot-reload keeps
  # (the lambda_function module deploys a folder that way); its contents are not hashed.
  # Every folder of lambda_src/ but common/ is a function's package (build.py's rule).
  package_names = toset([for file in fileset("${path.root}/lambda_src", "*/*.py") : dirname(file) if dirname(file) != "common"])
  packages = {
    for name in local.package_names :
    name => var.hot_reload ? {
      filename         = abspath("${local.build_dir}/hot-reload/${name}")
      source_code_hash = ""
      } : {
      filename         = "${local.build_dir}/${name}.zip"
      source_code_hash = fileexists("${local.build_dir}/${name}.zip") ? filebase64sha256("${local.build_dir}/${name}.zip") : ""
    }
  }
}

module "stats" {
  source = "./modules/stats"

  table_name_prefix = local.table_name_prefix
  tags              = local.tags
}

module "image_pipeline" {
  source = "./modules/image_pipeline"

  stats_table           = module.stats.table
  name_prefix           = var.prefix
  table_name_prefix     = local.table_name_prefix
  function_package      = local.packages["image_processor"]
  runtime               = var.lambda_runtime
  thumbnail_max_px      = coalesce(var.thumbnail_max_px, local.image_limits.thumbnail_max_px.default)
  max_image_pixels      = coalesce(var.max_image_pixels, local.image_limits.max_image_pixels.default)
  force_destroy_buckets = var.force_destroy_buckets
  log_retention_days    = var.log_retention_days
  tags                  = local.tags
}

module "log_pipeline" {
  source = "./modules/log_pipeline"

  stats_table           = module.stats.table
  name_prefix           = var.prefix
  table_name_prefix     = local.table_name_prefix
  function_package      = local.packages["log_processor"]
  runtime               = var.lambda_runtime
  force_destroy_buckets = var.force_destroy_buckets
  log_retention_days    = var.log_retention_days
  tags                  = local.tags
}

module "notifications" {
  source = "./modules/notifications"

  stats_table        = module.stats.table
  name_prefix        = var.prefix
  table_name_prefix  = local.table_name_prefix
  function_package   = local.packages["notification_processor"]
  runtime            = var.lambda_runtime
  max_receive_count  = var.notifications_max_receive_count
  batch_size         = var.notifications_batch_size
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

locals {
  tables = {
    images        = { name = module.image_pipeline.table_name, arn = module.image_pipeline.table_arn }
    logs          = { name = module.log_pipeline.table_name, arn = module.log_pipeline.table_arn }
    notifications = { name = module.notifications.table_name, arn = module.notifications.table_arn }
    # Directories of the time buckets that hold rows (roxs_common.timeline), read by the lists.
    log_hours         = { name = module.log_pipeline.hours_table_name, arn = module.log_pipeline.hours_table_arn }
    notification_days = { name = module.notifications.days_table_name, arn = module.notifications.days_table_arn }
  }

  buckets = {
    original   = { name = module.image_pipeline.bucket_names["original"], arn = module.image_pipeline.bucket_arns["original"] }
    processed  = { name = module.image_pipeline.bucket_names["processed"], arn = module.image_pipeline.bucket_arns["processed"] }
    thumbnails = { name = module.image_pipeline.bucket_names["thumbnails"], arn = module.image_pipeline.bucket_arns["thumbnails"] }
    logs       = { name = module.log_pipeline.bucket_name, arn = module.log_pipeline.bucket_arn }
  }
}

# Objects and bytes of all four buckets, from their S3 events through EventBridge (the
# image pipeline enables EventBridge on its three buckets; the logs bucket's is below).
module "storage_counter" {
  source = "./modules/storage_counter"

  stats_table        = module.stats.table
  name_prefix        = var.prefix
  table_name_prefix  = local.table_name_prefix
  function_package   = local.packages["storage_counter"]
  runtime            = var.lambda_runtime
  buckets            = local.buckets
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

# The logs bucket (modules/log_pipeline) sends its events to EventBridge for the storage
# counter. Its one notification configuration lives here, beside the counter's wiring;
# another consumer of its events adds an EventBridge rule, not a second configuration.
resource "aws_s3_bucket_notification" "logs_bucket" {
  bucket      = module.log_pipeline.bucket_name
  eventbridge = true
}

module "dashboard" {
  source = "./modules/dashboard"

  stats_table        = module.stats.table
  name_prefix        = var.prefix
  function_package   = local.packages["dashboard"]
  runtime            = var.lambda_runtime
  tables             = local.tables
  buckets            = local.buckets
  log_retention_days = var.log_retention_days
  tags               = local.tags

  queues = {
    notifications     = { url = module.notifications.queue_url, arn = module.notifications.queue_arn }
    notifications_dlq = { url = module.notifications.dlq_url, arn = module.notifications.dlq_arn }
    images_dlq        = { url = module.image_pipeline.dlq_url, arn = module.image_pipeline.dlq_arn }
  }
}

module "api" {
  source = "./modules/api"

  stats_table         = module.stats.table
  name_prefix         = var.prefix
  function_package    = local.packages["api_handler"]
  runtime             = var.lambda_runtime
  tables              = local.tables
  originals_bucket    = local.buckets["original"]
  notifications_queue = { url = module.notifications.queue_url, arn = module.notifications.queue_arn }
  dashboard_function  = { name = module.dashboard.function_name, arn = module.dashboard.function_arn }
  cors_allow_origin   = var.cors_allow_origin
  log_retention_days  = var.log_retention_days
  tags                = local.tags

  # Who may write and how fast (checked here, in variables.tf).
  api_auth              = var.api_auth
  throttle_rate_limit   = var.api_throttle_rate_limit
  throttle_burst_limit  = var.api_throttle_burst_limit
  api_key_quota_per_day = var.api_key_quota_per_day
  token_key_version     = var.api_token_key_version
}

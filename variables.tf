variable "prefix" {
  description = "Prefix of every resource name (roxs-images-original, roxs-image-processor, ...). Tables use it capitalised: Roxs + ImageMetadata / LogIndex / NotificationHistory."
  type        = string
  default     = "roxs"

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.prefix)) && length(var.prefix) <= 20
    error_message = "prefix must be at most 20 characters of lowercase letters, digits and '-', starting and ending with a letter or digit (it becomes part of S3 bucket names)."
  }
}

variable "aws_region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.aws_region))
    error_message = "aws_region must be a region code such as us-east-1 or eu-west-3."
  }
}

variable "build_dir" {
  description = "Directory holding the Lambda packages <package>.zip built by build.py (relative to the root module, or absolute)."
  type        = string
  default     = "build"

  validation {
    condition     = length(trimspace(var.build_dir)) > 0
    error_message = "build_dir must not be empty."
  }
}

variable "hot_reload" {
  description = "Deploy every function with LocalStack hot reload: its code is the folder build/hot-reload/<function>/ (kept current by `build.py --watch`), so a saved change is live at the next invocation without a deploy. LocalStack only (`make dev`)."
  type        = bool
  default     = false
}

variable "lambda_runtime" {
  description = "Runtime of every Lambda function. build.py reads this default to choose the wheels it installs (cp311), and the handlers use Python 3.11, so it is the only value accepted: another would deploy and then fail."
  type        = string
  default     = "python3.11"

  # The one check of the runtime: the modules take it as given.
  validation {
    condition     = var.lambda_runtime == "python3.11"
    error_message = "lambda_runtime must be python3.11: build.py builds the packages (cp311 wheels) from this variable's default, and the handlers need Python 3.11."
  }
}

# The image processor's settings: defaults and bounds in lambda_src/image_processor/limits.json
# (local.image_limits), which the handler checks too; null takes the default there.
variable "thumbnail_max_px" {
  description = "Longest side of a generated thumbnail, in pixels; null: the default of lambda_src/image_processor/limits.json, whose bounds it must be within."
  type        = number
  default     = null

  validation {
    condition = var.thumbnail_max_px == null ? true : (
      var.thumbnail_max_px >= local.image_limits.thumbnail_max_px.min && var.thumbnail_max_px <= local.image_limits.thumbnail_max_px.max
      && floor(var.thumbnail_max_px) == var.thumbnail_max_px
    )
    error_message = "thumbnail_max_px must be a whole number between ${local.image_limits.thumbnail_max_px.min} and ${local.image_limits.thumbnail_max_px.max} (lambda_src/image_processor/limits.json)."
  }
}

variable "max_image_pixels" {
  description = "Largest decoded image (width x height) the image processor accepts; larger ones get a `rejected` row. null: the default of lambda_src/image_processor/limits.json, whose bounds it must be within."
  type        = number
  default     = null

  validation {
    condition = var.max_image_pixels == null ? true : (
      var.max_image_pixels >= local.image_limits.max_image_pixels.min && var.max_image_pixels <= local.image_limits.max_image_pixels.max
      && floor(var.max_image_pixels) == var.max_image_pixels
    )
    error_message = "max_image_pixels must be a whole number between ${local.image_limits.max_image_pixels.min} and ${local.image_limits.max_image_pixels.max} (lambda_src/image_processor/limits.json)."
  }
}

variable "log_retention_days" {
  description = "Retention of every function's CloudWatch log group, in days (0 = never expire)."
  type        = number
  default     = 7

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch's values: 0 (never expire), 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "notifications_max_receive_count" {
  description = "Receives of a notification message before it moves to the dead-letter queue."
  type        = number
  default     = 3

  validation {
    condition     = var.notifications_max_receive_count >= 1 && var.notifications_max_receive_count <= 1000 && floor(var.notifications_max_receive_count) == var.notifications_max_receive_count
    error_message = "notifications_max_receive_count must be a whole number between 1 and 1000."
  }
}

variable "notifications_batch_size" {
  description = "Messages of the notifications queue handed to one invocation of the notification processor."
  type        = number
  default     = 10

  validation {
    condition     = var.notifications_batch_size >= 1 && var.notifications_batch_size <= 10 && floor(var.notifications_batch_size) == var.notifications_batch_size
    error_message = "notifications_batch_size must be a whole number between 1 and 10 (larger batches need a batching window)."
  }
}

variable "cors_allow_origin" {
  description = "Access-Control-Allow-Origin of API responses: the origin allowed to call the API from a browser, or \"*\". Default: the local dashboard on LocalStack's usual port (make apply and make demo set the engine's own origin, whatever its port). On AWS: your dashboard's origin (docs/deploy-to-aws.md)."
  type        = string
  default     = "http://localhost:4566"

  validation {
    condition     = var.cors_allow_origin == "*" || can(regex("^https?://[^/\\s]+$", var.cors_allow_origin))
    error_message = "cors_allow_origin must be \"*\" or an origin like https://example.com or http://localhost:4566 (no path, no trailing slash)."
  }
}

variable "api_auth" {
  description = "Credential the API's write methods (every method but GET and OPTIONS: today POST /notifications) require: \"none\" (the local tutorial), \"api_key\" (x-api-key header; key in the sensitive output api_key) or \"iam\" (SigV4-signed requests; policy in the output api_writer_policy_arn). Reads stay public. Deploying to AWS: use api_key or iam."
  type        = string
  default     = "none"

  validation {
    condition     = contains(["none", "api_key", "iam"], var.api_auth)
    error_message = "api_auth must be \"none\", \"api_key\" or \"iam\"."
  }
}

variable "api_throttle_rate_limit" {
  description = "API stage throttling: steady requests per second over all methods (429 beyond it)."
  type        = number
  default     = 20

  validation {
    condition     = var.api_throttle_rate_limit > 0 && var.api_throttle_rate_limit <= 10000
    error_message = "api_throttle_rate_limit must be more than 0 and at most 10000 (the account's default limit)."
  }
}

variable "api_throttle_burst_limit" {
  description = "API stage throttling: requests accepted at once above the steady rate."
  type        = number
  default     = 40

  validation {
    condition     = var.api_throttle_burst_limit >= 1 && var.api_throttle_burst_limit <= 5000 && floor(var.api_throttle_burst_limit) == var.api_throttle_burst_limit
    error_message = "api_throttle_burst_limit must be a whole number between 1 and 5000 (the account's default burst)."
  }
}

variable "api_key_quota_per_day" {
  description = "With api_auth = \"api_key\": write requests the key may make per day (429 beyond it)."
  type        = number
  default     = 1000

  validation {
    condition     = var.api_key_quota_per_day >= 1 && floor(var.api_key_quota_per_day) == var.api_key_quota_per_day
    error_message = "api_key_quota_per_day must be a whole number of at least 1."
  }
}

variable "api_token_key_version" {
  description = "Version of the key that signs the API's next_token (a secret generated per stack). Raise it to generate a new key: every token issued before is then refused (400)."
  type        = number
  default     = 1

  validation {
    condition     = var.api_token_key_version >= 1 && floor(var.api_token_key_version) == var.api_token_key_version
    error_message = "api_token_key_version must be a whole number of at least 1."
  }
}

variable "force_destroy_buckets" {
  description = "Whether destroy deletes the buckets even when they hold objects (true keeps `make destroy` clean; set false for data worth keeping)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource; Project = prefix is always added."
  type        = map(string)
  default     = {}
}

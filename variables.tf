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

variable "lambda_runtime" {
  description = "Runtime of every Lambda function (the packages are built for it)."
  type        = string
  default     = "python3.11"

  validation {
    condition     = contains(["python3.9", "python3.10", "python3.11", "python3.12", "python3.13"], var.lambda_runtime)
    error_message = "lambda_runtime must be one of python3.9, python3.10, python3.11, python3.12, python3.13."
  }
}

variable "thumbnail_max_px" {
  description = "Longest side of a generated thumbnail, in pixels (bounds: lambda_src/image_processor/limits.json, checked by modules/image_pipeline)."
  type        = number
  default     = 128
}

variable "max_image_pixels" {
  description = "Largest decoded image (width x height) the image processor accepts; larger ones get a `rejected` row (bounds: lambda_src/image_processor/limits.json, checked by modules/image_pipeline)."
  type        = number
  default     = 45000000
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
  description = "Access-Control-Allow-Origin of API responses: the origin allowed to call the API from a browser (default: the local dashboard), or \"*\"."
  type        = string
  default     = "http://localhost:4566"

  validation {
    condition     = var.cors_allow_origin == "*" || can(regex("^https?://[^/\\s]+$", var.cors_allow_origin))
    error_message = "cors_allow_origin must be \"*\" or an origin like https://example.com or http://localhost:4566 (no path, no trailing slash)."
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

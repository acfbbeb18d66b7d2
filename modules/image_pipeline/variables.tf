variable "name_prefix" {
  description = "Lowercase prefix of bucket and function names (<prefix>-images-original, <prefix>-image-processor, ...). Checked once, by the root module's prefix."
  type        = string
}

variable "table_name_prefix" {
  description = "Prefix of the DynamoDB table name (<table_name_prefix>ImageMetadata), for example Roxs. Derived from the root module's checked prefix."
  type        = string
}

variable "function_package" {
  description = "Deployment package of the image processor: zip path and its filebase64sha256."
  type = object({
    filename         = string
    source_code_hash = string
  })
}

variable "runtime" {
  description = "Lambda runtime of the image processor (checked once, by the root module's lambda_runtime)."
  type        = string
}

variable "function_timeout" {
  description = "Timeout of the image processor in seconds."
  type        = number
  default     = 60
}

variable "function_memory_size" {
  description = "Memory of the image processor in MB (null: the default of limits.json). With max_image_pixels it bounds what is processed: an image whose render would need more (render_memory in limits.json, measured per format and mode) gets a `rejected` row before decoding."
  type        = number
  default     = null

  # The default and bounds live in the handler's limits.json, which the handler checks too.
  validation {
    condition = var.function_memory_size == null ? true : (
      var.function_memory_size >= local.limits.function_memory_mb.min && var.function_memory_size <= local.limits.function_memory_mb.max
      && floor(var.function_memory_size) == var.function_memory_size
    )
    error_message = "function_memory_size must be a whole number of MB between ${local.limits.function_memory_mb.min} and ${local.limits.function_memory_mb.max} (lambda_src/image_processor/limits.json)."
  }
}

variable "thumbnail_max_px" {
  description = "Longest side of a thumbnail in pixels (THUMBNAIL_MAX_PX). Checked once, by the root module, against lambda_src/image_processor/limits.json."
  type        = number
}

variable "max_image_pixels" {
  description = "Largest decoded image (width x height) the processor accepts (MAX_IMAGE_PIXELS), checked from the header before decoding; larger ones get a `rejected` row. Formats and modes whose render needs more memory per pixel than function_memory_size allows for this many pixels are bounded lower (render_memory in limits.json; docs/reliability-and-security.md lists them). Checked once, by the root module, against lambda_src/image_processor/limits.json."
  type        = number
}

variable "force_destroy_buckets" {
  description = "Whether destroy empties and deletes the buckets even when they hold objects."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention of the function's log group in days (a CloudWatch value; 0 = never expire). Checked once, by the root module's log_retention_days."
  type        = number
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}

variable "stats_table" {
  description = "The stats table (modules/stats): name and ARN; counters are updated there."
  type = object({
    name = string
    arn  = string
  })
}

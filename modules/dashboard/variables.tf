variable "name_prefix" {
  description = "Lowercase prefix of the function name (<prefix>-dashboard); also the function-name filter FUNCTION_PREFIX (<prefix>-)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.name_prefix)) && length(var.name_prefix) <= 20
    error_message = "name_prefix must be at most 20 characters of [a-z0-9-], starting and ending with a letter or digit."
  }
}

variable "function_package" {
  description = "Deployment package of the dashboard: zip path and its filebase64sha256."
  type = object({
    filename         = string
    source_code_hash = string
  })
}

variable "runtime" {
  description = "Lambda runtime of the dashboard (checked once, by the root module's lambda_runtime)."
  type        = string
}

variable "function_timeout" {
  description = "Timeout of the dashboard in seconds."
  type        = number
  default     = 30

  validation {
    condition     = var.function_timeout >= 1 && var.function_timeout <= 900
    error_message = "function_timeout must be between 1 and 900 seconds."
  }
}

variable "function_memory_size" {
  description = "Memory of the dashboard in MB."
  type        = number
  default     = 256

  validation {
    condition     = var.function_memory_size >= 128 && var.function_memory_size <= 10240
    error_message = "function_memory_size must be between 128 and 10240 MB."
  }
}

variable "tables" {
  description = "The tables the dashboard queries (name and ARN each): images, the log index and its directory of hours (totals come from the stats table)."
  type = object({
    images    = object({ name = string, arn = string })
    logs      = object({ name = string, arn = string })
    log_hours = object({ name = string, arn = string })
  })
}

variable "buckets" {
  description = "Buckets the dashboard reports on, by role (name and ARN each); must include \"thumbnails\"."
  type = map(object({
    name = string
    arn  = string
  }))

  validation {
    condition     = contains(keys(var.buckets), "thumbnails")
    error_message = "buckets must include the \"thumbnails\" bucket (THUMBNAILS_BUCKET)."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group in days (a CloudWatch value; 0 = never expire)."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Tags applied to every resource of the module."
  type        = map(string)
  default     = {}
}

variable "stats_table" {
  description = "The stats table (modules/stats): name and ARN; counters are read there."
  type = object({
    name = string
    arn  = string
  })
}

variable "queues" {
  description = "Queues shown on the dashboard (URL and ARN each): the notification queue and the two dead-letter queues."
  type = object({
    notifications     = object({ url = string, arn = string })
    notifications_dlq = object({ url = string, arn = string })
    images_dlq        = object({ url = string, arn = string })
  })
}

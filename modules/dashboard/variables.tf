variable "name_prefix" {
  description = "Lowercase prefix of the function name (<prefix>-dashboard); also the function-name filter FUNCTION_PREFIX (<prefix>-). Checked once, by the root module's prefix."
  type        = string
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
}

variable "function_memory_size" {
  description = "Memory of the dashboard in MB."
  type        = number
  default     = 256
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
  description = "Retention of the function's log group in days (a CloudWatch value; 0 = never expire). Checked once, by the root module's log_retention_days."
  type        = number
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

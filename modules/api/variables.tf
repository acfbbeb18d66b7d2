variable "name_prefix" {
  description = "Lowercase prefix of the API and function names (<prefix>-complete-api, <prefix>-api-handler)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.name_prefix)) && length(var.name_prefix) <= 20
    error_message = "name_prefix must be at most 20 characters of [a-z0-9-], starting and ending with a letter or digit."
  }
}

variable "stage_name" {
  description = "Name of the API Gateway stage."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name must be 1 to 128 characters of letters, digits, '-' or '_'."
  }
}

variable "function_package" {
  description = "Deployment package of the API handler: zip path and its filebase64sha256."
  type = object({
    filename         = string
    source_code_hash = string
  })
}

variable "runtime" {
  description = "Lambda runtime of the API handler (checked once, by the root module's lambda_runtime)."
  type        = string
}

variable "function_timeout" {
  description = "Timeout of the API handler in seconds (API Gateway itself gives up after 29 s)."
  type        = number
  default     = 30

  validation {
    condition     = var.function_timeout >= 1 && var.function_timeout <= 900
    error_message = "function_timeout must be between 1 and 900 seconds."
  }
}

variable "function_memory_size" {
  description = "Memory of the API handler in MB."
  type        = number
  default     = 256

  validation {
    condition     = var.function_memory_size >= 128 && var.function_memory_size <= 10240
    error_message = "function_memory_size must be between 128 and 10240 MB."
  }
}

variable "tables" {
  description = "The tables the API reads (name and ARN each): the three pipelines' and the directories of the time buckets their lists walk."
  type = object({
    images            = object({ name = string, arn = string })
    logs              = object({ name = string, arn = string })
    notifications     = object({ name = string, arn = string })
    log_hours         = object({ name = string, arn = string })
    notification_days = object({ name = string, arn = string })
  })
}

variable "originals_bucket" {
  description = "Bucket of original images, listed by GET /files (name and ARN)."
  type        = object({ name = string, arn = string })
}

variable "notifications_queue" {
  description = "Queue that POST /notifications sends to (URL and ARN)."
  type        = object({ url = string, arn = string })
}

variable "dashboard_function" {
  description = "Dashboard function the API may invoke (name and ARN)."
  type        = object({ name = string, arn = string })
}

variable "cors_allow_origin" {
  description = "Value of Access-Control-Allow-Origin in API responses: one origin (scheme://host[:port]) or \"*\"."
  type        = string

  validation {
    condition     = var.cors_allow_origin == "*" || can(regex("^https?://[^/\\s]+$", var.cors_allow_origin))
    error_message = "cors_allow_origin must be \"*\" or an origin like https://example.com or http://localhost:4566 (no path, no trailing slash)."
  }
}

variable "api_auth" {
  description = "Credential the write methods (every method but GET and OPTIONS) require: \"none\", \"api_key\" (x-api-key header, usage plan with a daily quota) or \"iam\" (AWS_IAM, SigV4-signed requests). Reads stay public. Checked by the root module, like the throttling and quota values."
  type        = string
}

variable "throttle_rate_limit" {
  description = "Stage throttling: steady requests per second over all methods; API Gateway answers 429 beyond it."
  type        = number
}

variable "throttle_burst_limit" {
  description = "Stage throttling: requests API Gateway accepts at once above the steady rate."
  type        = number
}

variable "api_key_quota_per_day" {
  description = "With api_auth = \"api_key\": write requests the key may make per day (the usage plan's quota); API Gateway answers 429 beyond it."
  type        = number
}

variable "log_retention_days" {
  description = "Retention of the function's log group in days (a CloudWatch value; 0 = never expire)."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Tags applied to every taggable resource of the module."
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

variable "function_name" {
  description = "Name of the Lambda function; also names its role (<name>-role), inline policy and log group (/aws/lambda/<name>)."
  type        = string

  validation {
    # 59 leaves room for the "-role" suffix within IAM's 64-character role-name limit.
    condition     = can(regex("^[A-Za-z0-9_-]{1,59}$", var.function_name))
    error_message = "function_name must be 1 to 59 characters of letters, digits, '-' or '_' (the role name adds '-role' within IAM's 64-character limit)."
  }
}

variable "description" {
  description = "Description of the Lambda function."
  type        = string
  default     = ""

  validation {
    condition     = length(var.description) <= 256
    error_message = "description must be at most 256 characters."
  }
}

variable "handler" {
  description = "Handler entry point, module.function (for example image_processor.lambda_handler)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.]+\\.[A-Za-z_][A-Za-z0-9_]*$", var.handler))
    error_message = "handler must look like module.function, for example image_processor.lambda_handler."
  }
}

variable "runtime" {
  description = "Lambda runtime identifier (checked once, by the root module's lambda_runtime)."
  type        = string
}

variable "filename" {
  description = "Path of the deployment package (zip) to upload; or, for LocalStack hot reload, the absolute path of a folder holding the unzipped code, which the function then runs from directly."
  type        = string

  validation {
    condition     = endswith(var.filename, ".zip") || startswith(var.filename, "/")
    error_message = "filename must point to a .zip deployment package, or be the absolute path of a code folder (hot reload)."
  }
}

variable "source_code_hash" {
  description = "Base64-encoded SHA-256 of the deployment package (filebase64sha256); a change redeploys the code. Ignored for a hot-reload folder."
  type        = string
}

variable "timeout" {
  description = "Function timeout in seconds."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds between 1 and 900."
  }
}

variable "memory_size" {
  description = "Memory in MB allotted to the function."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "environment" {
  description = "Environment variables of the function. SERVICE_NAME is always added (= function_name)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key in keys(var.environment) : can(regex("^[A-Za-z][A-Za-z0-9_]*$", key)) && !startswith(key, "AWS_")])
    error_message = "Environment variable names must match [A-Za-z][A-Za-z0-9_]* and must not start with AWS_ (reserved by Lambda)."
  }
}

variable "policy_statements" {
  description = "Allow statements added to the function's inline policy, next to the statement that lets it write its own logs."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
  }))
  default = []

  validation {
    condition     = alltrue([for s in var.policy_statements : can(regex("^[A-Za-z0-9]+$", s.sid))])
    error_message = "Every statement sid must be alphanumeric (IAM rejects other characters)."
  }

  validation {
    condition     = length(distinct([for s in var.policy_statements : s.sid])) == length(var.policy_statements) && !contains([for s in var.policy_statements : s.sid], "WriteOwnLogs")
    error_message = "Statement sids must be unique and must not reuse the module's own sid WriteOwnLogs."
  }

  validation {
    condition     = alltrue([for s in var.policy_statements : length(s.actions) > 0 && length(s.resources) > 0])
    error_message = "Every statement needs at least one action and one resource."
  }
}

variable "dead_letter_queue" {
  description = "A dead-letter queue this module creates for the function's failed events (SSE-SQS, messages kept 14 days), or null for none. name: the queue's name. asynchronous: true for a function invoked asynchronously (S3, EventBridge): Lambda sends the events still failing after its retries there, and the policy allows sqs:SendMessage on it; false for a function fed by an SQS event source: that queue's redrive policy names this one (output dead_letter_queue_arn)."
  type = object({
    name         = string
    asynchronous = bool
  })
  default = null

  validation {
    condition     = var.dead_letter_queue == null || can(regex("^[A-Za-z0-9_-]{1,80}$", var.dead_letter_queue.name))
    error_message = "dead_letter_queue.name must be 1 to 80 characters of letters, digits, '-' or '_' (SQS queue-name rules)."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's CloudWatch log group, in days (0 = never expire). Checked once, by the root module's log_retention_days."
  type        = number
}

variable "tags" {
  description = "Tags applied to the function, its role and its log group."
  type        = map(string)
  default     = {}
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the function's own metrics (its Duration per invocation, roxs_common.metrics); the policy allows PutMetricData to this namespace only."
  type        = string
  default     = "Roxs/Functions"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 characters of [A-Za-z0-9._/#:-] and must not start with AWS/ (reserved)."
  }
}

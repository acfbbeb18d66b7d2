output "bucket_name" {
  description = "Name of the log storage bucket."
  value       = aws_s3_bucket.logs.id
}

output "bucket_arn" {
  description = "ARN of the log storage bucket."
  value       = aws_s3_bucket.logs.arn
}

output "table_name" {
  description = "Name of the log index table."
  value       = aws_dynamodb_table.log_index.name
}

output "table_arn" {
  description = "ARN of the log index table."
  value       = aws_dynamodb_table.log_index.arn
}

output "function_name" {
  description = "Name of the log processor function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the log processor function."
  value       = module.function.function_arn
}

output "log_group_name" {
  description = "Log group of the log processor function."
  value       = module.function.log_group_name
}

output "hours_table_name" {
  description = "Name of the directory of hours that hold index rows (roxs_common.timeline)."
  value       = aws_dynamodb_table.hours.name
}

output "hours_table_arn" {
  description = "ARN of the directory of hours that hold index rows."
  value       = aws_dynamodb_table.hours.arn
}

output "function_name" {
  description = "Name of the storage counter function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the storage counter function."
  value       = module.function.function_arn
}

output "table_name" {
  description = "Name of the object-size table."
  value       = aws_dynamodb_table.sizes.name
}

output "table_arn" {
  description = "ARN of the object-size table."
  value       = aws_dynamodb_table.sizes.arn
}

output "dlq_url" {
  description = "URL of the storage counter's dead-letter queue."
  value       = module.function.dead_letter_queue_url
}

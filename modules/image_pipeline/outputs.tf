output "bucket_names" {
  description = "Bucket names by role: original, processed, thumbnails."
  value       = { for role, bucket in aws_s3_bucket.this : role => bucket.id }
}

output "bucket_arns" {
  description = "Bucket ARNs by role: original, processed, thumbnails."
  value       = { for role, bucket in aws_s3_bucket.this : role => bucket.arn }
}

output "table_name" {
  description = "Name of the image metadata table."
  value       = aws_dynamodb_table.metadata.name
}

output "table_arn" {
  description = "ARN of the image metadata table."
  value       = aws_dynamodb_table.metadata.arn
}

output "function_name" {
  description = "Name of the image processor function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the image processor function."
  value       = module.function.function_arn
}

output "log_group_name" {
  description = "Log group of the image processor function."
  value       = module.function.log_group_name
}

output "dlq_url" {
  description = "URL of the dead-letter queue of the image processor's asynchronous invocations."
  value       = module.function.dead_letter_queue_url
}

output "dlq_arn" {
  description = "ARN of the image processor's dead-letter queue."
  value       = module.function.dead_letter_queue_arn
}

output "table_index_arns" {
  description = "ARNs of the metadata table's GSIs (ByMonth, ByStatusMonth): readers of the listing need dynamodb:Query on them."
  value       = ["${aws_dynamodb_table.metadata.arn}/index/ByMonth", "${aws_dynamodb_table.metadata.arn}/index/ByStatusMonth"]
}

output "keys_table_name" {
  description = "Name of the table of per-key state (current row, derived objects to delete)."
  value       = aws_dynamodb_table.keys.name
}

output "keys_table_arn" {
  description = "ARN of the table of per-key state."
  value       = aws_dynamodb_table.keys.arn
}

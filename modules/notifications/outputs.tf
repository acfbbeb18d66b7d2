output "topic_arn" {
  description = "ARN of the notifications SNS topic."
  value       = aws_sns_topic.notifications.arn
}

output "queue_url" {
  description = "URL of the queue that feeds the notification processor."
  value       = aws_sqs_queue.notifications.id
}

output "queue_arn" {
  description = "ARN of the queue that feeds the notification processor."
  value       = aws_sqs_queue.notifications.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue of the notifications queue."
  value       = module.function.dead_letter_queue_url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue of the notifications queue."
  value       = module.function.dead_letter_queue_arn
}

output "subscriber_queue_url" {
  description = "URL of the queue subscribed to the topic (SNS envelope, not raw)."
  value       = aws_sqs_queue.subscriber.id
}

output "subscriber_queue_arn" {
  description = "ARN of the queue subscribed to the topic."
  value       = aws_sqs_queue.subscriber.arn
}

output "table_name" {
  description = "Name of the notification history table."
  value       = aws_dynamodb_table.history.name
}

output "table_arn" {
  description = "ARN of the notification history table."
  value       = aws_dynamodb_table.history.arn
}

output "function_name" {
  description = "Name of the notification processor function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the notification processor function."
  value       = module.function.function_arn
}

output "log_group_name" {
  description = "Log group of the notification processor function."
  value       = module.function.log_group_name
}

output "days_table_name" {
  description = "Name of the directory of days that hold history rows (roxs_common.timeline)."
  value       = aws_dynamodb_table.days.name
}

output "days_table_arn" {
  description = "ARN of the directory of days that hold history rows."
  value       = aws_dynamodb_table.days.arn
}

output "api_id" {
  description = "ID of the REST API."
  value       = module.api.api_id
}

output "api_stage" {
  description = "Name of the API stage."
  value       = module.api.stage_name
}

output "api_invoke_url" {
  description = "Invoke URL of the API stage on AWS (https://<api_id>.execute-api.<region>.amazonaws.com/prod). On LocalStack use <AWS_ENDPOINT_URL>/_aws/execute-api/<api_id>/<stage>/ (make outputs prints it)."
  value       = module.api.invoke_url
}

output "api_auth" {
  description = "Credential the API's write methods require: none, api_key or iam."
  value       = var.api_auth
}

output "api_key" {
  description = "With api_auth = \"api_key\": the value to send as the x-api-key header on write requests (null otherwise). Read it with `terraform output -raw api_key`."
  value       = module.api.api_key
  sensitive   = true
}

output "api_token_key_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the key that signs the API's next_token (generated per stack; its value is in neither plan nor state)."
  value       = module.api.token_key_secret_arn
}

output "api_writer_policy_arn" {
  description = "With api_auth = \"iam\": ARN of the IAM policy to attach to a caller that may write (null otherwise)."
  value       = module.api.writer_policy_arn
}

output "buckets" {
  description = "Bucket names by role: original, processed, thumbnails, logs."
  value       = { for role, bucket in local.buckets : role => bucket.name }
}

output "tables" {
  description = "Table names by content: images, logs, notifications."
  value       = { for content, table in local.tables : content => table.name }
}

output "notifications_queue_url" {
  description = "URL of the queue that feeds the notification processor."
  value       = module.notifications.queue_url
}

output "notifications_dlq_url" {
  description = "URL of the notifications dead-letter queue."
  value       = module.notifications.dlq_url
}

output "image_processor_dlq_url" {
  description = "URL of the dead-letter queue for S3 events the image processor still failed on after Lambda's retries."
  value       = module.image_pipeline.dlq_url
}

output "notifications_subscriber_queue_url" {
  description = "URL of the queue subscribed to the notifications topic (SNS envelope with Subject and MessageAttributes)."
  value       = module.notifications.subscriber_queue_url
}

output "topic_arn" {
  description = "ARN of the notifications SNS topic."
  value       = module.notifications.topic_arn
}

output "functions" {
  description = "Lambda function names by package: image_processor, log_processor, notification_processor, api_handler, dashboard."
  value = {
    image_processor        = module.image_pipeline.function_name
    log_processor          = module.log_pipeline.function_name
    notification_processor = module.notifications.function_name
    api_handler            = module.api.function_name
    dashboard              = module.dashboard.function_name
    storage_counter        = module.storage_counter.function_name
  }
}

output "stats_table" {
  description = "Name of the stats table: counters kept at write time (roxs_common.aggregates)."
  value       = module.stats.table.name
}

output "state_tables" {
  description = "Tables of per-key state: image_keys (the image processor's current row per original key), object_sizes (the storage counter's size per object)."
  value = {
    image_keys   = module.image_pipeline.keys_table_name
    object_sizes = module.storage_counter.table_name
  }
}

output "storage_counter_dlq_url" {
  description = "URL of the dead-letter queue for S3 events the storage counter still failed on after Lambda's retries."
  value       = module.storage_counter.dlq_url
}

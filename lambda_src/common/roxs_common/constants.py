"""Values that more than one function must agree on."""

# Every level the log processor accepts. The API and the dashboard query RoxsLogIndex once
# per level (LogLevel is its hash key), so this tuple is the complete list of partitions.
LOG_LEVELS: tuple[str, ...] = ("TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "CRITICAL", "FATAL")

# Notification priorities, checked by the API before queueing and by the processor.
NOTIFICATION_PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "critical")

"""Values that more than one function must agree on."""

# Every level the log processor accepts. The API and the dashboard query RoxsLogIndex once
# per level (LogLevel is its hash key), so this tuple is the complete list of partitions.
LOG_LEVELS: tuple[str, ...] = ("TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "CRITICAL", "FATAL")

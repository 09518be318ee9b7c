"""Protocol clients for the four peers; each turns wire failures into RetryableError or PermanentError."""

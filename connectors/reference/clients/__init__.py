"""Protocol clients for the four peers; wire failures become RetryableError or PermanentError."""

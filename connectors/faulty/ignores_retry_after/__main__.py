"""`python -m connectors.faulty.ignores_retry_after`: the reference, deaf to Retry-After."""

from connectors.faulty.ignores_retry_after import IgnoresRetryAfterConnector
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=IgnoresRetryAfterConnector)

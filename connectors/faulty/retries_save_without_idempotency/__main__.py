"""`python -m connectors.faulty.retries_save_without_idempotency`: a new bill number per retry."""

from connectors.faulty.retries_save_without_idempotency import (
    RetriesSaveWithoutIdempotencyConnector,
)
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=RetriesSaveWithoutIdempotencyConnector)

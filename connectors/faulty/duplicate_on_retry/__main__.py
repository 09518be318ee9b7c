"""`python -m connectors.faulty.duplicate_on_retry`: the reference connector, one defect added."""

from connectors.faulty.duplicate_on_retry import DuplicateOnRetryMapper
from connectors.reference.connector import main

if __name__ == "__main__":
    main(DuplicateOnRetryMapper())

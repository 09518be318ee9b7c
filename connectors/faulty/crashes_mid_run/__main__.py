"""`python -m connectors.faulty.crashes_mid_run`: the reference connector that dies mid-run."""

from connectors.faulty.crashes_mid_run import CrashesMidRunMapper
from connectors.reference.connector import main

if __name__ == "__main__":
    main(CrashesMidRunMapper())

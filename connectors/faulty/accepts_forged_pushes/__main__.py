"""`python -m connectors.faulty.accepts_forged_pushes`: the reference connector, one defect."""

from connectors.faulty.accepts_forged_pushes import AcceptsForgedPushes
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=AcceptsForgedPushes)

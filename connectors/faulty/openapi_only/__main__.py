"""`python -m connectors.faulty.openapi_only`: the reference connector with one defect."""

from connectors.faulty.openapi_only import OpenapiOnlyConnector
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=OpenapiOnlyConnector)

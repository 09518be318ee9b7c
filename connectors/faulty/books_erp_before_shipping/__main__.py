"""`python -m connectors.faulty.books_erp_before_shipping`: the reference connector, one defect."""

from connectors.faulty.books_erp_before_shipping import BooksErpBeforeShipping
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=BooksErpBeforeShipping)

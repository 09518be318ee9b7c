"""`python -m connectors.faulty.books_rejected_payments`: the reference connector, one defect."""

from connectors.faulty.books_rejected_payments import BooksRejectedPayments
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=BooksRejectedPayments)

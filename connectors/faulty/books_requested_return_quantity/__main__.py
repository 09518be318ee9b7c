"""`python -m connectors.faulty.books_requested_return_quantity`: the reference connector, one
defect added."""

from connectors.faulty.books_requested_return_quantity import BooksRequestedReturnQuantity
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=BooksRequestedReturnQuantity)

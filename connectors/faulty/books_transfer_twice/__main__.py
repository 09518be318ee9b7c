"""`python -m connectors.faulty.books_transfer_twice`: the reference connector, one defect
added."""

from connectors.faulty.books_transfer_twice import BooksTransferTwice
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=BooksTransferTwice)

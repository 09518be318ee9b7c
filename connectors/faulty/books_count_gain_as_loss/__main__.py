"""`python -m connectors.faulty.books_count_gain_as_loss`: the reference connector, one
defect added."""

from connectors.faulty.books_count_gain_as_loss import BooksCountGainAsLoss
from connectors.reference.connector import main

if __name__ == "__main__":
    main(connector=BooksCountGainAsLoss)
